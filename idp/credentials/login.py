"""Password sign-in against the account table.

Unknown users and wrong passwords cost the same (one hash verification, real or dummy)
and get the same answer; throttling is checked before the hash and counted after it, per
account and per source IP, in the store shared by every worker.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.accounts.service import get_by_email
from idp.audit import service as audit
from idp.config import Settings
from idp.credentials.passwords import PasswordHasher
from idp.credentials.throttle import Decision, Rules, ThrottleStore, decide
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


def rules_for(settings: Settings, *, ip: bool = False) -> Rules:
    if ip:
        # Per IP only a ceiling: many people share a government NAT address.
        return Rules(
            delay_after=settings.ip_failure_threshold,
            max_delay=settings.ip_lockout_seconds,
            lock_threshold=settings.ip_failure_threshold,
            lock_seconds=settings.ip_lockout_seconds,
        )
    return Rules(
        delay_after=settings.login_delay_after_failures,
        max_delay=settings.login_max_delay_seconds,
        lock_threshold=settings.login_lockout_threshold,
        lock_seconds=settings.login_lockout_seconds,
    )


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
    there (issue 9); a directory outage is "try again later", never a silent fallback to a
    stale local password unless the operator configured that fallback.

    ``password`` is NFKC-normalised for GovID's own hashes; the agency's directory gets
    the password as ``typed``: it compares against what was set there (Thai "ำ" is one
    of the characters NFKC changes)."""
    config = None
    if account is not None and cipher is not None and account.status == "active":
        from idp.directory import agency_federation

        config = agency_federation.config_for(db, account.agency, cipher=cipher)
    if config is None:
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
) -> LoginResult:
    now = utcnow()
    email = (email or "").strip().lower()[:320]
    typed = (password or "")[:MAX_PASSWORD_CHARS]
    password = normalise_password(password or "")
    account = get_by_email(db, email) if email else None
    # Keyed by the email, known or not: otherwise only real accounts would ever be
    # throttled, and the delay itself would reveal which emails exist.
    acct_key = user_key(email) if email else None
    ip_key = f"ip:{ip}" if ip else None
    acct_rules, ip_rules = rules_for(settings), rules_for(settings, ip=True)

    keyed = [
        (s, k, r) for s, k, r in (("account", acct_key, acct_rules), ("ip", ip_key, ip_rules)) if k
    ]
    states = store.get_many([key for _, key, _ in keyed]) if keyed else {}
    gates: list[tuple[str, str, Decision]] = [
        (scope, key, decide(states[key], rules, now)) for scope, key, rules in keyed
    ]
    for scope, key, decision in gates:
        if decision.expired_lock:
            store.clear(key)
            _audit_unlock(db, account if scope == "account" else None, scope, ip)
    blocked = [d for _, _, d in gates if not d.allowed]
    if blocked:
        # Still spend the hash time: a throttled answer must not be a cheap oracle.
        hasher.verify(password, None)
        wait = max(d.retry_after for d in blocked)
        _failed(db, account, "throttled", ip, user_agent, client_id)
        return LoginResult(None, "throttled", retry_after=wait)

    verified, federated, reason = _check_password(db, hasher, cipher, account, password, typed)
    if reason == "directory_unavailable":
        _failed(db, account, reason, ip, user_agent, client_id)
        return LoginResult(None, reason, unavailable=True)
    if account is None or not verified:
        reason = "unknown_or_wrong_password"
    elif account.status != "active":
        reason = account.status
    if reason:
        for scope, key, rules in (("account", acct_key, acct_rules), ("ip", ip_key, ip_rules)):
            if key is None or reason not in ("unknown_or_wrong_password",):
                continue
            state = store.record_failure(key, rules, now)
            if scope == "account" and account is not None:
                account.failed_logins = state.failures
                account.locked_until = state.locked_until
            if state.locked_until is not None and state.failures == rules.lock_threshold:
                known = scope == "account" and account is not None
                audit.record(
                    db,
                    "oidc.account.locked",
                    actor="system",
                    subject=str(account.id) if known else None,
                    agency_id=account.agency_id if known else None,
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
    if acct_key and any(key == acct_key and d.failures for _, key, d in gates):
        store.clear(acct_key)
    account.failed_logins = 0
    account.locked_until = None
    if not federated and hasher.needs_update(account.password_hash):
        old = hasher.scheme(account.password_hash)
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
