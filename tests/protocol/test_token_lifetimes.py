"""Token lifetimes are counted on the server's Clock (DESIGN rule 4): the test moves the
server's time (``world.clock.advance``) and sees what a relying party would see when
that much time had passed: an idle refresh token dies, an access token expires at
userinfo, introspection and the admin API, and the ID token's times are the server's."""

from __future__ import annotations

import httpx

from tests.protocol.conftest import World, decode_jwt
from tests.protocol.rp import login, token_post
from tests.protocol.test_claim_shapes import new_client


def _refresh(world: World, name: str, token: str) -> httpx.Response:
    return token_post(world, name, {"grant_type": "refresh_token", "refresh_token": token})


def test_a_refresh_token_lives_while_used_and_dies_idle(world):
    name = new_client(world, refresh_token_ttl=300)  # five minutes idle at most
    lg = login(world, user="dave", name=name)
    assert lg.token["refresh_token"]
    world.clock.advance(200)
    r = _refresh(world, name, lg.token["refresh_token"])
    assert r.status_code == 200, r.text  # used within its five minutes
    rotated = r.json()["refresh_token"]
    world.clock.advance(200)  # 400 s after sign-in, 200 s after the last use
    r = _refresh(world, name, rotated)
    assert r.status_code == 200, r.text  # each use starts its five minutes again
    idle = r.json()["refresh_token"]
    world.clock.advance(301)  # left alone longer than five minutes
    r = _refresh(world, name, idle)
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    c = world.client(name)
    intro = httpx.post(
        f"{world.base}/introspect", data={"token": idle}, auth=(c["client_id"], c["secret"])
    ).json()
    assert intro == {"active": False}


def test_an_access_token_expires_on_the_servers_clock_everywhere_it_is_read(world):
    name = new_client(world, access_token_ttl=120)
    lg = login(world, user="dave", name=name)
    at, c = lg.token["access_token"], world.client(name)
    _h, claims = decode_jwt(world.base, at)
    now = world.clock.time()
    assert abs(claims["iat"] - now) < 5 and claims["exp"] == claims["iat"] + 120
    _h, idt = decode_jwt(world.base, lg.token["id_token"])
    assert abs(idt["iat"] - now) < 5 and idt["exp"] == idt["iat"] + 600

    def reads() -> tuple[int, bool]:
        info = httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at}"})
        intro = httpx.post(
            f"{world.base}/introspect", data={"token": at}, auth=(c["client_id"], c["secret"])
        ).json()
        return info.status_code, intro["active"]

    assert reads() == (200, True)
    world.clock.advance(60)
    assert reads() == (200, True)  # half its life: still good
    world.clock.advance(61)
    assert reads() == (401, False)  # past exp by the server's clock
