"""Each app's own privacy notice (issue 19, 11): a client's registered ``policy_uri``
(OIDC Dynamic Client Registration 1.0 §2) is linked on the consent page beside its
agency's notice, in Thai and English, in Chromium with the pages' CSP in force; the
page passes axe-core."""

from __future__ import annotations

import secrets

import pytest
from sqlalchemy import select

from idp.agencies.models import Agency
from idp.clients import service as clients
from idp.web.i18n import translator
from tests.e2e.test_accessibility import axe_path, violations  # noqa: F401 (fixture)
from tests.e2e.test_people_pages_defects import new_person, page  # noqa: F401 (fixture)
from tests.e2e.test_people_pages_service import sign_in
from tests.protocol.conftest import REDIRECT
from tests.protocol.rp import authorize_url, rp_client

APP_NOTICE = "https://leave.example.go.th/privacy?lang=th&v=2"
AGENCY_NOTICE = "https://www.example.go.th/privacy"


def app_with_notice(w) -> str:
    """A third-party app of the seeded department with its own privacy notice."""
    u = w.clients["thirdparty"]["client_id"].split("-", 1)[1]
    name = f"priv{secrets.token_hex(3)}"
    with w.services.sessions.begin() as db:
        c, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"d-{u}",
                name_th=f"แอป {name}",
                name_en=f"App {name}",
                client_id=f"{name}-{u}",
                redirect_uris=(REDIRECT,),
                auth_method="client_secret_post",
                policy_uri=APP_NOTICE,
            ),
        )
    w.clients[name] = {
        "client_id": c.client_id,
        "secret": secret,
        "auth_method": "client_secret_post",
    }
    return name


@pytest.mark.parametrize("locale", ["th", "en"])
def test_consent_links_the_apps_own_notice_beside_the_agencys(
    page,  # noqa: F811
    e2e_world,
    axe_path,  # noqa: F811
    locale,
):
    w, t = e2e_world, translator(locale)
    name = app_with_notice(w)
    app = ("แอป " if locale == "th" else "App ") + name
    url, *_ = authorize_url(w, rp_client(w, name), ui_locales=locale)
    page.goto(url)
    sign_in(page, new_person(w))
    page.wait_for_selector("form[action='/consent']")
    link = page.locator("#app-privacy-link")
    assert link.get_attribute("href") == APP_NOTICE
    assert link.inner_text() == t("app_privacy_link", app=app)
    # The agency has none: the app's notice stands alone, no "has not given a link".
    assert page.locator("#privacy-none").count() == 0
    assert page.locator("html").get_attribute("lang") == locale
    assert violations(page) == []

    # With the agency's notice too, both are there, the app's first.
    u = w.clients["thirdparty"]["client_id"].split("-", 1)[1]
    with w.services.sessions.begin() as db:
        db.scalars(select(Agency).where(Agency.code == f"m-{u}")).one().privacy_url = AGENCY_NOTICE
    try:
        page.context.clear_cookies()
        url, *_ = authorize_url(w, rp_client(w, name), ui_locales=locale)
        page.goto(url)
        sign_in(page, new_person(w))
        page.wait_for_selector("form[action='/consent']")
        hrefs = page.locator("main a[id$='privacy-link']").evaluate_all(
            "links => links.map(a => a.getAttribute('href'))"
        )
        assert hrefs == [APP_NOTICE, AGENCY_NOTICE]
        assert violations(page) == []
    finally:
        with w.services.sessions.begin() as db:
            db.scalars(select(Agency).where(Agency.code == f"m-{u}")).one().privacy_url = None
