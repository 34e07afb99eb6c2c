"""Password sign-in against the account table, with the same cost and the same answer
for unknown users and wrong passwords (no user enumeration)."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.accounts.service import get_by_email
from idp.audit import service as audit
from idp.credentials.passwords import PasswordHasher
from idp.db import utcnow

MAX_PASSWORD_BYTES = 4096


@dataclass(frozen=True)
class LoginResult:
    account: Account | None
    reason: str | None = None  # for the audit log only, never shown to the user

    @property
    def ok(self) -> bool:
        return self.account is not None


def normalise_password(password: str) -> str:
    # NIST SP 800-63B §5.1.1.2: normalise Unicode (NFKC) before hashing/verifying.
    return unicodedata.normalize("NFKC", password)


def password_login(
    db: Session,
    hasher: PasswordHasher,
    email: str,
    password: str,
    *,
    ip: str | None = None,
    user_agent: str | None = None,
    client_id: str | None = None,
) -> LoginResult:
    email = (email or "").strip().lower()[:320]
    password = normalise_password(password or "")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        password = password[:MAX_PASSWORD_BYTES]
    account = get_by_email(db, email) if email else None
    # Always run exactly one hash verification, real or dummy.
    verified = hasher.verify(password, account.password_hash if account else None)
    reason = None
    if account is None or not verified:
        reason = "unknown_or_wrong_password"
    elif account.status != "active":
        reason = account.status
    elif account.locked_until and account.locked_until > utcnow():
        reason = "locked"
    if reason:
        if account is not None:
            account.failed_logins += 1
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
        return LoginResult(None, reason)
    account.failed_logins = 0
    if hasher.needs_update(account.password_hash):
        account.password_hash = hasher.hash(password)
    return LoginResult(account)
