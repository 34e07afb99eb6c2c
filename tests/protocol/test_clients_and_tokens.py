"""Client authentication methods, client_credentials, introspection and revocation."""

import time
import uuid

import httpx
from joserfc import jwt

from tests.protocol.conftest import PUBLIC_REDIRECT, Browser, callback_params, decode_jwt
from tests.protocol.rp import authorize_url, login, rp_client, token_post


def test_client_credentials_gives_an_access_token_only(world):
    r = token_post(
        world, "machine", {"grant_type": "client_credentials", "scope": "admin:accounts openid"}
    )
    assert r.status_code == 200, r.text
    body = r.json()
    assert "id_token" not in body and "refresh_token" not in body
    assert body["scope"] == "admin:accounts"  # openid never for machines
    _, at = decode_jwt(world.base, body["access_token"])
    assert at["sub"] == at["client_id"] == world.client("machine")["client_id"]
    assert "acr" not in at and "auth_time" not in at
    # A machine token is no good at userinfo.
    r = httpx.get(
        f"{world.base}/userinfo", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert r.status_code == 403


def test_client_credentials_refused_for_clients_without_it(world):
    r = token_post(world, "web", {"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"
    r = token_post(world, "spa", {"grant_type": "client_credentials"})
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


def test_password_and_implicit_grants_are_not_offered(world):
    r = token_post(world, "web", {"grant_type": "password", "username": "a", "password": "b"})
    assert r.status_code == 400 and r.json()["error"] == "unsupported_grant_type"


def test_wrong_secret_and_wrong_method_fail(world):
    cid = world.client("web")["client_id"]
    r = httpx.post(
        f"{world.base}/token", data={"grant_type": "client_credentials"}, auth=(cid, "wrong")
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"
    # Registered for basic: the same secret in the body is refused.
    r = httpx.post(
        f"{world.base}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_id": cid,
            "client_secret": world.client("web")["secret"],
        },
    )
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


def test_public_client_with_pkce(world):
    rp = rp_client(world, "spa", redirect_uri=PUBLIC_REDIRECT)
    b = Browser(world.base)
    url, verifier, _n, _s = authorize_url(world, rp)
    p = callback_params(b.login(b.go(url), world.users["bob"]))
    # Missing verifier, wrong verifier: refused, and the code is burnt.
    r = token_post(
        world,
        "spa",
        {"grant_type": "authorization_code", "code": p["code"], "redirect_uri": PUBLIC_REDIRECT},
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    url, verifier, _n, _s = authorize_url(world, rp)
    p = callback_params(b.go(url))
    r = token_post(
        world,
        "spa",
        {
            "grant_type": "authorization_code",
            "code": p["code"],
            "redirect_uri": PUBLIC_REDIRECT,
            "code_verifier": "x" * 50,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    url, verifier, _n, _s = authorize_url(world, rp)
    p = callback_params(b.go(url))
    tok = rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)
    assert tok["access_token"] and tok["id_token"]


def test_verifier_without_challenge_is_rejected(world):
    rp = rp_client(world, "web")
    b = Browser(world.base)
    lg = login(world, user="bob", browser=b)
    assert lg.token
    url, _v, _n, _s = authorize_url(world, rp)
    url = url.split("&code_challenge=")[0]  # a confidential client may skip PKCE...
    p = callback_params(b.go(url))
    r = token_post(
        world,
        "web",
        {
            "grant_type": "authorization_code",
            "code": p["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": "v" * 50,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"  # ...but not half


def test_code_of_another_client_is_invalid(world):
    lg_b = Browser(world.base)
    rp = rp_client(world, "web")
    url, verifier, _n, _s = authorize_url(world, rp)
    p = callback_params(lg_b.login(lg_b.go(url), world.users["carol"]))
    r = token_post(
        world,
        "es",
        {
            "grant_type": "authorization_code",
            "code": p["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    # The rightful client can still redeem it.
    assert rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)


def test_refresh_token_of_another_client_is_invalid(world):
    lg = login(world, user="carol")
    r = token_post(
        world, "es", {"grant_type": "refresh_token", "refresh_token": lg.token["refresh_token"]}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def _assertion(world, **over):
    c = world.client("pkjwt")
    now = int(time.time())
    claims = {
        "iss": c["client_id"],
        "sub": c["client_id"],
        "aud": f"{world.base}/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
    }
    claims.update(over)
    return jwt.encode({"alg": "RS256", "kid": "rp-1"}, claims, world.rp_key)


def test_private_key_jwt_with_replay_protection(world):
    rp = rp_client(world, "pkjwt")
    b = Browser(world.base)
    url, verifier, _n, _s = authorize_url(world, rp)
    p = callback_params(b.login(b.go(url), world.users["alice"]))
    assertion = _assertion(world)
    data = {
        "grant_type": "authorization_code",
        "code": p["code"],
        "redirect_uri": rp.redirect_uri,
        "code_verifier": verifier,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        "client_assertion": assertion,
    }
    r = httpx.post(f"{world.base}/token", data=data)
    assert r.status_code == 200, r.text
    # The same assertion again (jti replay) is refused.
    r = httpx.post(
        f"{world.base}/token",
        data={**data, "grant_type": "refresh_token", "refresh_token": r.json()["refresh_token"]},
    )
    assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client"


def test_private_key_jwt_wrong_audience_or_expired(world):
    for bad in ({"aud": "https://elsewhere.example/token"}, {"exp": int(time.time()) - 600}):
        data = {
            "grant_type": "refresh_token",
            "refresh_token": "x",
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": _assertion(world, **bad),
        }
        r = httpx.post(f"{world.base}/token", data=data)
        assert r.status_code in (400, 401) and r.json()["error"] == "invalid_client", bad


def test_introspection_reports_acr_and_scopes_its_answers(world):
    lg = login(world, user="alice")
    at, rt = lg.token["access_token"], lg.token["refresh_token"]
    r = token_post(world, "web", {"token": at}, path="/introspect")
    body = r.json()
    assert body["active"] is True and body["acr"] == "urn:govid:acr:1"
    assert body["auth_time"] and body["client_id"] == world.client("web")["client_id"]
    r = token_post(
        world, "web", {"token": rt, "token_type_hint": "refresh_token"}, path="/introspect"
    )
    assert r.json()["active"] is True and r.json()["token_type"] == "refresh_token"
    # Another client does not see it, nor does a resource server: an API sees only the
    # tokens issued for it (RFC 7662 §4; tests/protocol/test_api_resources.py).
    assert token_post(world, "machine", {"token": at}, path="/introspect").json() == {
        "active": False
    }
    assert token_post(world, "rs", {"token": at}, path="/introspect").json() == {"active": False}
    # Public clients cannot introspect; garbage is simply inactive.
    r = token_post(world, "spa", {"token": at}, path="/introspect")
    assert r.status_code in (400, 401)
    assert token_post(world, "web", {"token": "garbage"}, path="/introspect").json() == {
        "active": False
    }
    # Revoked access token: inactive, userinfo refuses it.
    assert token_post(world, "web", {"token": at}, path="/revoke").status_code == 200
    assert token_post(world, "web", {"token": at}, path="/introspect").json() == {"active": False}
    r = httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at}"})
    assert r.status_code == 401


def test_tampered_tokens_are_rejected(world):
    lg = login(world, user="bob")
    at = lg.token["access_token"]
    head, payload, sig = at.split(".")
    for bad in (
        f"{head}.{payload}.{sig[:-4]}AAAA",
        f"{head}.{payload}.",
        "eyJhbGciOiJub25lIiwidHlwIjoiYXQrand0In0." + payload + ".",
        lg.token["id_token"],
    ):  # an ID token is not an access token
        r = httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {bad}"})
        assert r.status_code == 401, bad[:30]
    r = httpx.get(f"{world.base}/userinfo?access_token={at}")
    assert r.status_code == 400  # never in the URL
    r = httpx.get(f"{world.base}/userinfo")
    assert r.status_code == 401 and r.headers["www-authenticate"].startswith("Bearer")


def test_tokens_of_a_disabled_client_stop_working(world):
    from sqlalchemy import update

    from idp.clients.models import Client

    r = token_post(world, "machine", {"grant_type": "client_credentials"})
    at = r.json()["access_token"]
    cid = world.client("machine")["client_id"]
    assert token_post(world, "machine", {"token": at}, path="/introspect").json()["active"] is True
    with world.services.sessions.begin() as db:
        db.execute(update(Client).where(Client.client_id == cid).values(status="disabled"))
    try:
        # Checked against the database wherever the token is used (here the admin API;
        # introspection by an API: tests/protocol/test_api_resources.py).
        r = httpx.get(f"{world.base}/admin/v1/agencies", headers={"Authorization": f"Bearer {at}"})
        assert r.status_code == 401
    finally:
        with world.services.sessions.begin() as db:
            db.execute(update(Client).where(Client.client_id == cid).values(status="active"))
