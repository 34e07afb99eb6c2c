"""Issue 19, defects 1-6, as a person meets them: in Chromium with every page's CSP in
force (never switched off), in Thai and English. Each test fails on the pages before the fix.

Every test signs in as a new account of its own, so the tests do not depend on each
other's second factors, sessions or passwords."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import time
from urllib.parse import parse_qsl, urlsplit

import pyotp
import pytest
from sqlalchemy import select

from idp.accounts import service as accounts
from idp.accounts.models import Account
from idp.agencies.service import get as get_agency
from idp.credentials import mfa
from idp.db import utcnow
from idp.oidc import Interaction
from idp.sessions.models import SsoSession
from idp.web.i18n import translator
from tests.conftest import service_missing
from tests.e2e.test_accessibility import AXE, violations
from tests.protocol.conftest import PASSWORD
from tests.protocol.rp import authorize_url, rp_client

# ----------------------------------------------------------------------------- helpers


def new_person(w) -> str:
    """A new account in the seeded agency, password only."""
    with w.services.sessions.begin() as db:
        alice = db.scalars(select(Account).where(Account.email == w.users["alice"])).one()
        code = get_agency(db, alice.agency_id).code
        email = f"p{secrets.token_hex(4)}@{w.users['alice'].split('@')[1]}"
        accounts.create(
            db,
            accounts.NewAccount(
                email=email,
                agency_code=code,
                given_name_en="Pat",
                family_name_en="Tester",
                given_name_th="ทดสอบ",
                family_name_th="คน",
                password=PASSWORD,
            ),
            hasher=w.services.hasher,
            cipher=w.services.cipher,
        )
    return email


def with_app(w, email: str) -> str:
    """Give the account a confirmed authenticator app (set up ten minutes ago, so the
    codes of now are still unused) and recovery codes; returns the app's secret."""
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        cred, _uri, _svg = mfa.start_totp(db, w.services.cipher, account, issuer_name="GovID")
        secret = w.services.cipher.decrypt(cred.secret_enc, mfa.TOTP_PURPOSE).decode()
        then = utcnow() - dt.timedelta(minutes=10)
        code = pyotp.TOTP(secret).at(then)
        assert mfa.confirm_totp(db, w.services.cipher, account, cred.id, code, now=then)
        mfa.regenerate_recovery_codes(db, account)
    return secret


def wrong_code(secret: str) -> str:
    valid = {pyotp.TOTP(secret).at(time.time() + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in (f"{n:06d}" for n in range(100000, 999999, 7919)) if c not in valid)


def sign_in_to_account(page, w, email: str, locale: str = "en") -> None:
    page.goto(f"{w.base}/help?lang={locale}")  # the person's choice of language
    page.goto(f"{w.base}/account")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/account$"))


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en")  # the CSP stays in force
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    page.on("pageerror", lambda e: console.append(f"pageerror: {e}"))
    yield page
    context.close()
    broken = [m for m in console if "Content Security Policy" in m or "pageerror" in m]
    assert not broken, broken


def virtual_key(page) -> None:
    cdp = page.context.new_cdp_session(page)
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


def session_of(w, email: str) -> SsoSession | None:
    with w.services.sessions() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        return db.scalars(
            select(SsoSession)
            .where(SsoSession.account_id == account.id)
            .order_by(SsoSession.created_at.desc())
        ).first()


# --------------------------------------------- 1. a wrong code keeps the QR code


@pytest.mark.parametrize("locale", ["th", "en"])
def test_a_wrong_code_at_enrolment_keeps_the_secret_and_says_so(page, e2e_world, locale):
    w, t = e2e_world, translator(locale)
    sign_in_to_account(page, w, new_person(w), locale)
    page.goto(f"{w.base}/account/totp")
    secret = page.inner_text("#totp-secret").strip()
    qr = page.inner_html("figure.qr")
    assert page.get_attribute("#otpauth-link", "href").startswith("otpauth://totp/")
    assert f"secret={secret}" in page.get_attribute("#otpauth-link", "href")

    page.fill("#code", wrong_code(secret))
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("[role=alert]")
    # The same secret and QR code: the entry in the person's app still works.
    assert page.inner_text("#totp-secret").strip() == secret
    assert page.inner_html("figure.qr") == qr
    assert page.inner_text("#form-error") == t("enrol_bad")
    assert page.get_attribute("#code", "aria-invalid") == "true"

    # The code of that same entry now confirms it.
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10


def test_a_new_qr_code_only_when_asked_and_the_page_says_so(page, e2e_world):
    w, t = e2e_world, translator("en")
    sign_in_to_account(page, w, new_person(w))
    page.goto(f"{w.base}/account/totp")
    first = page.inner_text("#totp-secret").strip()
    page.reload()
    assert page.inner_text("#totp-secret").strip() == first  # a reload keeps it too
    page.click("#new-qr")
    page.wait_for_selector("#enrol-notice")
    second = page.inner_text("#totp-secret").strip()
    assert second != first
    assert page.inner_text("#enrol-notice") == t("enrol_renewed")
    page.fill("#code", pyotp.TOTP(first).now())  # the dropped secret no longer works
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("[role=alert]")
    page.fill("#code", pyotp.TOTP(second).now())
    page.click("form[action='/account/totp'] button[type=submit]")
    page.wait_for_selector("#recovery-codes")


def test_enrolment_fits_a_320_px_screen(browser, e2e_world):
    w = e2e_world
    context = browser.new_context(locale="th", viewport={"width": 320, "height": 640})
    page = context.new_page()
    sign_in_to_account(page, w, new_person(w), "th")
    page.goto(f"{w.base}/account/totp")
    box = page.locator("#totp-secret").bounding_box()
    assert box["x"] + box["width"] <= 320
    assert page.evaluate("document.documentElement.scrollWidth") <= 320
    context.close()


# -------------------------------------------- 2. security-key messages for people


@pytest.mark.parametrize("locale", ["th", "en"])
def test_security_key_errors_are_the_persons_language_next_to_the_button(page, e2e_world, locale):
    w, t = e2e_world, translator(locale)
    virtual_key(page)
    email = new_person(w)
    sign_in_to_account(page, w, email, locale)
    page.fill("#key-label", "Key one")
    page.click("#webauthn-register")
    page.wait_for_selector("#recovery-codes")  # (5) a first key brings recovery codes
    page.click("#continue")
    page.wait_for_url(re.compile(r".*/account$"))

    # The same key again: the browser refuses (InvalidStateError); said in words.
    page.click("#webauthn-register")
    status = page.locator("#security-key #webauthn-status")
    status.filter(has_text=t("key_exists")).wait_for()
    assert status.get_attribute("role") == "alert"
    assert "Error" not in status.inner_text()

    # GovID refuses (a stale form token): its reason, in the page's language.
    page.evaluate("document.getElementById('webauthn-register').dataset.csrf = 'stale'")
    page.click("#webauthn-register")
    status.filter(has_text=t("csrf")).wait_for()


def test_adding_a_key_at_level_1_says_why_and_comes_back_to_the_key(page, e2e_world):
    w, t = e2e_world, translator("th")
    email = new_person(w)
    secret = with_app(w, email)
    sign_in_to_account(page, w, email, "th")
    page.click("#webauthn-register")
    # Not "TypeError ... reading 'challenge'": the second step, saying why.
    page.wait_for_selector("#mfa-why")
    assert page.inner_text("#mfa-why") == t("why_add_key")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    page.wait_for_url(re.compile(r".*/account\?ready=key"))
    assert page.inner_text("#account-notice") == t("ready_key")
    assert page.locator("#webauthn-register").is_visible()


# ------------------------------------------------------------- 3. no dead ends


@pytest.mark.parametrize("locale", ["th", "en"])
def test_sign_in_has_forgot_password_and_help_leads_back(page, e2e_world, locale):
    w, t = e2e_world, translator(locale)
    url, *_ = authorize_url(w, rp_client(w, "web"), ui_locales=locale)
    page.goto(url)
    page.wait_for_selector("#email")
    assert page.inner_text("#forgot-password") == t("forgot_password")
    # "Forgot password" is account recovery now (its own tests: test_account_recovery).
    assert page.get_attribute("#forgot-password", "href").startswith("/recover?i=")
    page.click("#sign-in-help")
    page.wait_for_selector("#forgot")
    assert page.inner_text("h1") == t("help_title")
    page.click("#help-back")
    page.wait_for_selector("#email")  # the same sign-in, still going
    assert urlsplit(page.url).path == "/login"
    assert t("sign_in_to", app=("แอป" if locale == "th" else "App") + " web") in page.inner_text(
        "main"
    )


def test_an_expired_sign_in_offers_to_start_again_at_the_app(page, e2e_world):
    w = e2e_world
    url, *_ = authorize_url(w, rp_client(w, "web"))
    pairs = parse_qsl(urlsplit(url).query)
    expired = Interaction(
        request=tuple(pairs),
        started_at=time.time() - 900,
        kind="login",
        client_id=dict(pairs)["client_id"],
    ).dump(w.services, ttl=-1)
    page.goto(f"{w.base}/login?i={expired}")
    page.wait_for_selector("#start-again")
    page.click("#start-again")
    page.wait_for_selector("#email")  # the app's sign-in again
    assert "App web" in page.inner_text("main")


def test_error_pages_and_a_bookmarked_login_offer_a_way_on(page, e2e_world):
    w = e2e_world
    for url in (f"{w.base}/authorize?client_id=nope", f"{w.base}/login", f"{w.base}/nowhere"):
        page.goto(url)
        assert page.locator("#to-account, #start-again").count() >= 1, url
        assert page.locator("#help-link").count() == 1, url
    page.click("#help-link")
    page.wait_for_selector("#help-back")


def test_account_page_signs_this_device_out(page, e2e_world):
    w, t = e2e_world, translator("en")
    email = new_person(w)
    sign_in_to_account(page, w, email)
    sid = session_of(w, email).sid
    page.click("#sign-out")
    page.wait_for_url(re.compile(r".*/signed-out$"))
    assert page.inner_text("[role=status]") == t("logged_out")
    with w.services.sessions() as db:
        row = db.scalars(select(SsoSession).where(SsoSession.sid == sid)).one()
        assert row.ended_at is not None
    page.click("#sign-in-again")
    page.wait_for_selector("#email")  # signed out: the sign-in page, not the account


# ------------------------------------------------------------------ 4. feedback


@pytest.mark.parametrize("locale", ["th", "en"])
def test_password_change_says_what_happened(page, e2e_world, locale):
    w, t = e2e_world, translator(locale)
    sign_in_to_account(page, w, new_person(w), locale)
    # The rule is there before any mistake, tied to the field.
    assert page.inner_text("#pw-rule") == t("password_rule", n="15")
    assert "pw-rule" in page.get_attribute("#new", "aria-describedby")
    page.fill("#current", "not my password at all, surely")
    page.fill("#new", "a brand new sentence for the password")
    page.click("form[action='/account/password'] button[type=submit]")
    page.wait_for_selector("#pw-error")
    assert page.inner_text("#pw-error") == t("current_password_wrong")
    assert page.get_attribute("#current", "aria-invalid") == "true"
    page.fill("#current", PASSWORD)
    page.fill("#new", "a brand new sentence for the password")
    page.click("form[action='/account/password'] button[type=submit]")
    page.wait_for_url(re.compile(r".*/account\?done=password"))
    assert page.inner_text("#account-notice") == t("password_changed")


# ------------------------------------------------------- 5. key-only accounts


def test_key_only_account_gets_recovery_codes_and_the_key_first(page, e2e_world):
    w, t = e2e_world, translator("en")
    virtual_key(page)
    email = new_person(w)
    sign_in_to_account(page, w, email)
    page.click("#webauthn-register")
    page.wait_for_selector("#recovery-codes")
    assert page.locator("#recovery-codes li").count() == 10
    page.click("#continue")
    page.wait_for_url(re.compile(r".*/account$"))
    assert t("codes_left", n="10") in page.inner_text("main")

    # An app asks for level 2: the key is offered first, no app code field.
    url, *_ = authorize_url(w, rp_client(w), acr_values="urn:govid:acr:2")
    with w.services.sessions.begin() as db:
        db.execute(
            SsoSession.__table__.update()
            .where(SsoSession.sid == session_of(w, email).sid)
            .values(acr="urn:govid:acr:1", amr=["pwd"])
        )
    page.goto(url)
    page.wait_for_selector("#webauthn-start")
    assert page.locator("#code").count() == 0
    first = page.evaluate(
        "document.getElementById('webauthn-start').compareDocumentPosition("
        "document.getElementById('recovery-code')) & Node.DOCUMENT_POSITION_FOLLOWING"
    )
    assert first


# ------------------------------------------------------ 6. detours that explain


def test_new_recovery_codes_at_level_1_say_why_and_come_back_ready(page, e2e_world):
    w, t = e2e_world, translator("en")
    email = new_person(w)
    secret = with_app(w, email)
    sign_in_to_account(page, w, email)
    page.click("#regenerate")
    page.wait_for_selector("#mfa-why")
    assert page.inner_text("#mfa-why") == t("why_recovery")
    assert page.get_attribute("#mfa-cancel", "href") == "/account"
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    page.wait_for_url(re.compile(r".*/account\?ready=recovery"))
    assert page.inner_text("#account-notice") == t("ready_recovery")
    assert page.locator("#recovery-codes").count() == 0  # not done by itself
    page.click("#regenerate")
    page.wait_for_selector("#recovery-codes")


def test_removing_the_last_factor_asks_explains_and_returns_to_the_question(page, e2e_world):
    w, t = e2e_world, translator("th")
    email = new_person(w)
    secret = with_app(w, email)
    sign_in_to_account(page, w, email, "th")
    page.click(".remove-factor")
    page.wait_for_selector("#remove-yes")  # asked first
    assert page.locator("#remove-last").count() == 1
    page.click("#remove-no")
    page.wait_for_url(re.compile(r".*/account$"))
    assert page.locator(".remove-factor").count() == 1  # Cancel removed nothing
    page.click(".remove-factor")
    page.click("#remove-yes")
    page.wait_for_selector("#mfa-why")
    assert page.inner_text("#mfa-why") == t("why_remove")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    page.wait_for_selector("#remove-yes")  # back at the question, not done by itself
    page.click("#remove-yes")
    page.wait_for_url(re.compile(r".*/account\?done=removed"))
    assert page.inner_text("#account-notice") == t("factor_removed")
    assert page.locator(".remove-factor").count() == 0


def test_a_password_alone_cannot_remove_any_second_factor(page, e2e_world):
    """With two factors, a session of a password alone (a stolen password) could remove
    one of them: only the last asked for the second step. Now every removal does, and
    the person comes back to the question."""
    from idp.credentials.models import MfaCredential

    w, t = e2e_world, translator("en")
    email = new_person(w)
    secret = with_app(w, email)
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        key = MfaCredential(
            account_id=account.id,
            kind="webauthn",
            label="Desk key",
            credential_id=f"k-{secrets.token_hex(8)}",
            public_key="pk",
            confirmed_at=utcnow(),
        )
        db.add(key)
        db.flush()
        key_id = key.id
    sign_in_to_account(page, w, email)
    assert page.locator(".remove-factor").count() == 2
    page.goto(f"{w.base}/account/factors/{key_id}/remove")
    page.click("#remove-yes")
    page.wait_for_selector("#mfa-why")  # not removed on a password alone
    assert page.inner_text("#mfa-why") == t("why_remove")
    with w.services.sessions() as db:
        assert len(mfa.second_factors(db, account.id)) == 2
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    page.wait_for_selector("#remove-yes")  # back at the question
    assert page.locator("#remove-last").count() == 0
    page.click("#remove-yes")
    page.wait_for_url(re.compile(r".*/account\?done=removed"))
    with w.services.sessions() as db:
        assert [f.kind for f in mfa.second_factors(db, account.id)] == ["totp"]


def test_adding_an_app_at_level_1_says_why_and_comes_back(page, e2e_world):
    w, t = e2e_world, translator("en")
    email = new_person(w)
    secret = with_app(w, email)
    sign_in_to_account(page, w, email)
    page.goto(f"{w.base}/account/totp")
    page.wait_for_selector("#mfa-why")
    assert page.inner_text("#mfa-why") == t("why_add_totp")
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    page.wait_for_selector("#totp-secret")
    assert urlsplit(page.url).path == "/account/totp"


# ------------------------------------------------------------ the new pages: axe


@pytest.mark.parametrize("locale", ["th", "en"])
def test_new_and_changed_pages_pass_axe(browser, e2e_world, locale):
    if not AXE.exists():
        service_missing("axe-core is not installed (npm ci in tests/interop)")
    w = e2e_world
    context = browser.new_context(locale=locale)
    page = context.new_page()
    virtual_key(page)
    checked = {}
    email = new_person(w)
    secret = with_app(w, email)
    sign_in_to_account(page, w, email, locale)
    checked["account"] = violations(page)
    page.click("#regenerate")
    page.wait_for_selector("#mfa-why")
    checked["mfa with a reason"] = violations(page)
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    page.wait_for_selector("#account-notice")
    checked["account with a notice"] = violations(page)
    page.fill("#current", "wrong")
    page.fill("#new", "short")
    page.click("form[action='/account/password'] button[type=submit]")
    page.wait_for_selector("#pw-error")
    checked["account with a password error"] = violations(page)
    page.click("#webauthn-register")
    page.locator(".remove-factor").nth(1).wait_for()  # the key is listed
    page.click("#webauthn-register")
    page.locator("#webauthn-status:not(:empty)").wait_for()
    checked["account with a key message"] = violations(page)
    page.click(".remove-factor")
    page.wait_for_selector("#remove-yes")
    checked["remove confirmation"] = violations(page)
    page.goto(f"{w.base}/help")
    checked["help"] = violations(page)
    page.goto(f"{w.base}/login?i=expired")
    checked["expired sign-in"] = violations(page)
    page.goto(f"{w.base}/account")
    page.click("#sign-out")
    page.wait_for_selector("#sign-in-again")
    checked["signed out"] = violations(page)
    context.close()
    bad = {name: v for name, v in checked.items() if v}
    assert not bad, bad


# ------------------------------------------- 10 (small ones): phones and managers


def test_show_password_toggle_and_a_numeric_code_field(page, e2e_world):
    w = e2e_world
    email = new_person(w)
    with_app(w, email)
    url, *_ = authorize_url(w, rp_client(w), acr_values="urn:govid:acr:2")
    page.goto(url)
    page.wait_for_selector("#password")
    toggle = page.locator("button.pw-toggle[aria-controls=password]")
    page.fill("#password", PASSWORD)
    toggle.click()
    assert page.get_attribute("#password", "type") == "text"
    assert toggle.get_attribute("aria-pressed") == "true"
    toggle.click()
    assert page.get_attribute("#password", "type") == "password"
    page.fill("#email", email)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_selector("#code")
    assert page.get_attribute("#code", "inputmode") == "numeric"
    assert page.get_attribute("#code", "autocomplete") == "one-time-code"
    assert page.get_attribute("#recovery-code", "inputmode") is None  # letters too
