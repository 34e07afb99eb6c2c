"""Refresh and resource-server reads after issue 22: a refresh's audit event goes through
the group-commit writer (not the chain lock in the refresh's own transaction), yet every
refreshed token is audited before it arrives; a refresh token used many times at once
is rotated once and its family revoked; userinfo and introspection (reads, no
transaction) see a revocation at once."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
from sqlalchemy import select

from idp.audit.models import AuditEvent
from tests.protocol.rp import login, token_post
from tests.protocol.test_token_fast_path import (
    assert_chain_intact,
    issued_events,
    unverified_claims,
)


def refresh(world, rt: str) -> httpx.Response:
    return token_post(world, "web", {"grant_type": "refresh_token", "refresh_token": rt})


def userinfo(world, at: str) -> httpx.Response:
    return httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at}"})


def introspect(world, token: str) -> dict:
    r = token_post(world, "web", {"token": token}, path="/introspect")
    assert r.status_code == 200, r.text
    return r.json()


def test_every_refreshed_token_is_audited_before_it_arrives(world):
    cid = world.client("web")["client_id"]
    rt = login(world).token["refresh_token"]
    for _ in range(5):
        r = refresh(world, rt)
        assert r.status_code == 200, r.text
        body = r.json()
        jti = unverified_claims(body["access_token"])["jti"]
        found = [e for e in issued_events(world, cid) if e.details.get("jti") == jti]
        assert len(found) == 1, "a refreshed token arrived before its audit event"
        assert found[0].details["grant_type"] == "refresh_token"
        assert found[0].details["refresh"] is True
        assert userinfo(world, body["access_token"]).status_code == 200
        assert introspect(world, body["access_token"])["active"] is True
        assert refresh(world, rt).status_code == 400  # the old one is rotated out
        rt = login(world).token["refresh_token"]  # the reuse revoked that family
    assert_chain_intact(world)


def test_one_refresh_token_used_at_once_rotates_once_and_revokes_the_family(world):
    lg = login(world)
    cid = world.client("web")["client_id"]
    rt = lg.token["refresh_token"]
    n = 8
    barrier = threading.Barrier(n)

    def one(_i: int) -> httpx.Response:
        barrier.wait()
        return refresh(world, rt)

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))
    ok = [r for r in responses if r.status_code == 200]
    assert len(ok) == 1, [r.text for r in responses]
    refused = [(r.status_code, r.text) for r in responses if r.status_code != 200]
    assert all(code == 400 and '"invalid_grant"' in body for code, body in refused), refused
    won = ok[0].json()
    jti = unverified_claims(won["access_token"])["jti"]
    assert [e for e in issued_events(world, cid) if e.details.get("jti") == jti]
    # The reuse revoked the whole family: the winner's tokens stop working at once.
    assert refresh(world, won["refresh_token"]).status_code == 400
    assert userinfo(world, won["access_token"]).status_code == 401
    assert introspect(world, won["access_token"]) == {"active": False}
    assert_chain_intact(world)


def test_families_refreshed_at_once_each_rotate_once_and_a_reuse_is_audited(world):
    """Several families refreshed at the same moment (on PostgreSQL their rotations share
    group commits, decision 0026): each is rotated once and its token audited once;
    each old token presented again then revokes its own family, with an audit event."""
    cid = world.client("web")["client_id"]
    olds = [login(world).token["refresh_token"] for _ in range(6)]
    barrier = threading.Barrier(len(olds))

    def one(rt: str) -> httpx.Response:
        barrier.wait()
        return refresh(world, rt)

    with ThreadPoolExecutor(len(olds)) as pool:
        responses = list(pool.map(one, olds))
    assert [r.status_code for r in responses] == [200] * len(olds), [r.text for r in responses]
    issued = [e.details.get("jti") for e in issued_events(world, cid)]
    jtis = [unverified_claims(r.json()["access_token"])["jti"] for r in responses]
    assert all(issued.count(jti) == 1 for jti in jtis)
    for old, r in zip(olds, responses, strict=True):
        assert refresh(world, old).status_code == 400  # reuse
        assert userinfo(world, r.json()["access_token"]).status_code == 401
        assert refresh(world, r.json()["refresh_token"]).status_code == 400
    with world.services.sessions() as db:
        reused = db.scalars(
            select(AuditEvent).where(
                AuditEvent.type == "oidc.refresh.reused", AuditEvent.client_id == cid
            )
        ).all()
    grants = {jti.split(".")[0] for jti in jtis}
    assert grants <= {e.details["grant"] for e in reused}
    assert_chain_intact(world)


def test_revocation_is_visible_at_userinfo_and_introspection_at_once(world):
    lg = login(world)
    at, rt = lg.token["access_token"], lg.token["refresh_token"]
    assert userinfo(world, at).status_code == 200
    assert introspect(world, at)["active"] is True
    r = token_post(world, "web", {"token": at, "token_type_hint": "access_token"}, "/revoke")
    assert r.status_code == 200
    assert userinfo(world, at).status_code == 401
    assert introspect(world, at) == {"active": False}
    # Revoking the refresh token ends the grant: its new access token stops too.
    fresh = refresh(world, rt).json()
    assert userinfo(world, fresh["access_token"]).status_code == 200
    r = token_post(world, "web", {"token": fresh["refresh_token"]}, "/revoke")
    assert r.status_code == 200
    assert userinfo(world, fresh["access_token"]).status_code == 401
    assert introspect(world, fresh["access_token"]) == {"active": False}


def test_introspection_with_private_key_jwt_still_records_the_assertion(world):
    """Introspection is a read, except for private_key_jwt's replay cache: that request
    keeps a transaction, so the assertion's jti is remembered and a replay refused."""
    from tests.protocol.test_token_fast_path import (
        ASSERTION_TYPE,
        assertion_for,
        cc_token,
        register,
    )

    jwks = {"keys": [world.rp_key.as_dict(private=False)]}
    cid, _ = register(world, auth_method="private_key_jwt", jwks=jwks)
    other, secret = register(world)
    at = cc_token(world, other, secret).json()["access_token"]
    own = httpx.post(
        f"{world.base}/token",
        data={
            "grant_type": "client_credentials",
            "client_assertion_type": ASSERTION_TYPE,
            "client_assertion": assertion_for(world, cid),
        },
    ).json()["access_token"]
    assertion = assertion_for(world, cid)

    def ask(token: str, a: str) -> httpx.Response:
        data = {"token": token, "client_assertion_type": ASSERTION_TYPE, "client_assertion": a}
        return httpx.post(f"{world.base}/introspect", data=data)

    r = ask(own, assertion)
    assert r.status_code == 200 and r.json()["active"] is True, r.text
    assert ask(own, assertion).status_code == 401  # the same assertion again: replay
    # Another client's token: not shown (RFC 7662 §4).
    r = ask(at, assertion_for(world, cid))
    assert r.status_code == 200 and r.json() == {"active": False}
