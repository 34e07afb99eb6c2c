"""API resources (RFC 8707) against the real server: `resource` at /authorize and /token
selects an agency API, the access token names it in `aud` and carries only its scopes,
and the API introspects the tokens issued for it and nothing else (RFC 7662 §2.1)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.clients import service as clients
from idp.resources import registration
from tests.protocol.conftest import REDIRECT, Browser, callback_params, decode_jwt
from tests.protocol.rp import authorize_url, rp_client, token_post


@dataclass
class Apis:
    pop: str  # identifier
    tax: str
    far: str  # another ministry's API, not shared
    u: str
    pop_client: dict  # its introspection credentials
    tax_client: dict

    def s(self, api: str, scope: str) -> str:
        return f"{api}-{self.u}:{scope}"


@pytest.fixture(scope="module")
def apis(world) -> Apis:
    u = world.users["alice"].split("@")[1].removesuffix(".go.th")
    dept = f"d-{u}"
    ids = {n: f"https://{n}-{u}.example.go.th/" for n in ("pop", "tax", "far")}
    creds = {}
    with world.services.sessions.begin() as db:
        from idp.agencies import service as agencies

        agencies.create(
            db, agencies.NewAgency(code=f"far-{u}", name_th="กระทรวงอื่น", name_en="Far Ministry")
        )
        for name, agency in (("pop", dept), ("tax", dept), ("far", f"far-{u}")):
            api, secret = registration.create(
                db,
                registration.NewApi(
                    agency_code=agency,
                    identifier=ids[name],
                    name_th=f"ระบบทะเบียน {name}",
                    name_en=f"Registry {name}",
                    scopes=(f"{name}-{u}:read", f"{name}-{u}:write"),
                ),
                issuer=world.base,
                actor="test",
            )
            creds[name] = {"client_id": api.client_id, "secret": secret}

        def reg(name: str, **kw) -> None:
            c, secret = clients.create(
                db,
                clients.NewClient(
                    agency_code=dept,
                    name_th=f"แอป {name}",
                    name_en=f"App {name}",
                    client_id=f"{name}-{u}",
                    **kw,
                ),
            )
            world.clients[name] = {"client_id": c.client_id, "secret": secret, **kw}

        reg(
            "apiweb",
            redirect_uris=(REDIRECT,),
            first_party=True,
            grant_types=("authorization_code", "refresh_token"),
            scopes=("openid", "profile", f"pop-{u}:read", f"pop-{u}:write", f"tax-{u}:read"),
        )
        reg(
            "apimachine",
            grant_types=("client_credentials",),
            scopes=(f"pop-{u}:read", f"pop-{u}:write"),
        )
    for name in ("pop", "tax", "far"):
        world.clients[f"{name}-api"] = creds[name]
    return Apis(ids["pop"], ids["tax"], ids["far"], u, creds["pop"], creds["tax"])


def cc(world, data: dict) -> httpx.Response:
    return token_post(world, "apimachine", {"grant_type": "client_credentials", **data})


def introspect(world, who: str, token: str) -> dict:
    r = token_post(world, who, {"token": token}, path="/introspect")
    assert r.status_code == 200, r.text
    return r.json()


def sign_in(world, apis: Apis, scope: str, name: str = "apiweb", **extra):
    """A code for `name` with the authorization request's extra parameters."""
    rp = rp_client(world, name, scope=scope)
    url, verifier, *_ = authorize_url(world, rp, **extra)
    b = Browser(world.base)
    page = b.go(url)
    if 'action="/login"' in page.text:
        page = b.login(page, world.users["carol"])
    return page, verifier


def redeem(world, name: str, page, verifier: str, **extra) -> httpx.Response:
    code = callback_params(page)["code"]
    data = {
        "grant_type": "authorization_code",
        "code": code,
        "redirect_uri": REDIRECT,
        "code_verifier": verifier,
        **extra,
    }
    return token_post(world, name, data)


# ------------------------------------------------------------------ client credentials


def test_client_credentials_for_an_api(world, apis):
    r = cc(world, {"resource": apis.pop})
    assert r.status_code == 200, r.text
    body = r.json()
    # RFC 6749 §3.3: no scope asked, all of the API's scopes the client holds.
    assert body["scope"] == f"{apis.s('pop', 'read')} {apis.s('pop', 'write')}"
    header, at = decode_jwt(world.base, body["access_token"])
    assert header["typ"] == "at+jwt" and at["aud"] == apis.pop and at["scope"] == body["scope"]
    r = cc(world, {"resource": apis.pop, "scope": apis.s("pop", "read")})
    assert r.json()["scope"] == apis.s("pop", "read")
    _, at = decode_jwt(world.base, r.json()["access_token"])
    assert at["aud"] == apis.pop and at["scope"] == apis.s("pop", "read")
    with world.services.sessions() as db:
        ev = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "oidc.token.issued", AuditEvent.client_id == at["client_id"])
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert ev.details["resource"] == apis.pop and ev.details["jti"] == at["jti"]


def test_without_resource_the_token_is_for_govid_as_before(world, apis):
    r = token_post(world, "machine", {"grant_type": "client_credentials"})
    _, at = decode_jwt(world.base, r.json()["access_token"])
    assert at["aud"] == world.base
    r = token_post(world, "machine", {"grant_type": "client_credentials", "resource": world.base})
    _, at = decode_jwt(world.base, r.json()["access_token"])
    assert at["aud"] == world.base  # GovID's own identifier is its default resource


@pytest.mark.parametrize(
    "resource",
    [
        "https://unknown.example.go.th/",
        "not-a-uri",
        "https://pop.example.go.th/#x",
        "far",  # another ministry's API, not shared: same answer as unknown
    ],
)
def test_invalid_target(world, apis, resource):
    resource = apis.far if resource == "far" else resource
    r = cc(world, {"resource": resource})
    assert r.status_code == 400 and r.json()["error"] == "invalid_target", r.text


def test_api_scopes_only_with_their_resource(world, apis):
    r = cc(world, {"scope": apis.s("pop", "read")})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    assert f"resource={apis.pop}" in r.json()["error_description"]
    # Another API's scope with this resource, or a scope nobody registered.
    r = cc(world, {"resource": apis.pop, "scope": apis.s("tax", "read")})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    r = cc(world, {"resource": apis.pop, "scope": "nobody:registered"})
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope"
    # An API the client holds no scope of.
    r = cc(world, {"resource": apis.tax})
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"


# ------------------------------------------------------------------- authorization code


def test_code_flow_with_a_resource_then_refresh_to_select(world, apis):
    scope = f"openid profile {apis.s('pop', 'read')} {apis.s('tax', 'read')}"
    page, verifier = sign_in(world, apis, scope, resource=[apis.pop, apis.tax])
    r = redeem(world, "apiweb", page, verifier, resource=apis.pop)
    assert r.status_code == 200, r.text
    body = r.json()
    _, at = decode_jwt(world.base, body["access_token"])
    assert at["aud"] == apis.pop and at["scope"] == apis.s("pop", "read") == body["scope"]
    assert "id_token" in body  # the person's ID token is the app's, as always
    _, idt = decode_jwt(world.base, body["id_token"])
    assert idt["aud"] == world.client("apiweb")["client_id"]
    # The API's token is not for userinfo (OIDC Core §5.3; decision 0011).
    r = httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at_of(body)}"})
    assert r.status_code == 401 and 'error="invalid_token"' in r.headers["www-authenticate"]
    assert "resource" in r.json()["error_description"]
    rt = body["refresh_token"]

    # Refresh without resource: GovID's token (GovID's scopes only), good at userinfo.
    r = token_post(world, "apiweb", {"grant_type": "refresh_token", "refresh_token": rt})
    body = r.json()
    _, at = decode_jwt(world.base, body["access_token"])
    assert at["aud"] == world.base and at["scope"] == "openid profile"
    r = httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at_of(body)}"})
    assert r.status_code == 200 and r.json()["sub"] == at["sub"]
    rt = body["refresh_token"]

    # Refresh for the other API of the authorization.
    r = token_post(
        world, "apiweb", {"grant_type": "refresh_token", "refresh_token": rt, "resource": apis.tax}
    )
    body = r.json()
    _, at = decode_jwt(world.base, body["access_token"])
    assert at["aud"] == apis.tax and at["scope"] == apis.s("tax", "read")
    rt = body["refresh_token"]

    # Narrowing to a scope of another API than the one named: nothing granted for it.
    r = token_post(
        world,
        "apiweb",
        {
            "grant_type": "refresh_token",
            "refresh_token": rt,
            "resource": apis.pop,
            "scope": apis.s("tax", "read"),
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_scope", r.text


def at_of(body: dict) -> str:
    return body["access_token"]


def test_refresh_cannot_reach_an_api_outside_the_authorization(world, apis):
    """RFC 8707 §2.2: only resources of the authorization request."""
    page, verifier = sign_in(world, apis, f"openid {apis.s('pop', 'read')}", resource=apis.pop)
    body = redeem(world, "apiweb", page, verifier).json()
    _, at = decode_jwt(world.base, body["access_token"])
    assert at["aud"] == world.base and at["scope"] == "openid"  # no resource: GovID's
    r = token_post(
        world,
        "apiweb",
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "resource": apis.tax,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"
    # The refused request did not burn the refresh token.
    r = token_post(
        world,
        "apiweb",
        {
            "grant_type": "refresh_token",
            "refresh_token": body["refresh_token"],
            "resource": apis.pop,
        },
    )
    assert r.status_code == 200, r.text
    _, at = decode_jwt(world.base, r.json()["access_token"])
    assert at["aud"] == apis.pop


def test_a_code_redeemed_for_another_resource_is_invalid_target(world, apis):
    page, verifier = sign_in(world, apis, f"openid {apis.s('pop', 'read')}", resource=apis.pop)
    r = redeem(world, "apiweb", page, verifier, resource=apis.tax)
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"


@pytest.mark.parametrize(
    ("scope", "resource", "error"),
    [
        ("openid {pop}", None, "invalid_scope"),  # an API scope needs its resource
        ("openid {pop}", "https://unknown.example.go.th/", "invalid_target"),
        ("openid {pop}", "far", "invalid_target"),
        ("openid", "pop", "invalid_scope"),  # named, but none of its scopes asked for
        ("openid {pop}", "relative/path", "invalid_target"),
    ],
)
def test_authorization_errors_are_redirected(world, apis, scope, resource, error):
    scope = scope.format(pop=apis.s("pop", "read"))
    resource = {"pop": apis.pop, "far": apis.far}.get(resource, resource)
    extra = {"resource": resource} if resource else {}
    page, _ = sign_in(world, apis, scope, **extra)
    params = callback_params(page)
    assert params["error"] == error, params
    assert params["iss"] == world.base


# ------------------------------------------------------------------------ introspection


def test_the_api_introspects_its_tokens_and_nothing_else(world, apis):
    pop_token = cc(world, {"resource": apis.pop}).json()["access_token"]
    body = introspect(world, "pop-api", pop_token)
    assert body["active"] is True and body["aud"] == apis.pop
    assert body["client_id"] == world.client("apimachine")["client_id"]
    # The app itself still sees its own token.
    assert introspect(world, "apimachine", pop_token)["active"] is True
    # Another API, and GovID's own tokens, are not the API's business (RFC 7662 §4).
    assert introspect(world, "tax-api", pop_token) == {"active": False}
    govid_token = token_post(world, "machine", {"grant_type": "client_credentials"}).json()
    assert introspect(world, "pop-api", govid_token["access_token"]) == {"active": False}
    page, verifier = sign_in(world, apis, f"openid {apis.s('pop', 'read')}", resource=apis.pop)
    body = redeem(world, "apiweb", page, verifier, resource=apis.pop).json()
    assert introspect(world, "pop-api", body["access_token"])["active"] is True
    assert introspect(world, "pop-api", body["refresh_token"]) == {"active": False}
    # A wrong secret is a client authentication failure.
    r = httpx.post(
        f"{world.base}/introspect",
        data={"token": pop_token},
        auth=(apis.pop_client["client_id"], "wrong"),
    )
    assert r.status_code == 401


def test_api_credentials_get_no_tokens(world, apis):
    r = token_post(world, "pop-api", {"grant_type": "client_credentials"})
    assert r.status_code == 400 and r.json()["error"] == "unauthorized_client"


def test_a_disabled_api_gets_no_tokens_and_cannot_introspect(world, apis):
    gone = f"https://gone-{apis.u}.example.go.th/"
    with world.services.sessions.begin() as db:
        api, api_secret = registration.create(
            db,
            registration.NewApi(
                agency_code=f"d-{apis.u}",
                identifier=gone,
                name_th="ปิด",
                name_en="Gone",
                scopes=(f"gone-{apis.u}:read",),
            ),
            issuer=world.base,
        )
        app, app_secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"d-{apis.u}",
                name_th="x",
                name_en="x",
                grant_types=("client_credentials",),
                scopes=(f"gone-{apis.u}:read",),
                client_id=f"gone-app-{apis.u}",
            ),
        )
        api_client = api.client_id
        registration.set_status(db, api, "disabled")
    r = httpx.post(
        f"{world.base}/token",
        data={"grant_type": "client_credentials", "resource": gone},
        auth=(app.client_id, app_secret),
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_target"
    r = httpx.post(f"{world.base}/introspect", data={"token": "x"}, auth=(api_client, api_secret))
    assert r.status_code == 401


def test_tokens_of_a_disabled_app_are_inactive_for_the_api(world, apis):
    from sqlalchemy import update

    from idp.clients.models import Client

    at = cc(world, {"resource": apis.pop}).json()["access_token"]
    assert introspect(world, "pop-api", at)["active"] is True
    cid = world.client("apimachine")["client_id"]
    with world.services.sessions.begin() as db:
        db.execute(update(Client).where(Client.client_id == cid).values(status="disabled"))
    try:
        assert introspect(world, "pop-api", at) == {"active": False}
    finally:
        with world.services.sessions.begin() as db:
            db.execute(update(Client).where(Client.client_id == cid).values(status="active"))
