"""Passkeys in Chromium with the pages' CSP in force (issue 19), with the CDP virtual
authenticator (a discoverable credential with user verification): offered after a
password sign-in, added in one click, then a one-step sign-in that reaches the app at
level 2 (acr and amr in the ID token); "Not now" goes straight on; a suspended
account's passkey is refused and audited; a security key without a resident
credential still works as the second factor (tests/e2e/test_webauthn.py)."""

from __future__ import annotations

import contextlib
import re
import secrets
import time
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest
from joserfc.jwk import RSAKey
from playwright.sync_api import Error as PlaywrightError
from sqlalchemy import select

from idp import migrate
from idp.accounts import service as accounts
from idp.audit.models import AuditEvent
from idp.credentials import mfa
from idp.credentials import webauthn_keys as wa
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings
from tests.e2e.test_accessibility import axe_path, violations  # noqa: F401 (fixture)
from tests.protocol.conftest import PASSWORD, BackchannelReceiver, decode_jwt, seed
from tests.protocol.rp import authorize_url, rp_client
from tests.server import base_env, free_port, serve

L2 = "urn:govid:acr:2"
RP = "https://rp.example.go.th/"
# A browser that does not offer passkeys in autofill (older ones): only the button.
NO_AUTOFILL = (
    "if (window.PublicKeyCredential) PublicKeyCredential.isConditionalMediationAvailable ="
    " () => Promise.resolve(false);"
)


@pytest.fixture(scope="module")
def offer_world(tmp_path_factory):
    """A GovID server with the passkey offer on (the other tests turn it off)."""
    url = f"sqlite:///{tmp_path_factory.mktemp('passkeys')}/idp.db"
    migrate.upgrade(url)
    port = free_port()
    issuer = f"http://localhost:{port}"
    services = Services(make_settings(url, issuer=issuer, passkey_offer=True))
    receiver = BackchannelReceiver()
    rp_key = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "alg": "RS256"})
    w = seed(services, secrets.token_hex(3), receiver, rp_key)
    env = base_env(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
        IDP_ISSUER=issuer,
        IDP_PORT=str(port),
        IDP_ARGON2_MEMORY_KIB="8192",
        IDP_ARGON2_TIME_COST="1",
        IDP_PASSKEY_OFFER="true",
    )
    ctx = serve(env, port=port, timeout=120)  # a loaded machine starts it slowly
    w.base = ctx.__enter__().replace("127.0.0.1", "localhost")
    yield w
    ctx.__exit__(None, None, None)
    receiver.close()
    services.close()


def person(w) -> str:
    u = w.users["alice"].split("@")[1].split(".")[0]
    email = f"pk-{secrets.token_hex(3)}@{u}.go.th"
    with w.services.sessions.begin() as db:
        accounts.create(
            db,
            accounts.NewAccount(email=email, agency_code=f"d-{u}", password=PASSWORD),
            hasher=w.services.hasher,
            cipher=w.services.cipher,
        )
    return email


def chromium(browser, *, resident: bool, locale: str = "en-GB"):
    context = browser.new_context(locale=locale)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {
            "options": {
                "protocol": "ctap2",
                "transport": "internal",
                "hasResidentKey": resident,
                "hasUserVerification": True,
                "isUserVerified": True,
            }
        },
    )
    return context, page


def password_sign_in(page, url: str, email: str) -> None:
    page.goto(url)
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")


def code_of(request_url: str) -> str:
    return parse_qs(urlsplit(request_url).query)["code"][0]


def test_offered_after_sign_in_then_one_step_sign_in_at_level_2(browser, offer_world):
    w = offer_world
    email = person(w)
    context, page = chromium(browser, resident=True)
    client = rp_client(w)
    url, *_ = authorize_url(w, client)
    password_sign_in(page, url, email)
    page.wait_for_url(re.compile(r"/passkey/offer\?"))
    assert page.locator("h1").inner_text() == "Add a passkey"
    with page.expect_request(lambda r: r.url.startswith(RP)) as req:
        page.click("#passkey-add")
    assert "code=" in req.value.url  # on to the app, as the sign-in was going
    with w.services.sessions() as db:
        acc = accounts.get_by_email(db, email)
        assert len(wa.keys_of(db, acc.id)) == 1

    # Another day: the app asks for level 2. The browser offers the passkey as soon as
    # the sign-in page opens (conditional mediation: the virtual authenticator answers
    # at once, where a person would pick it from the email field's suggestions).
    context.clear_cookies()
    url, verifier, *_ = authorize_url(w, client, acr_values=L2)
    # The passkey may answer and the page move on before goto returns.
    with (
        page.expect_request(lambda r: r.url.startswith(RP)) as req,
        contextlib.suppress(PlaywrightError),
    ):
        page.goto(url, wait_until="commit")
    tok = client.fetch_token(f"{w.base}/token", code=code_of(req.value.url), code_verifier=verifier)
    _, idt = decode_jwt(w.base, tok["id_token"])
    assert idt["acr"] == L2 and idt["amr"] == ["hwk", "user", "mfa"]
    assert idt["sub"] == str(acc.id)

    # A browser without passkey autofill: the "Sign in with a passkey" button, one step.
    context.clear_cookies()
    context.add_init_script(NO_AUTOFILL)
    url, verifier, *_ = authorize_url(w, client, acr_values=L2)
    page.goto(url)
    page.wait_for_selector("#passkey-start:not([hidden])")
    assert page.locator("#password").count() == 1  # the password stays available
    with page.expect_request(lambda r: r.url.startswith(RP)) as req:
        page.click("#passkey-start")
    tok = client.fetch_token(f"{w.base}/token", code=code_of(req.value.url), code_verifier=verifier)
    _, idt = decode_jwt(w.base, tok["id_token"])
    assert idt["acr"] == L2 and idt["amr"] == ["hwk", "user", "mfa"]
    with w.services.sessions() as db:
        ev = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "oidc.login.succeeded", AuditEvent.subject == str(acc.id))
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert ev.details["method"] == "passkey" and ev.details["acr"] == L2
    context.close()


def test_not_now_goes_on_to_the_app_and_is_remembered(browser, offer_world):
    w = offer_world
    email = person(w)
    context, page = chromium(browser, resident=True, locale="th-TH")
    url, *_ = authorize_url(w, rp_client(w), ui_locales="th")
    password_sign_in(page, url, email)
    page.wait_for_url(re.compile(r"/passkey/offer\?"))
    assert page.locator("html").get_attribute("lang") == "th"
    assert page.locator("h1").inner_text() == "เพิ่มพาสคีย์"
    with page.expect_request(lambda r: r.url.startswith(RP)):
        page.click("#passkey-skip")
    # The next sign-in on this browser is not asked again.
    page.context.clear_cookies(name="govid_session")
    url, *_ = authorize_url(w, rp_client(w), prompt="login")
    with page.expect_request(lambda r: r.url.startswith(RP)):
        password_sign_in(page, url, email)
    context.close()


def test_a_suspended_accounts_passkey_is_refused_and_audited(browser, offer_world):
    w = offer_world
    email = person(w)
    context, page = chromium(browser, resident=True)
    url, *_ = authorize_url(w, rp_client(w))
    password_sign_in(page, url, email)
    page.wait_for_url(re.compile(r"/passkey/offer\?"))
    with page.expect_request(lambda r: r.url.startswith(RP)):
        page.click("#passkey-add")
    with w.services.sessions.begin() as db:
        acc = accounts.get_by_email(db, email)
        acc.status = "suspended"
        account_id = acc.id
    context.clear_cookies()
    context.add_init_script(NO_AUTOFILL)
    url, *_ = authorize_url(w, rp_client(w))
    page.goto(url)
    with page.expect_response(lambda r: r.url.endswith("/login/passkey/verify")) as answer:
        page.click("#passkey-start")
    assert answer.value.status == 401, answer.value.text()
    status = page.locator("#webauthn-status")
    status.filter(has_text="could not sign you in with this passkey").wait_for()
    assert "/login" in page.url or "/authorize" in page.url
    with w.services.sessions() as db:
        ev = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "oidc.login.failed", AuditEvent.subject == str(account_id))
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert ev.outcome == "failure"
    assert ev.details == {"reason": "suspended", "method": "passkey"}
    context.close()


def test_a_key_without_a_passkey_is_told_in_words(browser, offer_world):
    """An authenticator holding no passkey for GovID: the sign-in page says so, in the
    page's words, and the password form is still there."""
    w = offer_world
    context, page = chromium(browser, resident=False)
    url, *_ = authorize_url(w, rp_client(w), ui_locales="th")
    page.goto(url)
    page.click("#passkey-start")
    status = page.locator("#webauthn-status")
    status.filter(has_text=re.compile(r"\S")).wait_for(timeout=90_000)
    assert "Error" not in status.inner_text()
    assert page.locator("#password").count() == 1
    context.close()


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_offer_page_passes_axe(browser, offer_world, axe_path, lang):  # noqa: F811
    w = offer_world
    email = person(w)
    context, page = chromium(browser, resident=True, locale=lang)
    url, *_ = authorize_url(w, rp_client(w), ui_locales=lang)
    password_sign_in(page, url, email)
    page.wait_for_url(re.compile(r"/passkey/offer\?"))
    assert page.locator("html").get_attribute("lang") == lang
    assert violations(page) == []
    context.close()


def test_add_a_passkey_on_the_account_page_then_sign_in_to_it(browser, e2e_world):
    """No offer here (e2e_world has it off): the account page's own button. A first
    factor brings recovery codes; the next sign-in to the account page is one step."""
    w = e2e_world
    email = person(w)
    context, page = chromium(browser, resident=True)
    page.goto(f"{w.base}/account")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(f"{w.base}/account")
    page.fill("#key-label", "Phone")
    page.click("#passkey-add")
    page.wait_for_selector("#recovery-codes")
    page.click("#continue")
    page.locator(".factor-name", has_text="Phone").wait_for()
    context.clear_cookies()
    page.goto(f"{w.base}/account", wait_until="commit")
    page.wait_for_url(f"{w.base}/account")  # the passkey answered the sign-in page
    page.wait_for_selector("#sign-in-strength")
    with w.services.sessions() as db:
        acc = accounts.get_by_email(db, email)
        ev = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "oidc.login.succeeded", AuditEvent.subject == str(acc.id))
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert ev.details["method"] == "passkey" and ev.details["acr"] == L2
    context.close()


def test_offered_after_an_app_code_to_people_without_a_key(browser, offer_world):
    """Someone with an authenticator app and no key: after the second step of an app
    asking for level 2, the offer; adding goes on to the app."""
    w = offer_world
    email = person(w)
    with w.services.sessions.begin() as db:
        acc = accounts.get_by_email(db, email)
        cred, uri, _ = mfa.start_totp(db, w.services.cipher, acc, issuer_name="GovID")
        secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
        assert mfa.confirm_totp(db, w.services.cipher, acc, cred.id, pyotp.TOTP(secret).now())
    context, page = chromium(browser, resident=True)
    client = rp_client(w)
    url, verifier, *_ = authorize_url(w, client, acr_values=L2)
    password_sign_in(page, url, email)  # no offer yet: the account has a factor
    page.wait_for_selector("#code")
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("form[action='/mfa'] button[type=submit]")
    page.wait_for_url(re.compile(r"/passkey/offer\?"))
    with page.expect_request(lambda r: r.url.startswith(RP)) as req:
        page.click("#passkey-add")
    tok = client.fetch_token(f"{w.base}/token", code=code_of(req.value.url), code_verifier=verifier)
    _, idt = decode_jwt(w.base, tok["id_token"])
    assert idt["acr"] == L2
    with w.services.sessions() as db:
        assert len(wa.keys_of(db, acc.id)) == 1
    context.close()


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_account_page_tells_passkeys_from_security_keys(
    browser,
    e2e_world,
    axe_path,  # noqa: F811
    lang,
):
    """One account, one authenticator: "Add a passkey" makes a discoverable credential,
    "Add a security key" (resident key discouraged) a plain one; the list names each for
    what it is, in the page's language, and the page passes axe."""
    w = e2e_world
    email = person(w)
    context = browser.new_context(locale=lang)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("WebAuthn.enable")
    options = {"protocol": "ctap2", "hasUserVerification": True, "isUserVerified": True}
    phone = cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {"options": {**options, "transport": "internal", "hasResidentKey": True}},
    )["authenticatorId"]
    page.goto(f"{w.base}/account?lang={lang}")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("form[action='/login'] button[type=submit]")
    page.wait_for_url(re.compile(re.escape(f"{w.base}/account")))
    page.fill("#key-label", "Phone")
    page.click("#passkey-add")
    page.wait_for_selector("#recovery-codes")
    page.click("#continue")
    page.locator(".factor-name", has_text="Phone").wait_for()
    # A second authenticator, a USB key: the phone would refuse (it holds a credential
    # the registration excludes). Level 2 now, from the passkey just proved.
    cdp.send("WebAuthn.removeVirtualAuthenticator", {"authenticatorId": phone})
    cdp.send(
        "WebAuthn.addVirtualAuthenticator",
        {"options": {**options, "transport": "usb", "hasResidentKey": False}},
    )
    page.fill("#key-label", "Blue key")
    page.click("#webauthn-register")
    page.locator(".factor-name", has_text="Blue key").wait_for()
    names = page.locator(".factor-name").all_inner_texts()
    passkey, key = ("พาสคีย์", "กุญแจความปลอดภัย") if lang == "th" else ("Passkey", "Security key")
    assert f"{passkey}: Phone" in names and f"{key}: Blue key" in names, names
    assert page.locator("html").get_attribute("lang") == lang
    assert violations(page) == []
    with w.services.sessions() as db:
        acc = accounts.get_by_email(db, email)
        kinds = {k.label: k.discoverable for k in wa.keys_of(db, acc.id)}
    assert kinds == {"Phone": True, "Blue key": False}
    context.close()
