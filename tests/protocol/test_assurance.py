"""Two assurance levels end to end: TOTP enrolment, step-up with the same sid, replay,
recovery codes, idle downgrade, legacy hashes, lockout, password change."""

import datetime as dt
import re
import uuid

import pyotp
from passlib.hash import ldap_salted_sha1
from sqlalchemy import select, update

from idp.accounts.models import Account
from idp.audit.models import AuditEvent
from idp.credentials.login import unlock_account
from idp.sessions.models import SsoSession
from tests.protocol.conftest import PASSWORD, Browser, callback_params, decode_jwt, form_fields
from tests.protocol.rp import authorize_url, login, rp_client, token_post

L1, L2 = "urn:govid:acr:1", "urn:govid:acr:2"


def enrol_totp(world, user: str) -> tuple[Browser, str, list[str]]:
    """Sign in to the account page and set up an authenticator app, as a person would."""
    b = Browser(world.base)
    page = b.go("/account/totp")
    page = b.login(page, world.users[user])
    page = b.go("/account/totp")  # back from /account after signing in
    assert "<svg" in page.text  # QR code inline
    secret = re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', page.text).group(1)
    fields = form_fields(page.text)
    r = b.go(
        "/account/totp",
        method="POST",
        data={
            "csrf_token": fields["csrf_token"],
            "credential": fields["credential"],
            "i": fields.get("i", ""),
            "code": pyotp.TOTP(secret).at(world.clock.time()),
        },
    )
    codes = re.findall(r"<li><code>([A-Z0-9-]+)</code></li>", r.text)
    assert len(codes) == 10, r.text[:500]
    return b, secret, codes


def next_code(world, secret: str) -> str:
    """The code of the server's next time step: inside the ±1 window and not yet used."""
    return pyotp.TOTP(secret).at(world.clock.time() + 30)


def mfa_submit(b: Browser, page, code: str):
    return b.submit(page, "/mfa", code=code)


def test_step_up_to_level2_keeps_sid_and_renews_auth_time(world):
    _, secret, _codes = enrol_totp(world, "dave")
    b = Browser(world.base)  # another device: password only, level 1
    lg = login(world, user="dave", browser=b)
    _, idt1 = decode_jwt(world.base, lg.token["id_token"])
    assert idt1["acr"] == L1 and idt1["amr"] == ["pwd"]
    world.clock.advance(2)  # auth_time counts whole seconds
    rp = rp_client(world)
    url, verifier, _n, _s = authorize_url(world, rp, acr_values=L2)
    page = b.go(url)
    assert 'action="/mfa"' in page.text and 'action="/login"' not in page.text  # no password
    code = next_code(world, secret)  # enrolment used the current step
    p = callback_params(mfa_submit(b, page, code))
    tok = rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)
    _, idt2 = decode_jwt(world.base, tok["id_token"])
    assert idt2["acr"] == L2 and idt2["amr"] == ["pwd", "otp", "mfa"]
    assert idt2["sid"] == idt1["sid"] and idt2["auth_time"] > idt1["auth_time"]
    intro = token_post(world, "web", {"token": tok["access_token"]}, path="/introspect").json()
    assert intro["acr"] == L2
    assert rp.get(f"{world.base}/userinfo").json()["acr"] == L2
    assert lg.rp.get(f"{world.base}/userinfo").json()["acr"] == L1  # the earlier token
    # The replayed code is refused on the next step-up attempt.
    with world.services.sessions.begin() as db:
        db.execute(
            update(SsoSession).where(SsoSession.sid == idt2["sid"]).values(acr=L1, amr=["pwd"])
        )
    url, *_ = authorize_url(world, rp, acr_values=L2)
    page = b.go(url)
    r = mfa_submit(b, page, code)  # the same code again: replay (even in a new time step)
    assert r.status_code == 401 and 'action="/mfa"' in r.text
    r = mfa_submit(b, page, pyotp.TOTP(secret).at(world.clock.time()))  # older: refused
    assert r.status_code == 401


def test_recovery_code_works_once_and_idle_level2_asks_second_factor_only(world):
    b, _secret, codes = enrol_totp(world, "erin")
    rp = rp_client(world)
    url, *_ = authorize_url(world, rp, acr_values=L2)
    page = b.go(url)  # the enrolment session is level 2 already: straight through
    assert "code" in callback_params(page)
    # 31 minutes idle: level 2 lapses (30 min) but the level-1 session lives (2 h).
    with world.services.sessions.begin() as db:
        db.execute(
            update(SsoSession)
            .where(SsoSession.ended_at.is_(None))
            .values(last_seen_at=world.clock.now() - dt.timedelta(minutes=31))
        )
    url, *_ = authorize_url(world, rp, acr_values=L2)
    page = b.go(url)
    assert 'action="/mfa"' in page.text
    assert "code" in callback_params(mfa_submit(b, page, codes[0].lower()))  # any case
    with world.services.sessions.begin() as db:
        db.execute(
            update(SsoSession).where(SsoSession.ended_at.is_(None)).values(acr=L1, amr=["pwd"])
        )
    url, *_ = authorize_url(world, rp, acr_values=L2)
    page = b.go(url)
    assert mfa_submit(b, page, codes[0]).status_code == 401  # used once only
    assert "code" in callback_params(mfa_submit(b, b.go(url), codes[1]))


def test_client_min_acr_asks_for_second_factor(world):
    b, secret, _ = enrol_totp(world, "frank")
    with world.services.sessions.begin() as db:
        db.execute(
            update(SsoSession).where(SsoSession.ended_at.is_(None)).values(acr=L1, amr=["pwd"])
        )
    rp = rp_client(world, "strict")
    url, verifier, _n, _s = authorize_url(world, rp, acr_values=L1)
    page = b.go(url)
    assert 'action="/mfa"' in page.text
    p = callback_params(mfa_submit(b, page, next_code(world, secret)))
    tok = rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)
    assert decode_jwt(world.base, tok["id_token"])[1]["acr"] == L2


def _wrong_code(world, secret: str) -> str:
    valid = {pyotp.TOTP(secret).at(world.clock.time() + d) for d in (-60, -30, 0, 30, 60)}
    return next(c for c in ("000000", "111111", "222222") if c not in valid)


def test_wrong_second_factor_codes_are_throttled_and_a_success_resets_the_count(world):
    """Two wrong codes, then the right one: signed in, and the count starts again — two
    more wrong codes still leave the right code usable. Without the reset the four
    failures would put the account past the server's delay threshold (3, set in
    conftest) and the right code would be refused for seconds."""
    b, secret, codes = enrol_totp(world, "ivan")
    rp = rp_client(world)

    def second_factor_page():
        with world.services.sessions.begin() as db:
            db.execute(
                update(SsoSession).where(SsoSession.ended_at.is_(None)).values(acr=L1, amr=["pwd"])
            )
        url, *_ = authorize_url(world, rp, acr_values=L2)
        page = b.go(url)
        assert 'action="/mfa"' in page.text
        return page

    for round_, right in enumerate((next_code(world, secret), codes[0])):
        page = second_factor_page()
        for _ in range(2):
            page = mfa_submit(b, page, _wrong_code(world, secret))
            assert page.status_code == 401 and 'action="/mfa"' in page.text, round_
        assert "code" in callback_params(mfa_submit(b, page, right)), round_


def test_legacy_ssha_hash_is_upgraded_at_first_login(world):
    email = world.users["grace"]
    with world.services.sessions.begin() as db:
        db.execute(
            update(Account)
            .where(Account.email == email)
            .values(password_hash=ldap_salted_sha1.hash(PASSWORD))
        )
    login(world, user="grace")
    with world.services.sessions() as db:
        acc = db.scalar(select(Account).where(Account.email == email))
        assert acc.password_hash.startswith("$argon2id$")
        ev = db.scalars(
            select(AuditEvent).where(
                AuditEvent.type == "credentials.password.rehashed",
                AuditEvent.subject == str(acc.id),
            )
        ).one()
        assert ev.details["from_scheme"] == "ldap_salted_sha1"
    login(world, user="grace")  # and the new hash works


def test_lockout_after_repeated_failures_then_unlock(world):
    email = world.users["frank"]

    def attempt(pw):
        b = Browser(world.base)
        url, *_ = authorize_url(world, rp_client(world))
        return b.login(b.go(url), email, pw)

    statuses = []
    for _ in range(12):
        r = attempt("wrong password number one")
        statuses.append(r.status_code)
        if r.status_code == 429:
            wait = int(
                re.search(r"(\d+)", re.sub(r"<[^>]+>", "", r.text.split('role="alert"')[1])).group(
                    1
                )
            )
            if wait > 10:
                break  # locked, not just delayed
            world.clock.advance(wait)
    assert 401 in statuses and statuses[-1] == 429, statuses
    # Even the right password is refused while locked.
    r = attempt(PASSWORD)
    assert r.status_code == 429, (statuses, r.status_code, r.headers.get("location"))
    with world.services.sessions.begin() as db:
        acc = db.scalar(select(Account).where(Account.email == email))
        assert acc.locked_until is not None
        locked = db.scalars(
            select(AuditEvent).where(
                AuditEvent.type == "oidc.account.locked", AuditEvent.subject == str(acc.id)
            )
        ).all()
        assert locked
        assert unlock_account(
            db, world.services.throttle_store(db), acc, by="admin", actor="test-admin"
        )
    assert 'action="/login"' not in attempt(PASSWORD).text  # signed in again


def test_unknown_email_is_throttled_exactly_like_a_known_one(world):
    def sign_in_page():
        b = Browser(world.base)
        url, *_ = authorize_url(world, rp_client(world))
        return b, b.go(url)

    seq = {}
    for email in (world.users["bob"], "ghost-user@nowhere.go.th"):
        # The pages first, then the four posts back to back: the delay after the third
        # failure is one second here (conftest), which a loaded machine could outlast
        # if each attempt also fetched its page.
        pages = [sign_in_page() for _ in range(4)]
        seq[email] = [
            b.login(page, email, "wrong password again and again").status_code for b, page in pages
        ]
    assert seq[world.users["bob"]] == seq["ghost-user@nowhere.go.th"] == [401, 401, 401, 429]


def test_password_change_ends_other_sessions_and_refresh_tokens(world):
    other = login(world, user="alice")
    b = Browser(world.base)
    page = b.login(b.go("/account"), world.users["alice"])
    fields = form_fields(page.text)
    new_pw = "another long passphrase of hers"
    r = b.go(
        "/account/password",
        method="POST",
        data={
            "csrf_token": fields["csrf_token"],
            "current_password": PASSWORD,
            "new_password": new_pw,
        },
    )
    assert r.status_code == 200 and 'action="/account/password"' in r.text
    res = token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": other.token["refresh_token"]}
    )
    assert res.json()["error"] == "invalid_grant"
    url, *_ = authorize_url(world, rp_client(world))
    assert 'action="/login"' in other.browser.go(url).text
    # Weak and wrong passwords are explained.
    page = b.go("/account")
    fields = form_fields(page.text)
    r = b.go(
        "/account/password",
        method="POST",
        data={
            "csrf_token": fields["csrf_token"],
            "current_password": new_pw,
            "new_password": "passwordpassword",
        },
    )
    assert r.status_code == 400 and "รหัสผ่าน" in r.text
    with world.services.sessions.begin() as db:  # put it back for other tests
        from idp.credentials.passwords import PasswordHasher

        acc = db.scalar(select(Account).where(Account.email == world.users["alice"]))
        acc.password_hash = PasswordHasher(world.services.settings).hash(PASSWORD)


THAI_DIGITS = str.maketrans("0123456789", "๐๑๒๓๔๕๖๗๘๙")


def test_a_password_alone_cannot_bind_a_factor_to_an_account_that_has_one(world):
    # NIST SP 800-63B §6.1.2.1: oscar has an authenticator app; someone holding only his
    # password must not enrol their own (which would also have replaced his).
    _owner, secret, _ = enrol_totp(world, "oscar")
    thief = Browser(world.base)
    url, verifier, _n, _s = authorize_url(world, rp_client(world, "strict"))
    page = thief.login(thief.go(url), world.users["oscar"])
    assert 'action="/mfa"' in page.text
    fields = form_fields(page.text)
    # The sign-in's enrolment page, asked for directly, sends back to /mfa.
    r = thief.go(f"/mfa/enrol?i={fields['i']}")
    assert 'action="/mfa"' in r.text and "totp-secret" not in r.text
    r = thief.go(
        "/mfa/enrol",
        method="POST",
        data={**fields, "credential": str(uuid.uuid4()), "code": "123456"},
    )
    assert 'action="/mfa"' in r.text and "<li><code>" not in r.text
    # So does the account page's "add an authenticator app" (a level-1 session).
    r = thief.go("/account/totp")
    assert 'action="/mfa"' in r.text and "totp-secret" not in r.text
    # Oscar's own app still works, typed with Thai digits too (a Thai keyboard).
    page = thief.go(url)
    p = callback_params(mfa_submit(thief, page, next_code(world, secret).translate(THAI_DIGITS)))
    tok = rp_client(world, "strict").fetch_token(
        f"{world.base}/token", code=p["code"], code_verifier=verifier
    )
    assert decode_jwt(world.base, tok["id_token"])[1]["acr"] == L2


def test_odd_characters_in_codes_and_tokens_are_refused_not_errors(world):
    enrol_totp(world, "peggy")
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "strict"))
    page = b.login(b.go(url), world.users["peggy"])
    assert 'action="/mfa"' in page.text
    r = mfa_submit(b, page, "²³¹²³¹")  # digit-like, not digits
    assert r.status_code == 401 and 'action="/mfa"' in r.text
    for path in ("/login?i=x.%C3%A9", "/mfa?i=x.%C3%A9", "/authorize/resume?i=x.%C3%A9"):
        r = b.go(path)
        assert r.status_code == 400 and r.headers["content-type"].startswith("text/html"), path
    r = b.go("/mfa", method="POST", data={**form_fields(page.text), "csrf_token": "é", "code": "1"})
    assert r.status_code == 400


def test_a_wrong_app_code_typed_with_a_space_is_audited_as_an_app_code(world):
    """'123 456' is an app code as the person sees it (the check removes the space): a
    wrong one is audited as a failed app code, not a failed recovery code."""
    from tests.protocol.test_pages_csp import fresh_user

    user = fresh_user(world, "spaced")
    _, secret, _ = enrol_totp(world, user)
    b = Browser(world.base)
    login(world, user=user, browser=b)  # level 1 on this browser
    url, *_ = authorize_url(world, rp_client(world), acr_values=L2)
    page = b.go(url)
    assert 'action="/mfa"' in page.text
    wrong = _wrong_code(world, secret)
    r = mfa_submit(b, page, f"{wrong[:3]} {wrong[3:]}")
    assert r.status_code == 401 and 'action="/mfa"' in r.text
    with world.services.sessions() as db:
        account = db.scalars(select(Account).where(Account.email == world.users[user])).one()
        event = db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "oidc.mfa.failed", AuditEvent.subject == str(account.id))
            .order_by(AuditEvent.seq.desc())
        ).first()
    assert event.details == {"method": "totp", "reason": "wrong_or_reused"}
    # The right code, typed the same way, is taken.
    right = next_code(world, secret)
    assert "code" in callback_params(mfa_submit(b, b.go(url), f"{right[:3]} {right[3:]}"))
