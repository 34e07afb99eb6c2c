"""Password sign-in against the account table.

Unknown users and wrong passwords cost the same (one hash verification, real or dummy)
and get the same answer; throttling is checked before the hash and counted after it, in
the store shared by every worker (decision 0012):

* per account (the email, known or not): delays after a few failures, a lock after many;
* per device cookie: a browser that signed in to the account before is judged by its own
  failures only, so attacks on the account from elsewhere do not slow it;
* per address: failed sign-ins per window. An address over the threshold never refuses
  a password by itself; accounts signing in from it without a device cookie are delayed
  from their first failure instead of after ``login_delay_after_failures``.
"""

from __future__ import annotations

import datetime as dt
import unicodedata
from dataclasses import dataclass

from sqlalchemy import update
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from idp.accounts.models import Account
from idp.accounts.service import get_by_email
from idp.audit import service as audit
from idp.config import Settings
from idp.credentials.passwords import PasswordHasher
from idp.credentials.throttle import Rules, ThrottleStore, decide, window_key
from idp.crypto import DataCipher, sha256_hex
from idp.db import utcnow

MAX_PASSWORD_CHARS = 1024


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    reason: str | None = None  # for the audit log only, never shown as such
    retry_after: int = 0  # > 0: throttled; the page says "try again in N seconds"
    unavailable: bool = False  # the agency's own directory did not answer

    @property
    def ok(self) -> bool:
        return self.account is not None


def user_key(email: str) -> str:
    return f"user:{sha256_hex(email.strip().lower())}"


def normalise_password(password: str) -> str:
    # NIST SP 800-63B §5.1.1.2: normalise Unicode (NFKC) before hashing/verifying.
    return unicodedata.normalize("NFKC", password)[:MAX_PASSWORD_CHARS]


def rules_for(settings: Settings, *, suspect_address: bool = False) -> Rules:
    """The account's rules; from a suspect address delays start at the first failure."""
    return Rules(
        delay_after=1 if suspect_address else settings.login_delay_after_failures,
        max_delay=settings.login_max_delay_seconds,
        lock_threshold=settings.login_lockout_threshold,
        lock_seconds=settings.login_lockout_seconds,
        decay_seconds=settings.login_failure_decay_seconds,
    )


def address_windows(settings: Settings, ip: str, now: dt.datetime) -> list[tuple[str, dt.datetime]]:
    """The address's failure counters: this window's and the previous one's."""
    return [
        window_key(f"ipf:{ip}", settings.ip_failure_window_seconds, now, back) for back in (0, 1)
    ]


def _mirror(db: Session, account: Account, failures: int, locked_until) -> None:
    """Copy the account's counter onto its row (shown to admins) without the ORM's
    version check: two workers counting failures of one account at once must not make
    one of them fail (StaleDataError), and a failure is not an edit (no new ETag)."""
    if (account.failed_logins, account.locked_until) == (failures, locked_until):
        return
    db.execute(
        update(Account)
        .where(Account.id == account.id)
        .values(failed_logins=failures, locked_until=locked_until)
        .execution_options(synchronize_session=False)
    )
    set_committed_value(account, "failed_logins", failures)
    set_committed_value(account, "locked_until", locked_until)


def _audit_unlock(db: Session, account: Account | None, scope: str, ip: str | None) -> None:
    audit.record(
        db,
        "oidc.account.unlocked",
        actor="system",
        subject=str(account.id) if account else None,
        agency_id=account.agency_id if account else None,
        ip=ip,
        details={"scope": scope, "by": "time"},
    )


def _check_password(
    db: Session,
    hasher: PasswordHasher,
    cipher: DataCipher | None,
    account: Account | None,
    password: str,
    typed: str | None = None,
) -> tuple[bool, bool, str | None]:
    """(verified, federated, reason). An agency with its own LDAP/AD checks the password
    there; a directory outage is "try again later", never a silent fallback to a
    stale local password unless the operator configured that fallback.

    ``password`` is NFKC-normalised for GovID's own hashes; the agency's directory gets
    the password as ``typed``: it compares against what was set there (Thai "ำ" is one
    of the characters NFKC changes)."""
    config = None
    if account is not None and cipher is not None and account.status == "active":
        from idp.directory import agency_federation

        config = agency_federation.config_for(db, account.agency, cipher=cipher)
    if account is None or config is None:  # (no account: no directory to ask)
        return hasher.verify(password, account.password_hash if account else None), False, None
    from idp.directory.federation import Outcome, authenticate

    result = authenticate(config, account.email, typed if typed is not None else password)
    if result.outcome == Outcome.OK:
        return True, True, None
    if result.outcome == Outcome.UNAVAILABLE:
        if config.fallback_to_local:
            return hasher.verify(password, account.password_hash), False, None
        return False, True, "directory_unavailable"
    hasher.verify(password, None)  # same cost as a local miss
    return False, True, None


def password_login(
    db: Session,
    hasher: PasswordHasher,
    settings: Settings,
    store: ThrottleStore,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    client_id: str | None = None,
    cipher: DataCipher | None = None,
    device: str | None = None,
    now: dt.datetime | None = None,
) -> LoginResult:
    """``device``: the throttle key of this browser's valid device cookie for ``email``
    (idp/web/device_cookie.py), if it sent one. ``now``: the time the delays and locks
    are judged at (``Services.clock``)."""
    now = now or utcnow()
    email = (email or "").strip().lower()[:320]
    typed = (password or "")[:MAX_PASSWORD_CHARS]
    password = normalise_password(password or "")
    account = get_by_email(db, email) if email else None
    # Keyed by the email, known or not: otherwise only real accounts would ever be
    # throttled, and the delay itself would reveal which emails exist.
    acct_key = user_key(email) if email else None
    windows = address_windows(settings, ip, now) if ip else []
    device = device if acct_key else None
    # One read for every counter (one query, or one Redis pipeline).
    keys = [k for k in (acct_key, device) if k] + [k for k, _ in windows]
    states = store.get_many(keys) if keys else {}
    suspect = any(states[k].failures >= settings.ip_failure_threshold for k, _ in windows)
    acct_rules = rules_for(settings)

    # A known browser is judged by its own failures, unless it has locked itself.
    scope, key, rules = "account", acct_key, rules_for(settings, suspect_address=suspect)
    if device is not None and not decide(states[device], acct_rules, now).locked:
        scope, key, rules = "device", device, acct_rules
    gate = decide(states[key], rules, now) if key else None
    if key is not None and gate is not None and gate.expired_lock:
        store.clear(key)
        _audit_unlock(db, account if scope == "account" else None, scope, ip)
    if gate is not None and not gate.allowed:
        # Still spend the hash time: a throttled answer must not be a cheap oracle.
        hasher.verify(password, None)
        _failed(db, account, "throttled", ip, user_agent, client_id)
        return LoginResult(None, "throttled", retry_after=gate.retry_after)

    verified, federated, reason = _check_password(db, hasher, cipher, account, password, typed)
    if reason == "directory_unavailable":
        _failed(db, account, reason, ip, user_agent, client_id)
        return LoginResult(None, reason, unavailable=True)
    if account is None or not verified:
        reason = "unknown_or_wrong_password"
        if account is not None and not federated and hasher.out_of_bounds(account.password_hash):
            # Refused without verifying: the audit event tells
            # operators to reset this account's password; the person sees a wrong one.
            reason = "password_hash_out_of_bounds"
    elif account.status != "active":
        reason = account.status
    if reason or account is None:
        reason = reason or "unknown_or_wrong_password"
        if key is not None and reason in (
            "unknown_or_wrong_password",
            "password_hash_out_of_bounds",
        ):
            if windows:
                window, expires = windows[0]
                store.add(window, 1, now, expires)
            state = store.record_failure(key, rules, now)
            if scope == "account" and account is not None:
                _mirror(db, account, state.failures, state.locked_until)
            if state.locked_until is not None and state.failures == rules.lock_threshold:
                known = account if scope == "account" else None
                audit.record(
                    db,
                    "oidc.account.locked",
                    actor="system",
                    subject=str(known.id) if known else None,
                    agency_id=known.agency_id if known else None,
                    ip=ip,
                    details={
                        "scope": scope,
                        "failures": state.failures,
                        "until": state.locked_until.isoformat(),
                    },
                )
        _failed(db, account, reason, ip, user_agent, client_id)
        return LoginResult(None, reason)

    # Only a key with something to forget is written: most sign-ins start from zero.
    # A known browser's success clears its own count only: an attacker's delay or lock
    # on the account stays for everyone else.
    if key is not None and gate is not None and gate.failures:
        store.clear(key)
    if scope == "account":
        _mirror(db, account, 0, None)
    stored = account.password_hash
    if not federated and stored is not None and hasher.needs_update(stored):
        old = hasher.scheme(stored)
        account.password_hash = hasher.hash(password)
        audit.record(
            db,
            "credentials.password.rehashed",
            actor="system",
            subject=str(account.id),
            agency_id=account.agency_id,
            details={"from_scheme": old},
        )
    return LoginResult(account)


def _failed(db: Session, account: Account | None, reason: str, ip, user_agent, client_id):
    audit.record(
        db,
        "oidc.login.failed",
        outcome="failure",
        subject=str(account.id) if account else None,
        agency_id=account.agency_id if account else None,
        client_id=client_id,
        ip=ip,
        user_agent=user_agent,
        details={"reason": reason},
    )


def unlock_account(
    db: Session, store: ThrottleStore, account: Account, *, by: str, actor: str
) -> bool:
    """Administrator or password-reset unlock (audited)."""
    cleared = store.clear(user_key(account.email))
    was_locked = account.locked_until is not None or cleared
    account.failed_logins = 0
    account.locked_until = None
    if was_locked:
        audit.record(
            db,
            "oidc.account.unlocked",
            actor=actor,
            subject=str(account.id),
            agency_id=account.agency_id,
            details={"scope": "account", "by": by},
        )
    return was_locked
