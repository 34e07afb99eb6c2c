"""Signing a person in, the use cases behind the sign-in pages (each written once):

* ``with_password``: the password checked (throttled: ``login.password_login``), every
  failure answered in the same time, a new session (the browser's old one ended: no
  session fixation, OWASP ASVS 3.2.1), audited;
* ``with_passkey_account``: the same new session at level 2 after a passkey;
* ``verify_second_factor``: an app code or a recovery code, throttled per account;
* ``step_up``: level 2 for the session once a second factor is proved, audited.

The page decides what the person sees; nothing here knows about HTTP."""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.config import Settings
from idp.credentials import mfa
from idp.credentials.login import LoginResult, password_login, rules_for
from idp.credentials.passwords import PasswordHasher
from idp.credentials.throttle import ThrottleStore, decide
from idp.crypto import DataCipher
from idp.db import utcnow
from idp.keys.service import KeyRing
from idp.sessions import service as sessions
from idp.sessions.logout import end_session
from idp.sessions.models import SsoSession

T = TypeVar("T")


@dataclass(frozen=True)
class Where:
    """Where a sign-in comes from: for the audit events and the session row."""

    ip: str | None = None
    user_agent: str | None = None
    client_id: str | None = None  # the app the sign-in is for, if any


@dataclass
class SignedIn(Generic[T]):
    result: LoginResult
    session: sessions.NewSession | None = None
    answer: T | None = None  # what ``then`` returned


def failure_floor(settings: Settings, started: float) -> None:
    """Wait until a failed attempt that began at ``started`` (``time.monotonic()``) has
    taken ``IDP_LOGIN_FAILURE_FLOOR_MS``: every failure costs the same time, so timing
    tells no one whether an account exists (sign-in and account recovery)."""
    time.sleep(max(0.0, settings.login_failure_floor_ms / 1000 - (time.monotonic() - started)))


def with_password(
    db: Session,
    hasher: PasswordHasher,
    keys: KeyRing,
    settings: Settings,
    store: ThrottleStore,
    email: str,
    password: str,
    *,
    where: Where,
    old: SsoSession | None,
    then: Callable[[sessions.NewSession], T],
    cipher: DataCipher | None = None,
    device: str | None = None,
    now: dt.datetime | None = None,
) -> SignedIn[T]:
    """Sign in with a password. On success the browser's ``old`` session ends, a new
    level-1 session starts, ``then(new session)`` makes the answer (it may issue the
    app's code) and the sign-in is audited last: appending takes the audit chain's lock,
    held to the end of the transaction, so the other inserts happen before it.
    ``device``: the throttle key of this browser's device cookie for ``email``;
    ``now``: the time delays, locks and the new session's auth_time are judged at
    (``Services.clock``)."""
    now = now or utcnow()
    started = time.monotonic()  # the failure floor is real time: it equalises timing
    result = password_login(
        db,
        hasher,
        settings,
        store,
        email,
        password,
        ip=where.ip,
        user_agent=where.user_agent,
        client_id=where.client_id,
        cipher=cipher,
        device=device,
        now=now,
    )
    if not result.ok:
        failure_floor(settings, started)
        return SignedIn(result)
    account: Account = result.account  # type: ignore[assignment]
    new = _new_session(db, keys, settings, account, old, settings.acr_level1, ["pwd"], where, now)
    answer = then(new)
    _signed_in(db, account, new, where, "password")
    return SignedIn(result, new, answer)


def with_passkey_account(
    db: Session,
    keys: KeyRing,
    settings: Settings,
    account: Account,
    amr: list[str],
    *,
    where: Where,
    old: SsoSession | None,
    now: dt.datetime | None = None,
) -> sessions.NewSession:
    """A verified passkey of an active account: a new level-2 session (the old one
    ended, as after a password), audited."""
    new = _new_session(db, keys, settings, account, old, settings.acr_level2, amr, where, now)
    _signed_in(db, account, new, where, "passkey")
    return new


def _new_session(
    db: Session,
    keys: KeyRing,
    settings: Settings,
    account: Account,
    old: SsoSession | None,
    acr: str,
    amr: list[str],
    where: Where,
    now: dt.datetime | None = None,
) -> sessions.NewSession:
    if old is not None:
        end_session(
            db,
            keys,
            issuer=settings.issuer,
            row=old,
            reason="reauthenticated",
            now=now or utcnow(),
            ip=where.ip,
            user_agent=where.user_agent,
        )
    return sessions.create(
        db, settings, account, acr=acr, amr=amr, ip=where.ip, user_agent=where.user_agent, now=now
    )


def _signed_in(
    db: Session, account: Account, new: sessions.NewSession, where: Where, method: str
) -> None:
    audit.record(
        db,
        "oidc.login.succeeded",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        client_id=where.client_id,
        session_id=new.row.sid,
        ip=where.ip,
        user_agent=where.user_agent,
        details={"acr": new.row.acr, "amr": list(new.row.amr or []), "method": method},
    )


# ------------------------------------------------------------------ the second factor


class Throttled(Exception):  # noqa: N818 - the page's answer, not an error
    """Too many wrong codes: ``retry_after`` seconds until the next try is heard."""

    def __init__(self, retry_after: int) -> None:
        super().__init__(retry_after)
        self.retry_after = retry_after


def verify_second_factor(
    db: Session,
    cipher: DataCipher,
    settings: Settings,
    store: ThrottleStore,
    account: Account,
    code: str,
    ip: str | None,
    now: dt.datetime | None = None,
) -> str | None:
    """The method that matched ("totp" | "recovery"), or None (audited). Throttled per
    account: ``Throttled`` while the account's tries are locked. ``now``: the time the
    throttle and the app code's step are judged at (``Services.clock``)."""
    key, rules, now = f"mfa:{account.id}", rules_for(settings), now or utcnow()
    code = code.strip()
    # What the person typed, once: digits (spaces allowed, "123 456") are an app code.
    kind = "totp" if code.replace(" ", "").isdigit() else "recovery"
    state = store.get(key)
    decision = decide(state, rules, now)
    if not decision.allowed:
        _mfa_failed(db, account, ip, kind, "throttled")
        raise Throttled(decision.retry_after)
    if kind == "totp":
        method = "totp" if mfa.verify_totp(db, cipher, account, code, now) else None
    else:
        method = "recovery" if mfa.use_recovery_code(db, account, code) else None
    if method is None:
        store.record_failure(key, rules, now)
        _mfa_failed(db, account, ip, kind, "wrong_or_reused")
        return None
    if state.failures or state.locked_until is not None:
        store.clear(key)  # nothing to reset on most sign-ins: no write
    return method


def _mfa_failed(db: Session, account: Account, ip: str | None, kind: str, reason: str) -> None:
    audit.record(
        db,
        "oidc.mfa.failed",
        outcome="failure",
        subject=str(account.id),
        agency_id=account.agency_id,
        ip=ip,
        details={"method": kind, "reason": reason},
    )


def step_up(
    db: Session,
    settings: Settings,
    sso: SsoSession,
    account: Account,
    method: str,
    ip: str | None,
    now: dt.datetime | None = None,
) -> str:
    """A second factor proved: level 2 for the session (same sid, new auth_time at
    ``now``, a new cookie value), audited. Returns the new cookie value."""
    cookie = sessions.step_up(sso, settings, method, now)
    audit.record(
        db,
        "oidc.login.stepped_up",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        session_id=sso.sid,
        ip=ip,
        details={"acr": sso.acr, "amr": sso.amr, "method": method},
    )
    return cookie
