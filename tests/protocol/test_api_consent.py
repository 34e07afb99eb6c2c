"""The consent page names the agency API an app asks to call as the person, by its name
in the person's language (RFC 8707 resources; idp/web/i18n.py ``scope_api``)."""

import pytest

from idp.clients import service as clients
from idp.resources import registration
from tests.protocol.conftest import REDIRECT
from tests.protocol.test_api_resources import sign_in


@pytest.fixture(scope="module")
def api(world) -> tuple[str, str]:
    u = world.users["alice"].split("@")[1].removesuffix(".go.th")
    identifier, scope = f"https://consent-{u}.example.go.th/", f"consent-{u}:read"
    with world.services.sessions.begin() as db:
        registration.create(
            db,
            registration.NewApi(
                agency_code=f"d-{u}",
                identifier=identifier,
                name_th="ระบบทะเบียนราษฎร",
                name_en="Population Registry",
                scopes=(scope,),
            ),
            issuer=world.base,
        )
        c, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"d-{u}",
                name_th="แอปขอความยินยอม",
                name_en="Consent app",
                redirect_uris=(REDIRECT,),
                scopes=("openid", scope),
                client_id=f"apiconsent-{u}",
            ),
        )
        world.clients["apiconsent"] = {"client_id": c.client_id, "secret": secret}
    return identifier, scope


def test_consent_names_the_api_in_the_persons_language(world, api):
    identifier, scope = api
    page, _ = sign_in(world, None, f"openid {scope}", name="apiconsent", resource=identifier)
    assert 'action="/consent"' in page.text
    assert "ใช้ระบบ ระบบทะเบียนราษฎร ในนามของคุณ" in page.text and scope in page.text
    page, _ = sign_in(
        world, None, f"openid {scope}", name="apiconsent", resource=identifier, ui_locales="en"
    )
    assert "Use Population Registry on your behalf" in page.text
