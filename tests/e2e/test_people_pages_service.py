"""Issue 19, defects 7, 8, 9 (the rest), 10 (the rest) and 11, as a person meets them:
Chromium with every page's CSP in force, in Thai and English. Each test fails on the
pages before the fix."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from idp.accounts.models import Account
from idp.admin import links
from idp.web.i18n import translator
from tests.e2e.test_people_pages_defects import (  # noqa: F401 (page: a fixture)
    new_person,
    page,
    with_app,
)
from tests.protocol.conftest import PASSWORD
from tests.protocol.rp import authorize_url, rp_client

# ------------------------------------------------ 10. /password/set and its link


def reset_link(w, email: str) -> str:
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        token, _ = links.issue(db, account, "reset", actor="test-admin")
    return f"{w.base}/password/set?token={token}"


@pytest.mark.parametrize("locale", ["th", "en"])
def test_set_password_names_the_account_and_refuses_a_dead_link_when_opened(
    page,  # noqa: F811
    e2e_world,
    locale,
):
    w, t = e2e_world, translator(locale)
    email = new_person(w)
    url = reset_link(w, email)
    page.goto(f"{url}&lang={locale}")
    username = page.locator("#username")
    assert username.get_attribute("autocomplete") == "username"
    assert username.input_value() == email
    assert username.get_attribute("readonly") is not None
    # The username comes before the new password in the same form (password managers).
    assert page.locator("form:has(#new) #username").count() == 1
    page.fill("#new", "a long sentence that is my new password")
    page.click("form[action='/password/set'] button[type=submit]")
    page.wait_for_selector("#to-account")

    # The same link again: refused on opening, before any password is typed.
    page.goto(url)
    assert page.locator("#new").count() == 0
    assert t("link_invalid") in page.inner_text("main")
    page.goto(f"{w.base}/password/set?token=made-up")
    assert page.locator("#new").count() == 0
    assert t("link_invalid") in page.inner_text("main")
    assert re.search(r"/password/set", page.url)


# ------------------------------------------------------- 11. which app is asking


def sign_in(tab, email: str) -> None:
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.click("form[action='/login'] button[type=submit]")


@pytest.mark.parametrize("locale", ["th", "en"])
def test_every_step_names_the_app_and_its_agency(page, e2e_world, locale):  # noqa: F811
    w, t = e2e_world, translator(locale)
    app = ("แอป " if locale == "th" else "App ") + "strict"
    agency = "กรมทดสอบ" if locale == "th" else "Test Department"
    # A person without a second factor, an app that needs one: sign-in, then enrolment.
    url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
    page.goto(url)
    page.wait_for_selector("#email")
    assert page.inner_text("#asking-app") == t("sign_in_to_agency", app=app, agency=agency)
    sign_in(page, new_person(w))
    page.wait_for_selector("#totp-secret")
    assert page.inner_text("#asking-app") == t("for_app_agency", app=app, agency=agency)

    # A person with an authenticator app: the second step names them too.
    page.context.clear_cookies()
    email = new_person(w)
    with_app(w, email)
    url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
    page.goto(url)
    sign_in(page, email)
    page.wait_for_selector("form[action='/mfa'] #code")
    assert page.inner_text("#asking-app") == t("for_app_agency", app=app, agency=agency)


@pytest.mark.parametrize("locale", ["th", "en"])
def test_consent_lists_information_only_and_says_whose_privacy_notice(
    page,  # noqa: F811
    e2e_world,
    locale,
):
    w, t = e2e_world, translator(locale)
    app = ("แอป " if locale == "th" else "App ") + "thirdparty"
    agency = "กรมทดสอบ" if locale == "th" else "Test Department"
    url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale)
    page.goto(url)
    sign_in(page, new_person(w))
    page.wait_for_selector("form[action='/consent']")
    items = page.locator("ul.scopes li").all_inner_texts()
    assert t("scope_profile") in items
    assert t("scope_openid") not in items  # "confirm who you are" is no information
    main = page.inner_text("main")
    assert t("consent_identifier", app=app) in main
    # No privacy notice link registered: whose it would be, said in words.
    assert page.inner_text("#privacy-none") == t("privacy_none", app=app, agency=agency)

    # Only 'openid': nothing listed as if it were data, and the page says so.
    page.context.clear_cookies()
    url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale, scope="openid")
    page.goto(url)
    sign_in(page, new_person(w))
    page.wait_for_selector("form[action='/consent']")
    assert page.locator("ul.scopes li").count() == 0
    assert t("consent_intro_id_only", app=app, agency=agency) in page.inner_text("main")
