"""Forgot password in Chromium with the pages' CSP in force (issue 19): from the sign-in
page to a new password with an app code (Thai and English, keyboard only) and with a
security key (CDP virtual authenticator), then a sign-in that reaches the app."""

from __future__ import annotations

import re
import secrets
import time

import pyotp
import pytest

from idp.accounts import service as accounts
from idp.credentials import mfa
from tests.protocol.conftest import PASSWORD
from tests.protocol.rp import authorize_url, rp_client

NEW_PASSWORD = "a brand new long passphrase for recovery"


def make_person(w, *, totp: bool) -> tuple[str, str | None]:
    u = w.users["alice"].split("@")[1].split(".")[0]
    email = f"rec-{secrets.token_hex(3)}@{u}.go.th"
    secret = None
    with w.services.sessions.begin() as db:
        acc = accounts.create(
            db,
            accounts.NewAccount(email=email, agency_code=f"d-{u}", password=PASSWORD),
            hasher=w.services.hasher,
            cipher=w.services.cipher,
        )
        if totp:
            cred, uri, _ = mfa.start_totp(db, w.services.cipher, acc, issuer_name="GovID")
            secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
            assert mfa.confirm_totp(db, w.services.cipher, acc, cred.id, pyotp.TOTP(secret).now())
    return email, secret


TEXTS = {
    "en": ("Forgot your password", "Prove it is you", "Your new password is set"),
    "th": ("ลืมรหัสผ่าน", "ยืนยันว่าเป็นคุณ", "ตั้งรหัสผ่านใหม่แล้ว"),
}


@pytest.mark.parametrize("lang", ["th", "en"])
def test_forgot_password_with_an_app_code_keyboard_only(browser, e2e_world, lang):
    w = e2e_world
    email, secret = make_person(w, totp=True)
    context = browser.new_context()
    page = context.new_page()
    client = rp_client(w)
    url, *_ = authorize_url(w, client, ui_locales=lang)
    page.goto(url)
    # Keyboard only: Tab to the link and press Enter.
    page.locator("#forgot-password").focus()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/recover\?i="))
    assert page.locator("html").get_attribute("lang") == lang
    assert TEXTS[lang][0] in page.locator("h1").inner_text()
    page.keyboard.type(email)  # the field has focus
    page.keyboard.press("Enter")
    page.wait_for_selector("#code")
    assert TEXTS[lang][1] in page.locator("h1").inner_text()
    assert page.locator("#helpdesk").count() == 1
    page.keyboard.type("000000")
    page.keyboard.press("Enter")
    page.wait_for_selector("#form-error")
    page.locator("#code").fill(pyotp.TOTP(secret).at(time.time() + 30))
    page.keyboard.press("Enter")
    page.wait_for_selector("#new")
    page.keyboard.type(NEW_PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_selector("#recover-done")
    assert TEXTS[lang][2] in page.locator("#recover-done").inner_text()
    # Back to the app's sign-in with the new password: it reaches the app.
    page.click("#recover-sign-in")
    page.fill("#email", email)
    page.fill("#password", NEW_PASSWORD)
    with page.expect_request(lambda r: r.url.startswith("https://rp.example.go.th/")):
        page.keyboard.press("Enter")
    context.close()


def test_forgot_password_with_a_security_key(browser, e2e_world):
    w = e2e_world
    email, _ = make_person(w, totp=False)
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    page.goto(f"{w.base}/account")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{w.base}/account")
    page.click("#webauthn-register")
    page.wait_for_selector("#recovery-codes")
    context.clear_cookies()  # another day, signed out, password forgotten

    page.goto(f"{w.base}/recover")
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.click("#recover-key")
    page.wait_for_selector("#new")
    page.fill("#new", NEW_PASSWORD)
    page.click("#new ~ button[type=submit]")
    page.wait_for_selector("#recover-done")
    context.close()


def test_a_key_of_another_account_is_refused_in_words(browser, e2e_world):
    w = e2e_world
    email, _ = make_person(w, totp=False)
    context = browser.new_context(locale="en-GB")
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "usb",
                "hasResidentKey": False,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    # This address has no key: the browser finds none of the (stand-in) credentials.
    page.goto(f"{w.base}/recover")
    page.fill("#email", email)
    page.click("button[type=submit]")
    page.click("#recover-key")
    status = page.locator("#webauthn-status")
    status.filter(has_text=re.compile(r"\w")).wait_for()
    assert "TypeError" not in status.inner_text()
    assert page.locator("#new").count() == 0
    context.close()
