"""Account recovery (issue 19; NIST SP 800-63B-4 §4.2): "Forgot password" lets a person
who proves a second factor or a recovery code set a new password, which ends their
other sessions and tokens and is audited; everyone else, at any address, is told the
same thing: whom to contact. Against a real `idp serve` on both databases."""

from __future__ import annotations

import re
import secrets
import uuid

import pyotp
from sqlalchemy import select

from idp.accounts import service as accounts
from idp.agencies import service as agencies
from idp.audit.models import AuditEvent
from idp.credentials import mfa
from tests.conftest import service_missing
from tests.mail_relay import subject
from tests.protocol.conftest import PASSWORD, Browser, form_fields
from tests.protocol.rp import authorize_url, rp_client

NEW_PASSWORD = "a brand new long passphrase for recovery"


def _suffix(world) -> str:
    return world.users["alice"].split("@")[1].split(".")[0]


def _person(world, *, totp=False, codes=False, status="active") -> tuple[str, str | None, list]:
    u = _suffix(world)
    email = f"rec-{secrets.token_hex(3)}@{u}.go.th"
    secret, recovery = None, []
    with world.services.sessions.begin() as db:
        acc = accounts.create(
            db,
            accounts.NewAccount(email=email, agency_code=f"d-{u}", password=PASSWORD),
            hasher=world.services.hasher,
            cipher=world.services.cipher,
        )
        if totp:
            cred, uri, _svg = mfa.start_totp(db, world.services.cipher, acc, issuer_name="GovID")
            secret = re.search(r"secret=([A-Z2-7]+)", uri).group(1)
            now = world.clock.now()  # the server's time, as its steps are counted
            code = pyotp.TOTP(secret).at(now)
            assert mfa.confirm_totp(db, world.services.cipher, acc, cred.id, code, now)
        if codes:
            recovery = mfa.regenerate_recovery_codes(db, acc)
        acc.status = status
    return email, secret, recovery


def _next_code(world, secret: str) -> str:
    # The current step was spent confirming the app (each step is accepted once).
    return pyotp.TOTP(secret).at(world.clock.time() + 30)


def _prove_page(b: Browser, email: str, *, lang: str = "en"):
    b.http.headers["Accept-Language"] = lang
    start = b.http.get("/recover")
    assert start.status_code == 200 and 'action="/recover"' in start.text
    return b.submit(start, "/recover", email=email)


def _comparable(page, email: str) -> str:
    text = page.text.replace(email, "EMAIL")
    return re.sub(r'(value|data-r|data-csrf)="[^"]*"', r'\1=""', text)


def test_the_sign_in_page_offers_forgot_password(world):
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="en")
    page = b.go(url)
    link = re.search(r'<a href="([^"]+)" id="forgot-password">', page.text).group(1)
    assert link.startswith("/recover?i=")
    assert 'action="/recover"' in b.http.get(link.replace("&amp;", "&")).text


def test_a_recovery_code_sets_a_new_password_and_ends_the_other_sessions(world):
    email, _secret, codes = _person(world, totp=True, codes=True)
    # A browser signed in with the old password: its session must end.
    other = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"))
    assert other.login(other.go(url), email).status_code in (302, 303)
    assert other.http.get("/account").status_code == 200

    b = Browser(world.base)
    page = _prove_page(b, email)
    assert page.status_code == 200 and "Prove it is you" in page.text
    wrong = b.submit(
        page, "/recover/code", r=form_fields(page.text)["r"], code="AAAA-BBBB-CCCC-DDDD"
    )
    assert wrong.status_code == 401 and "That code did not work" in wrong.text
    pw = b.submit(page, "/recover/code", r=form_fields(page.text)["r"], code=codes[0].lower())
    assert pw.status_code == 200 and 'action="/recover/password"' in pw.text, pw.text[:600]
    proof = form_fields(pw.text)["proof"]
    weak = b.submit(pw, "/recover/password", proof=proof, new_password="short")
    assert weak.status_code == 400 and 'role="alert"' in weak.text
    done = b.submit(pw, "/recover/password", proof=proof, new_password=NEW_PASSWORD)
    assert done.status_code == 200 and "Your new password is set" in done.text
    # The same proof cannot set a password again.
    again = b.submit(pw, "/recover/password", proof=proof, new_password=NEW_PASSWORD + "x")
    assert again.status_code == 400 and "recovery_expired" in again.text

    # The other browser is signed out; the old password no longer works, the new one does.
    assert other.http.get("/account").status_code in (302, 303)
    fresh = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"))
    page = fresh.go(url)
    assert fresh.login(page, email, PASSWORD).status_code == 401
    assert fresh.login(page, email, NEW_PASSWORD).status_code in (302, 303)

    with world.services.sessions() as db:
        acc = accounts.get_by_email(db, email)
        assert mfa.recovery_codes_left(db, acc.id) == len(codes) - 1  # the code is spent
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.subject == str(acc.id)).order_by(AuditEvent.seq)
        ).all()
    changed = [e for e in events if e.type == "credentials.password.changed"]
    assert len(changed) == 1
    d = changed[0].details
    assert d["by"] == "recovery" and d["method"] == "recovery_code"
    assert d["sessions_ended"] == 1 and d["notified_to"] == email
    if world.mail is None:
        service_missing("aiosmtpd is not installed (make install-test)")
    assert d["notification"] == "handed to the mail relay after commit"
    # The person is told at their address, in Thai and English, with nothing that
    # grants access (no link, no code, not the new password).
    [notice] = world.mail.to(email)
    assert notice["To"] == email
    assert subject(notice) == "รหัสผ่าน GovID ของคุณถูกตั้งใหม่ / Your GovID password was reset"
    body = notice.get_content()
    assert "รหัสกู้คืน" in body and "using a recovery code" in body
    assert "://" not in body and world.base not in notice.as_string()
    assert NEW_PASSWORD not in notice.as_string()
    assert not any(c in notice.as_string() for c in codes)
    failed = [e for e in events if e.type == "credentials.password.recovery_failed"]
    assert [f.details["reason"] for f in failed] == ["wrong_code"]


def test_an_app_code_works_too_in_thai(world):
    email, secret, _codes = _person(world, totp=True)
    b = Browser(world.base)
    page = _prove_page(b, email, lang="th")
    assert '<html lang="th">' in page.text and "ยืนยันว่าเป็นคุณ" in page.text
    pw = b.submit(
        page, "/recover/code", r=form_fields(page.text)["r"], code=_next_code(world, secret)
    )
    assert pw.status_code == 200 and "ตั้งรหัสผ่านใหม่" in pw.text
    done = b.submit(
        pw, "/recover/password", proof=form_fields(pw.text)["proof"], new_password=NEW_PASSWORD
    )
    assert done.status_code == 200 and 'id="recover-done"' in done.text


def test_no_enumeration_every_address_gets_the_same_page_and_the_same_refusal(world):
    u = _suffix(world)
    with_factor, secret, _ = _person(world, totp=True)
    without, _, _ = _person(world)
    suspended, s_secret, _ = _person(world, totp=True, status="suspended")
    unknown = f"nobody-{secrets.token_hex(3)}@{u}.go.th"
    pages, refusals = [], []
    for email, code in (
        (with_factor, "000000"),
        (without, "000000"),
        # a right code (at the servers' clock) of a suspended account
        (suspended, pyotp.TOTP(s_secret).at(world.clock.time())),
        (unknown, "000000"),
    ):
        b = Browser(world.base)
        page = _prove_page(b, email)
        pages.append(_comparable(page, email))
        r = b.submit(page, "/recover/code", r=form_fields(page.text)["r"], code=code)
        refusals.append((r.status_code, _comparable(r, email)))
    assert all(p == pages[0] for p in pages), "the proof page differs between addresses"
    assert all(r == refusals[0] for r in refusals), "the refusal differs between addresses"
    assert refusals[0][0] == 401
    with world.services.sessions() as db:
        acc = accounts.get_by_email(db, suspended)
        ev = db.scalars(
            select(AuditEvent).where(
                AuditEvent.type == "credentials.password.recovery_failed",
                AuditEvent.subject == str(acc.id),
            )
        ).all()
    assert [e.details["reason"] for e in ev] == ["unknown_or_ineligible"]


def test_the_helpdesk_named_comes_from_the_mail_domain_typed(world):
    u = _suffix(world)
    with world.services.sessions.begin() as db:
        ministry = agencies.get_by_code(db, f"m-{u}")
        ministry.helpdesk_email = f"helpdesk@{u}.go.th"
        ministry.helpdesk_phone = "02 123 4567"
    try:
        b = Browser(world.base)
        page = _prove_page(b, f"whoever-{uuid.uuid4().hex[:6]}@{u}.go.th")
        assert "Contact the helpdesk of Test Ministry" in page.text
        assert (
            f'href="mailto:helpdesk@{u}.go.th"' in page.text and 'href="tel:021234567"' in page.text
        )
        other = _prove_page(Browser(world.base), "someone@unknown-domain.example")
        assert "GovID helpdesk" in other.text
        assert world.services.settings.helpdesk_email in other.text
    finally:
        with world.services.sessions.begin() as db:
            ministry = agencies.get_by_code(db, f"m-{u}")
            ministry.helpdesk_email = ministry.helpdesk_phone = None


def test_guessing_is_throttled_like_a_sign_in_for_any_address(world):
    u = _suffix(world)
    for email in (_person(world, totp=True)[0], f"ghost-{secrets.token_hex(3)}@{u}.go.th"):
        b = Browser(world.base)
        page = _prove_page(b, email)
        r = form_fields(page.text)["r"]
        statuses = [
            b.submit(page, "/recover/code", r=r, code="000000").status_code for _ in range(5)
        ]
        # IDP_LOGIN_DELAY_AFTER_FAILURES=3 in the test server: the 4th try waits.
        assert statuses[:3] == [401, 401, 401] and 429 in statuses[3:], (email, statuses)
        last = b.submit(page, "/recover/code", r=r, code="000000")
        assert last.status_code == 429 and int(last.headers["retry-after"]) > 0


def test_forms_need_their_csrf_token_and_a_signed_step(world):
    b = Browser(world.base)
    page = _prove_page(b, "x@example.go.th")
    r = b.http.post(
        "/recover/code", data={"r": form_fields(page.text)["r"], "code": "1", "csrf_token": "x"}
    )
    assert r.status_code == 400
    r = b.http.post("/recover/code", data={"r": "forged", "code": "1", "csrf_token": "x"})
    assert r.status_code == 400 and "recovery_expired" in r.text
    r = b.http.post("/recover/password", data={"proof": "forged", "new_password": NEW_PASSWORD})
    assert r.status_code == 400
