"""Account recovery without the password (NIST SP 800-63B-4 §4.2, account
recovery): a person who still holds a second factor (authenticator app, security key
or passkey) or an unused recovery code proves it and sets a new password.

No account enumeration: the address typed is never looked up before a proof is
checked, every failure (unknown address, suspended account, account without a factor,
an agency whose directory holds the password, a wrong code) is the same failure, and
the throttle is keyed by the address typed, known or not, and by the client address,
with the sign-in's rules and windows (idp.credentials.login). The helpdesk to contact
comes from the mail domain typed, never from an account.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.accounts.service import get_by_email
from idp.audit import service as audit
from idp.config import Settings
from idp.credentials import mfa
from idp.credentials import webauthn_keys as wa
from idp.credentials.login import address_windows, rules_for, user_key
from idp.credentials.throttle import ThrottleStore, decide
from idp.crypto import DataCipher
from idp.db import utcnow

MAX_EMAIL = 320


@dataclass(frozen=True)
class Proof:
    account: Account | None
    method: str | None = None
    retry_after: int = 0

    @property
    def ok(self) -> bool:
        return self.account is not None


def normalise_email(email: str) -> str:
    return (email or "").strip().lower()[:MAX_EMAIL]


def _key(email: str) -> str:
    # Its own counter: guessing codes here does not lock the person's sign-in, and
    # failed sign-ins do not lock recovery; both feed the same address windows.
    return f"recover:{user_key(email)}"


def eligible(db: Session, account: Account | None, cipher: DataCipher | None) -> bool:
    """Whether GovID itself may set this account's password after a proof: an active
    account with a local password (not one its agency's LDAP/AD checks)."""
    if account is None or account.status != "active":
        return False
    if cipher is not None:
        from idp.directory import agency_federation

        if agency_federation.config_for(db, account.agency, cipher=cipher) is not None:
            return False
    return True


def gate(
    settings: Settings,
    store: ThrottleStore,
    email: str,
    ip: str | None,
    now: dt.datetime | None = None,
) -> int:
    """Seconds to wait before another attempt for this address (0: go on), judged at
    ``now`` (``Services.clock``)."""
    now = now or utcnow()
    windows = address_windows(settings, ip, now) if ip else []
    key = _key(email)
    states = store.get_many([key] + [k for k, _ in windows])
    suspect = any(states[k].failures >= settings.ip_failure_threshold for k, _ in windows)
    decision = decide(states[key], rules_for(settings, suspect_address=suspect), now)
    if decision.expired_lock:
        store.clear(key)
    return 0 if decision.allowed else decision.retry_after


def _failure(
    db: Session,
    settings: Settings,
    store: ThrottleStore,
    email: str,
    account: Account | None,
    method: str,
    reason: str,
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime,
) -> Proof:
    windows = address_windows(settings, ip, now) if ip else []
    if windows:
        window, expires = windows[0]
        store.add(window, 1, now, expires)
    store.record_failure(_key(email), rules_for(settings), now)
    audit.record(
        db,
        "credentials.password.recovery_failed",
        outcome="failure",
        subject=str(account.id) if account else None,
        agency_id=account.agency_id if account else None,
        ip=ip,
        user_agent=user_agent,
        details={"method": method, "reason": reason},
    )
    return Proof(None)


def prove_code(
    db: Session,
    settings: Settings,
    cipher: DataCipher,
    store: ThrottleStore,
    email: str,
    code: str,
    *,
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime | None = None,
) -> Proof:
    """A six-digit code from the person's app, or one of their recovery codes; the
    throttle and the app's time step are judged at ``now`` (``Services.clock``)."""
    now = now or utcnow()
    email = normalise_email(email)
    wait = gate(settings, store, email, ip, now)
    digits = mfa.ascii_digits((code or "").strip())
    method = "totp" if digits is not None and len(digits) == 6 else "recovery_code"
    if wait:
        return Proof(None, method, retry_after=wait)
    account = get_by_email(db, email) if email else None
    if account is None or not eligible(db, account, cipher):
        reason = "unknown_or_ineligible"
        return _failure(db, settings, store, email, account, method, reason, ip, user_agent, now)
    if digits is not None and method == "totp":
        ok = mfa.verify_totp(db, cipher, account, digits, now)
    else:
        ok = len(code or "") <= 64 and mfa.use_recovery_code(db, account, code)
    if not ok:
        return _failure(
            db, settings, store, email, account, method, "wrong_code", ip, user_agent, now
        )
    store.clear(_key(email))
    return Proof(account, method)


def key_options(db: Session, settings: Settings, email: str) -> tuple[str, bytes]:
    """WebAuthn request options for the address typed. The account's keys when it may
    recover; otherwise one stand-in credential id derived from the address (the same
    every time), so the answer has the same shape whether the address has an account.
    User verification is preferred, as for the second step."""
    email = normalise_email(email)
    account = get_by_email(db, email) if email else None
    if account is not None and account.status == "active" and wa.keys_of(db, account.id):
        return wa.authentication_options(db, account, settings.issuer)
    fake = hmac.new(
        hashlib.sha256(f"govid/recovery-key/{settings.secret_key}".encode()).digest(),
        email.encode(),
        hashlib.sha256,
    ).digest()
    return wa.authentication_options_for_ids(settings.issuer, [fake])


def prove_key(
    db: Session,
    settings: Settings,
    cipher: DataCipher,
    store: ThrottleStore,
    email: str,
    credential: dict,
    challenge: bytes,
    *,
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime | None = None,
) -> Proof:
    now = now or utcnow()
    email = normalise_email(email)
    wait = gate(settings, store, email, ip, now)
    if wait:
        return Proof(None, "webauthn", retry_after=wait)
    account = get_by_email(db, email) if email else None
    if account is None or not eligible(db, account, cipher):
        reason = "unknown_or_ineligible"
        return _failure(
            db, settings, store, email, account, "webauthn", reason, ip, user_agent, now
        )
    try:
        wa.authenticate(db, account, settings.issuer, credential, challenge)
    except wa.WebAuthnError:
        reason = "wrong_key"
        return _failure(
            db, settings, store, email, account, "webauthn", reason, ip, user_agent, now
        )
    store.clear(_key(email))
    return Proof(account, "webauthn")
