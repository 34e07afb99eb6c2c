"""What the token, revocation and introspection endpoints refuse (RFC 6749 §2.3, §3.2,
§4.4, §5.2; RFC 7009; RFC 7523; RFC 7662): found by a black-box audit, kept here."""

import base64
import time
import uuid

import httpx
from joserfc import jwt
from sqlalchemy import select

from tests.protocol.rp import login, token_post
from tests.protocol.test_clients_and_tokens import _assertion

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def test_client_credentials_never_grants_unregistered_scopes(world):
    # "machine" is registered for admin:accounts only.
    for scope in ("admin:clients", "admin:accounts scim", "email"):
        r = token_post(world, "machine", {"grant_type": "client_credentials", "scope": scope})
        assert r.status_code == 400 and r.json()["error"] == "invalid_scope", scope
        assert r.headers["cache-control"] == "no-store"
    r = token_post(
        world, "machine", {"grant_type": "client_credentials", "scope": "admin:accounts"}
    )
    assert r.status_code == 200 and r.json()["scope"] == "admin:accounts"


def test_private_key_jwt_for_a_client_without_keys_is_invalid_client_not_a_crash(world):
    web = world.client("web")  # authenticates with a secret: no registered keys
    now = int(time.time())
    claims = {"iss": web["client_id"], "sub": web["client_id"], "aud": f"{world.base}/token"}
    claims.update(iat=now, exp=now + 60, jti=uuid.uuid4().hex)
    assertion = jwt.encode({"alg": "RS256", "kid": "rp-1"}, claims, world.rp_key)
    data = {"client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    for path, body in (
        ("/token", {"grant_type": "client_credentials"}),
        ("/revoke", {"token": "x"}),
        ("/introspect", {"token": "x"}),
    ):
        r = httpx.post(f"{world.base}{path}", data={**body, **data})
        assert r.status_code in (400, 401), (path, r.status_code)
        assert r.json()["error"] == "invalid_client" and r.headers["cache-control"] == "no-store"


def test_a_fractional_exp_does_not_shorten_the_jti_memory(world):
    from idp.tokens.models import ReplayEntry

    exp = time.time() + 3600.5
    assertion = _assertion(world, exp=exp)
    data = {"grant_type": "refresh_token", "refresh_token": "x"}
    data.update(client_assertion_type=ASSERTION_TYPE, client_assertion=assertion)
    first = httpx.post(f"{world.base}/token", data=data)
    assert first.json()["error"] == "invalid_grant"  # authenticated; the token is bogus
    replay = httpx.post(f"{world.base}/token", data=data)
    assert replay.json()["error"] == "invalid_client"
    # RFC 7523 §3 item 7: the jti is remembered at least until the assertion expires.
    with world.services.sessions() as db:
        until = max(e.expires_at.timestamp() for e in db.scalars(select(ReplayEntry)))
    assert until >= exp


def test_a_wrong_or_unknown_token_type_hint_does_not_hide_a_token(world):
    lg = login(world, user="erin")
    at = lg.token["access_token"]
    r = token_post(world, "web", {"token": at, "token_type_hint": "foo"}, "/introspect")
    assert r.status_code == 200 and r.json()["active"] is True
    r = token_post(world, "web", {"token": at, "token_type_hint": "refresh_token"}, "/introspect")
    assert r.json()["active"] is True
    r = token_post(world, "web", {"token": at, "token_type_hint": "refresh_token"}, "/revoke")
    assert r.status_code == 200
    assert (
        httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at}"}).status_code
        == 401
    )
    r = token_post(world, "web", {"token": "x", "token_type_hint": "foo"}, "/revoke")
    assert r.status_code == 200


def test_basic_credentials_are_form_urlencoded(world):
    # RFC 6749 §2.3.1 / Appendix B: "+" is a space in the encoded client id and secret.
    from idp.clients import service as clients

    with world.services.sessions.begin() as db:
        c, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=world.clients["web"]["client_id"].replace("web-", "d-"),
                name_th="แอปเว้นวรรค",
                name_en="Spaced",
                client_id=f"sp aced:{uuid.uuid4().hex[:6]}",
                grant_types=("client_credentials",),
                scopes=("admin:accounts",),
            ),
        )
    encoded = c.client_id.replace(" ", "+").replace(":", "%3A")
    header = base64.b64encode(f"{encoded}:{secret}".encode()).decode()
    r = httpx.post(
        f"{world.base}/token",
        data={"grant_type": "client_credentials"},
        headers={"Authorization": f"Basic {header}"},
    )
    assert r.status_code == 200, r.text


def test_repeated_parameters_and_several_credentials_are_invalid_requests(world):
    web = world.client("web")
    r = httpx.post(
        f"{world.base}/token",
        content="grant_type=authorization_code&code=a&code=b&redirect_uri=x",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        auth=(web["client_id"], web["secret"]),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert "code" in r.json()["error_description"]
    r = httpx.post(
        f"{world.base}/token",
        data={
            "grant_type": "client_credentials",
            "client_id": web["client_id"],
            "client_secret": web["secret"],
        },
        auth=(web["client_id"], web["secret"]),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_request"
    assert r.headers["cache-control"] == "no-store"
