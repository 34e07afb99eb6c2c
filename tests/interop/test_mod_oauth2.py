"""An agency API behind Apache + mod_oauth2 (Debian's libapache2-mod-oauth2), a resource
server nobody here wrote, checking GovID access tokens two ways:

- locally: signature against GovID's /jwks, expiry, and `aud` = the API's identifier
  (`Require oauth2_claim aud:…`, RFC 9068 §4);
- by introspection with the API's own credentials (RFC 7662 §2.1).

A token for the API is accepted; a token for another API, or GovID's own token for an
app, is refused. Apache and the module are installed by ``ensure_apache`` when missing
(under CI=true a missing one fails the run)."""

from __future__ import annotations

from dataclasses import dataclass

import httpx
import pytest

from idp.clients import service as clients
from idp.resources import registration
from tests.interop.apache import Apache, ensure_apache

SITE = """
<Location /local/>
    AuthType oauth2
    OAuth2TokenVerify jwks_uri {issuer}/jwks
    Require oauth2_claim aud:{aud}
</Location>
<Location /introspected/>
    AuthType oauth2
    OAuth2TokenVerify introspect {issuer}/introspect \\
        introspect.auth=client_secret_basic&client_id={cid}&client_secret={secret}
    Require valid-user
</Location>
"""


@dataclass
class Api:
    identifier: str
    client_id: str  # its introspection credentials
    secret: str
    app: tuple[str, str]  # an app holding its scopes: (client_id, secret)


def _register(world, u: str, name: str) -> Api:
    with world.services.sessions.begin() as db:
        api, secret = registration.create(
            db,
            registration.NewApi(
                agency_code=f"d-{u}",
                identifier=f"https://{name}-{u}.interop.go.th/",
                name_th=f"ระบบ {name}",
                name_en=f"API {name}",
                scopes=(f"{name}-{u}.mod:read",),
            ),
            issuer=world.base,
        )
        app, app_secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"d-{u}",
                name_th=f"แอป {name}",
                name_en=f"App {name}",
                grant_types=("client_credentials",),
                scopes=(f"{name}-{u}.mod:read",),
                client_id=f"{name}-modapp-{u}",
            ),
        )
        return Api(api.identifier, api.client_id, secret, (app.client_id, app_secret))


@pytest.fixture(scope="module")
def apis(world):
    ensure_apache("oauth2")
    u = world.users["alice"].split("@")[1].removesuffix(".go.th")
    return _register(world, u, "grants"), _register(world, u, "other")


@pytest.fixture(scope="module")
def httpd(world, apis):
    api = apis[0]
    body = (
        SITE.replace("{issuer}", world.base)
        .replace("{aud}", api.identifier)
        .replace("{cid}", api.client_id)
        .replace("{secret}", api.secret)
    )
    files = {f"htdocs/{p}/ok.txt": ("the API answered\n", 0o644) for p in ("local", "introspected")}
    with Apache(body, modules=("oauth2",), files=files, log_level="info") as server:
        yield server


def token_for(world, app: tuple[str, str], resource: str | None) -> str:
    data = {"grant_type": "client_credentials"}
    if resource:
        data["resource"] = resource
    r = httpx.post(f"{world.base}/token", data=data, auth=app)
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def call(httpd, path: str, token: str) -> httpx.Response:
    return httpx.get(f"{httpd.url}/{path}/ok.txt", headers={"Authorization": f"Bearer {token}"})


@pytest.mark.parametrize("path", ["local", "introspected"])
def test_a_token_for_the_api_is_accepted(world, apis, httpd, path):
    api = apis[0]
    r = call(httpd, path, token_for(world, api.app, api.identifier))
    assert r.status_code == 200, httpd.error_log()[-3000:]
    assert r.text == "the API answered\n"


@pytest.mark.parametrize("path", ["local", "introspected"])
def test_a_token_for_another_api_is_refused(world, apis, httpd, path):
    other = apis[1]
    r = call(httpd, path, token_for(world, other.app, other.identifier))
    assert r.status_code in (401, 403), r.text


@pytest.mark.parametrize("path", ["local", "introspected"])
def test_govids_own_token_for_an_app_is_refused(world, apis, httpd, path):
    # The app's token without `resource`: aud is GovID, not this API.
    r = call(httpd, path, token_for(world, apis[0].app, None))
    assert r.status_code in (401, 403), r.text


def test_no_token_is_a_bearer_challenge(httpd):
    r = httpx.get(f"{httpd.url}/local/ok.txt")
    assert r.status_code == 401 and r.headers["www-authenticate"].lower().startswith("bearer")
