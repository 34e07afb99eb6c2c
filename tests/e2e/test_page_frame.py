"""The pages' frame in Chromium with the CSP in force (issue 19): every people's page has
a footer leading to help, the privacy notice (PDPA) and the accessibility statement, with
the central helpdesk; the sign-in names the app's agency beside GovID's name; the new
pages (forgot password, privacy, accessibility) pass axe-core in Thai and English."""

from __future__ import annotations

import re
import time

import pyotp
import pytest

from tests.e2e.test_accessibility import axe_path, violations  # noqa: F401 (fixture)
from tests.e2e.test_account_recovery import make_person
from tests.protocol.rp import authorize_url, rp_client

FOOTER = {
    "th": ("ช่วยเหลือ", "ประกาศความเป็นส่วนตัว", "การเข้าถึงสำหรับทุกคน"),
    "en": ("Help", "Privacy notice", "Accessibility"),
}


def footer_links(page) -> list[tuple[str, str]]:
    links = page.locator("footer#page-footer nav a")
    return [(links.nth(k).inner_text(), links.nth(k).get_attribute("href")) for k in range(3)]


@pytest.mark.parametrize("lang", ["th", "en"])
def test_footer_on_every_page_and_the_agency_on_sign_in(browser, e2e_world, lang):
    w = e2e_world
    context = browser.new_context(locale=lang)
    page = context.new_page()
    url, *_ = authorize_url(w, rp_client(w), ui_locales=lang)
    page.goto(url)
    # The app's agency (the seed's department) beside GovID's name.
    agency = {"th": "กรมทดสอบ", "en": "Test Department"}[lang]
    assert page.locator("header #agency-brand").inner_text() == agency
    seen = {}
    for path in ("", "/recover", "/help", "/privacy", "/accessibility", "/no-such-page"):
        if path:
            page.goto(f"{w.base}{path}?lang={lang}")
        seen[path or "/login"] = footer_links(page)
    expected = list(zip(FOOTER[lang], ("/help", "/privacy", "/accessibility"), strict=True))
    assert all(links == expected for links in seen.values()), seen
    helpdesk = w.services.settings.helpdesk_email
    assert page.locator(f"footer a[href='mailto:{helpdesk}']").count() == 1
    # The pages themselves: in the page's language, with their own headings.
    page.goto(f"{w.base}/privacy?lang={lang}")
    assert page.locator("html").get_attribute("lang") == lang
    text = page.locator("main").inner_text()
    assert ("2562" in text) and ("90" in text)
    page.goto(f"{w.base}/accessibility?lang={lang}")
    assert "WCAG 2.1" in page.locator("main").inner_text()
    context.close()


@pytest.mark.parametrize("size", [(1280, 800), (390, 844)], ids=["desktop", "phone"])
@pytest.mark.parametrize("lang", ["th", "en"])
def test_new_pages_pass_axe(browser, e2e_world, axe_path, lang, size):  # noqa: F811
    w = e2e_world
    email, secret = make_person(w, totp=True)
    context = browser.new_context(locale=lang, viewport={"width": size[0], "height": size[1]})
    page = context.new_page()
    checked = {}
    url, *_ = authorize_url(w, rp_client(w), ui_locales=lang)
    page.goto(url)
    checked["login (frame, passkey button)"] = violations(page)
    page.click("#forgot-password")
    page.wait_for_url(re.compile(r"/recover"))
    checked["recover"] = violations(page)
    page.fill("#email", email)
    page.click("form[action='/recover'] button[type=submit]")
    page.wait_for_selector("#code")
    checked["recover prove"] = violations(page)
    page.fill("#code", "000000")
    page.click("form[action='/recover/code'] button[type=submit]")
    page.wait_for_selector("#form-error")
    checked["recover prove with error"] = violations(page)
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("form[action='/recover/code'] button[type=submit]")
    page.wait_for_selector("#new")
    checked["recover new password"] = violations(page)
    page.goto(f"{w.base}/privacy?lang={lang}")
    checked["privacy"] = violations(page)
    page.goto(f"{w.base}/accessibility?lang={lang}")
    checked["accessibility"] = violations(page)
    assert {k: v for k, v in checked.items() if v} == {}
    # Nothing wider than the screen (the footer, the contact list, the long Thai words).
    assert page.evaluate("document.documentElement.scrollWidth") <= size[0]
    context.close()
