"""Screenshots of the people's pages in Thai and English at 1280x800 and 390x844
(issue 19), written to docs/screenshots/ when GOVID_SCREENSHOTS=1:

    GOVID_SCREENSHOTS=1 .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/e2e/test_screenshots.py

Every page is also checked with axe-core (WCAG 2.1 A/AA) at both sizes, and opened at
320 px, where nothing may be wider than the screen and Thai must be drawn in the shipped
Sarabun. Without the variable the test runs those checks only and writes nothing."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts import links
from idp.accounts.models import Account
from idp.db import utcnow
from tests.e2e.test_accessibility import AXE, violations
from tests.e2e.test_people_pages_defects import new_person, sign_in_to_account, with_app
from tests.protocol.conftest import PASSWORD
from tests.protocol.rp import authorize_url, rp_client

OUT = Path(__file__).parents[2] / "docs" / "screenshots"
WRITE = os.environ.get("GOVID_SCREENSHOTS") == "1"
SIZES = {"desktop": (1280, 800), "phone": (390, 844)}


def pages_of(w, locale: str):
    """(name, how to reach it in a fresh tab) for every people's page."""

    def login(tab):
        url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
        tab.goto(url)
        tab.wait_for_selector("#email")

    def time_warning(tab):
        tab.clock.install()
        login(tab)
        tab.clock.fast_forward("08:05")
        tab.wait_for_selector("#time-extend", state="visible")

    def login_error(tab):
        login(tab)
        tab.fill("#email", new_person(w))
        tab.fill("#password", "not the password")
        tab.click("form[action='/login'] button[type=submit]")
        tab.wait_for_selector("#form-error")

    def enrol(tab):
        login(tab)
        tab.fill("#email", new_person(w))
        tab.fill("#password", PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        tab.wait_for_selector("#totp-secret")

    def mfa(tab):
        email = new_person(w)
        with_app(w, email)
        login(tab)
        tab.fill("#email", email)
        tab.fill("#password", PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        tab.wait_for_selector("form[action='/mfa'] #code")

    def consent(tab):
        url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale)
        tab.goto(url)
        tab.fill("#email", new_person(w))
        tab.fill("#password", PASSWORD)
        tab.click("form[action='/login'] button[type=submit]")
        tab.wait_for_selector("form[action='/consent']")

    def account(tab):
        email = new_person(w)
        with_app(w, email)
        sign_in_to_account(tab, w, email, locale)

    def recovery_codes(tab):
        sign_in_to_account(tab, w, new_person(w), locale)
        tab.goto(f"{w.base}/account/totp")
        secret = tab.inner_text("#totp-secret").strip()
        tab.fill("#code", pyotp.TOTP(secret).now())
        tab.click("form[action='/account/totp'] button[type=submit]")
        tab.wait_for_selector("#recovery-codes")

    def remove(tab):
        account(tab)
        tab.click(".remove-factor")
        tab.wait_for_selector("#remove-yes")

    def simple(path: str):
        def go(tab):
            tab.goto(f"{w.base}/help?lang={locale}")
            tab.goto(f"{w.base}{path}")

        return go

    def set_password(tab):
        email = new_person(w)
        with w.services.sessions.begin() as db:
            account = db.scalars(select(Account).where(Account.email == email)).one()
            token, _ = links.issue(db, account, "reset", actor="screenshots", now=utcnow())
        tab.goto(f"{w.base}/password/set?token={token}&lang={locale}")
        tab.wait_for_selector("#username")

    def signed_out(tab):
        sign_in_to_account(tab, w, new_person(w), locale)
        tab.click("#sign-out")
        tab.wait_for_selector("#sign-in-again")

    return [
        ("login", login),
        ("login-error", login_error),
        ("login-time-warning", time_warning),
        ("mfa", mfa),
        ("enrol", enrol),
        ("recovery-codes", recovery_codes),
        ("consent", consent),
        ("account", account),
        ("remove-factor", remove),
        ("help", simple("/help")),
        ("recover", simple("/recover")),
        ("error", simple("/authorize?client_id=nobody")),
        ("expired", simple("/login?i=expired.token")),
        ("set-password", set_password),
        ("set-password-dead-link", simple("/password/set?token=used")),
        ("signed-out", signed_out),
    ]


@pytest.mark.parametrize("locale", ["th", "en"])
def test_every_page_fits_320_px_in_sarabun_passes_axe_and_is_photographed(
    browser, e2e_world, locale
):
    w = e2e_world
    problems = {}
    for name, reach in pages_of(w, locale):
        sizes = {**SIZES, "narrow": (320, 640)}
        for size, (width, height) in sizes.items():
            context = browser.new_context(
                locale=locale, viewport={"width": width, "height": height}
            )
            tab = context.new_page()
            reach(tab)
            tab.evaluate("document.fonts.ready")
            if size == "narrow":
                wide = tab.evaluate("document.documentElement.scrollWidth")
                if wide > width:
                    problems[f"{name} at 320 px"] = wide
                if locale == "th" and not tab.evaluate(
                    "document.fonts.check('1rem Sarabun', 'ภาษาไทย')"
                    " && [...document.fonts].some(f => f.family.replace(/\"/g, '') === 'Sarabun'"
                    " && f.status === 'loaded')"
                ):
                    problems[f"{name}: Sarabun not loaded"] = True
            else:
                # axe-core (WCAG 2.1 A/AA) on every page at both sizes (issue 19's tests).
                if AXE.exists() and (found := violations(tab)):
                    problems[f"{name} at {width}x{height}: axe"] = found
                if WRITE:
                    OUT.mkdir(parents=True, exist_ok=True)
                    tab.screenshot(
                        path=str(OUT / f"{name}-{locale}-{size}-{width}x{height}.png"),
                        full_page=True,
                    )
            context.close()
    assert not problems, problems
    if WRITE:
        shots = [p for p in OUT.iterdir() if re.search(rf"-{locale}-", p.name)]
        assert len(shots) >= len(pages_of(w, locale)) * len(SIZES)
