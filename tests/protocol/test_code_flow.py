"""Authorization code flow with PKCE, through Authlib's client against a real server,
on PostgreSQL and SQLite (the `world` fixture is per backend)."""

import httpx

from tests.protocol.conftest import Browser, callback_params, decode_jwt
from tests.protocol.rp import authorize_url, login, rp_client, token_post


def test_discovery_is_complete_and_truthful(world):
    meta = httpx.get(f"{world.base}/.well-known/openid-configuration").json()
    assert meta["issuer"] == world.base
    for ep in ("authorization", "token", "userinfo", "revocation", "introspection", "end_session"):
        assert meta[f"{ep}_endpoint"].startswith(world.base)
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["response_types_supported"] == ["code"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert meta["backchannel_logout_supported"] is meta["backchannel_logout_session_supported"]
    assert meta["acr_values_supported"] == ["urn:govid:acr:1", "urn:govid:acr:2"]
    assert "password" not in meta["grant_types_supported"]
    assert "implicit" not in meta["grant_types_supported"]
    assert {"sub", "email", "agency", "acr"} <= set(meta["claims_supported"])
    # Every advertised endpoint answers (no dead links in the metadata).
    assert httpx.get(meta["jwks_uri"]).status_code == 200


def test_discovery_and_jwks_revalidate_with_their_etag(world):
    # A cache or an RP that kept the document asks again with If-None-Match: 304, no
    # body, the same ETag; the edge's headers (request id, CSP, CORS) on both answers.
    for path in ("/.well-known/openid-configuration", "/jwks"):
        first = httpx.get(f"{world.base}{path}")
        etag = first.headers["etag"]
        assert first.status_code == 200 and etag.startswith('"') and first.json()
        again = httpx.get(f"{world.base}{path}", headers={"If-None-Match": f'"x", W/{etag}'})
        assert again.status_code == 304 and again.content == b""
        assert again.headers["etag"] == etag
        assert again.headers["cache-control"] == first.headers["cache-control"]
        for r in (first, again):
            assert r.headers["x-request-id"] and r.headers["content-security-policy"]
            assert r.headers["access-control-allow-origin"] == "*"
        stale = httpx.get(f"{world.base}{path}", headers={"If-None-Match": '"other"'})
        assert stale.status_code == 200 and stale.content == first.content


def test_full_login_id_token_userinfo_refresh_revoke(world):
    lg = login(world)
    assert lg.params["iss"] == world.base  # RFC 9207
    tok = lg.token
    assert tok["token_type"].lower() == "bearer" and tok["refresh_token"] and tok["id_token"]
    header, idt = decode_jwt(world.base, tok["id_token"])
    assert header["alg"] == "RS256" and header["kid"]
    client_id = world.client("web")["client_id"]
    assert idt["iss"] == world.base and idt["aud"] == client_id
    assert idt["nonce"] == lg.nonce
    assert idt["acr"] == "urn:govid:acr:1" and idt["amr"] == ["pwd"]
    assert idt["sid"] and abs(idt["auth_time"] - world.clock.time()) < 60
    assert idt["exp"] > world.clock.time() and "at_hash" in idt
    # RFC 9068 access token.
    at_header, at = decode_jwt(world.base, tok["access_token"])
    assert at_header["typ"] == "at+jwt" and at_header["alg"] == "ES256"  # our audience, our choice
    assert at["client_id"] == client_id and at["sub"] == idt["sub"] and at["jti"]
    assert at["acr"] == idt["acr"] and at["auth_time"] == idt["auth_time"]

    info = lg.rp.get(f"{world.base}/userinfo").json()
    assert info["sub"] == idt["sub"]
    assert info["email"] == world.users["alice"] and info["email_verified"] is True
    assert info["agency"]["name_en"] == "Test Department"
    assert info["agency_path"][-1] == info["agency"]["code"] and len(info["agency_path"]) == 2
    assert info["roles"] == ["agency_admin"] and info["name#th"].startswith("ทดสอบ")
    assert "citizen_id" not in info  # needs its scope, an allowed client and level 2
    # POST with the token in the body works too (RFC 6750 §2.2).
    r = httpx.post(f"{world.base}/userinfo", data={"access_token": tok["access_token"]})
    assert r.status_code == 200 and r.json()["sub"] == idt["sub"]

    # Refresh: rotation, narrowing only.
    new = lg.rp.refresh_token(
        f"{world.base}/token", refresh_token=tok["refresh_token"], scope="openid email"
    )
    assert new["refresh_token"] != tok["refresh_token"] and new["scope"] == "openid email"
    r = token_post(
        world,
        "web",
        {
            "grant_type": "refresh_token",
            "refresh_token": new["refresh_token"],
            "scope": "openid admin",
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"

    # Revoke the new refresh token: it and its access tokens stop working.
    r = lg.rp.revoke_token(
        f"{world.base}/revoke", token=new["refresh_token"], token_type_hint="refresh_token"
    )
    assert r.status_code == 200
    r = httpx.get(
        f"{world.base}/userinfo", headers={"Authorization": f"Bearer {new['access_token']}"}
    )
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]


def test_refresh_token_reuse_revokes_the_family(world):
    lg = login(world, user="bob")
    first = lg.token["refresh_token"]
    second = lg.rp.refresh_token(f"{world.base}/token", refresh_token=first)
    # The old one comes back (stolen copy): rejected, and the family dies.
    r = token_post(world, "web", {"grant_type": "refresh_token", "refresh_token": first})
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": second["refresh_token"]}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    r = httpx.get(
        f"{world.base}/userinfo", headers={"Authorization": f"Bearer {second['access_token']}"}
    )
    assert r.status_code == 401


def test_code_is_single_use_and_replay_revokes_tokens(world):
    rp = rp_client(world)
    browser = Browser(world.base)
    url, verifier, _nonce, _state = authorize_url(world, rp)
    params = callback_params(browser.login(browser.go(url), world.users["carol"]))
    tok = rp.fetch_token(f"{world.base}/token", code=params["code"], code_verifier=verifier)
    r = token_post(
        world,
        "web",
        {
            "grant_type": "authorization_code",
            "code": params["code"],
            "code_verifier": verifier,
            "redirect_uri": rp.redirect_uri,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"
    assert r.headers["cache-control"] == "no-store"
    r = httpx.get(
        f"{world.base}/userinfo", headers={"Authorization": f"Bearer {tok['access_token']}"}
    )
    assert r.status_code == 401
    r = token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": tok["refresh_token"]}
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_single_sign_on_second_app_needs_no_password(world):
    first = login(world, user="alice")
    rp = rp_client(world, "es")
    url, verifier, _n, _s = authorize_url(world, rp)
    r = first.browser.go(url)
    params = callback_params(r)  # straight back: no login page
    tok = rp.fetch_token(f"{world.base}/token", code=params["code"], code_verifier=verifier)
    header, idt = decode_jwt(world.base, tok["id_token"])
    assert header["alg"] == "ES256"  # per-client ID token algorithm
    _, first_idt = decode_jwt(world.base, first.token["id_token"])
    assert idt["sid"] == first_idt["sid"] and idt["sub"] == first_idt["sub"]


def test_token_response_headers(world):
    lg = login(world, user="carol")
    r = token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": lg.token["refresh_token"]}
    )
    assert r.status_code == 200
    assert r.headers["cache-control"] == "no-store"
    assert r.headers["access-control-allow-origin"] == "*"
