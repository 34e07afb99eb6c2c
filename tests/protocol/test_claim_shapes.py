"""What a relying party reads (issue 16, items 4-6): each claim has one shape wherever it
appears (ID token, userinfo, access token, introspection), names fall back together,
discovery is served at both well-known URLs, and a client's own ID token algorithm and
refresh token lifetime hold end to end."""

from __future__ import annotations

import json
import uuid

import httpx
import pytest

from idp.accounts import service as accounts
from idp.clients import service as clients
from tests.protocol.conftest import PASSWORD, REDIRECT, World, decode_jwt
from tests.protocol.rp import login

NAME_CLAIMS = ("name", "given_name", "family_name")


def suffix(world: World) -> str:
    return world.client("web")["client_id"].rsplit("-", 1)[1]


def new_client(world: World, **kw) -> str:
    name = f"c{uuid.uuid4().hex[:8]}"
    with world.services.sessions.begin() as db:
        c, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"d-{suffix(world)}",
                name_th="แอป",
                name_en="App",
                client_id=f"{name}-{suffix(world)}",
                redirect_uris=(REDIRECT,),
                first_party=True,
                **kw,
            ),
        )
    world.clients[name] = {"client_id": c.client_id, "secret": secret}
    return name


@pytest.fixture
def english_only(world: World) -> str:
    """A person whose record has English names only (as many imported accounts do),
    with the default locale th."""
    email = f"eng-{uuid.uuid4().hex[:6]}@{suffix(world)}.go.th"
    with world.services.sessions.begin() as db:
        accounts.create(
            db,
            accounts.NewAccount(
                email=email,
                agency_code=f"d-{suffix(world)}",
                given_name_en="Somchai",
                family_name_en="Jaidee",
                password=PASSWORD,
            ),
            hasher=world.services.hasher,
            cipher=world.services.cipher,
        )
    world.users[email] = email
    return email


def test_names_fall_back_together_for_english_only_accounts(world, english_only):
    asked = {"id_token": {c: None for c in NAME_CLAIMS}}
    lg = login(world, user=english_only, claims=json.dumps(asked))
    _, idt = decode_jwt(world.base, lg.token["id_token"])
    info = httpx.get(
        f"{world.base}/userinfo",
        headers={"Authorization": f"Bearer {lg.token['access_token']}"},
    ).json()
    want = {"name": "Somchai Jaidee", "given_name": "Somchai", "family_name": "Jaidee"}
    assert {c: info.get(c) for c in NAME_CLAIMS} == want
    assert {c: idt.get(c) for c in NAME_CLAIMS} == want
    assert "given_name#th" not in info and info["given_name#en"] == "Somchai"


def test_names_of_a_thai_locale_account_are_all_thai(world):
    lg = login(world, user="bob")  # locale th, names in both languages
    info = httpx.get(
        f"{world.base}/userinfo",
        headers={"Authorization": f"Bearer {lg.token['access_token']}"},
    ).json()
    assert info["given_name"] == "ทดสอบ" and info["family_name"] == "bob"
    assert info["name"] == "ทดสอบ bob"


def test_agency_is_one_object_in_id_token_userinfo_access_token_and_introspection(world):
    lg = login(world, user="carol", claims=json.dumps({"id_token": {"agency": None}}))
    _, idt = decode_jwt(world.base, lg.token["id_token"])
    _, at = decode_jwt(world.base, lg.token["access_token"])
    info = httpx.get(
        f"{world.base}/userinfo",
        headers={"Authorization": f"Bearer {lg.token['access_token']}"},
    ).json()
    c = world.client("web")
    intro = httpx.post(
        f"{world.base}/introspect",
        data={"token": lg.token["access_token"]},
        auth=(c["client_id"], c["secret"]),
    ).json()
    intro_rt = httpx.post(
        f"{world.base}/introspect",
        data={"token": lg.token["refresh_token"]},
        auth=(c["client_id"], c["secret"]),
    ).json()
    agency = info["agency"]
    assert set(agency) == {"id", "code", "name_th", "name_en"}
    assert agency["code"] == f"d-{suffix(world)}" and agency["name_en"] == "Test Department"
    assert idt["agency"] == agency
    assert at["agency"] == agency
    assert intro["active"] is True and intro["agency"] == agency
    assert intro_rt["active"] is True and intro_rt["agency"] == agency


def test_discovery_at_both_well_known_urls(world):
    oidc = httpx.get(f"{world.base}/.well-known/openid-configuration")
    oauth = httpx.get(
        f"{world.base}/.well-known/oauth-authorization-server",
        headers={"Origin": "https://spa.example.go.th"},
    )
    assert oauth.status_code == 200 and oauth.headers["content-type"] == "application/json"
    # RFC 8414 §3.3: the issuer is the one the URL was built from; §4: consistent.
    assert oauth.json() == oidc.json() and oauth.json()["issuer"] == world.base
    assert oauth.headers["access-control-allow-origin"] == "*"
    meta = oidc.json()
    assert "userinfo_signing_alg_values_supported" not in meta
    assert {"RS256", "ES256"} <= set(meta["id_token_signing_alg_values_supported"])
    for endpoint in ("revocation", "introspection"):
        # RFC 8414 §2: private_key_jwt is offered, so the algorithms must be listed.
        assert "private_key_jwt" in meta[f"{endpoint}_endpoint_auth_methods_supported"]
        assert meta[f"{endpoint}_endpoint_auth_signing_alg_values_supported"] == [
            "RS256",
            "ES256",
        ]


def test_a_client_registered_for_es256_gets_es256_id_tokens_that_verify(world):
    name = new_client(world, id_token_signed_response_alg="ES256")
    lg = login(world, user="dave", name=name)
    header, idt = decode_jwt(world.base, lg.token["id_token"])  # verified with /jwks
    assert header["alg"] == "ES256" and header["kid"]
    jwk = next(
        k for k in httpx.get(f"{world.base}/jwks").json()["keys"] if k["kid"] == header["kid"]
    )
    assert jwk["kty"] == "EC" and idt["aud"] == world.client(name)["client_id"]
    assert idt["nonce"] == lg.nonce


def test_a_client_refresh_token_lifetime_is_honoured(world):
    name = new_client(world, refresh_token_ttl=600, access_token_ttl=120)
    lg = login(world, user="erin", name=name)
    assert lg.token["expires_in"] == 120
    c = world.client(name)
    intro = httpx.post(
        f"{world.base}/introspect",
        data={"token": lg.token["refresh_token"]},
        auth=(c["client_id"], c["secret"]),
    ).json()
    assert intro["active"] is True
    assert abs(intro["exp"] - (world.clock.time() + 600)) < 30  # the server's time
