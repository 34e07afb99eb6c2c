"""Password changes and MFA administration, as domain operations."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from idp.accounts import links
from idp.accounts.models import Account
from idp.audit import service as audit
from idp.config import Settings
from idp.credentials import mfa, policy
from idp.credentials.login import unlock_account
from idp.credentials.passwords import PasswordHasher
from idp.credentials.throttle import ThrottleStore
from idp.db import utcnow
from idp.errors import DomainError, InvalidInput, NotFound
from idp.keys.service import KeyRing
from idp.mail import notices, sending, smtp
from idp.sessions import logout
from idp.sessions.models import SsoSession


class WrongPassword(InvalidInput):
    code = "wrong_password"


def password_policy(settings: Settings) -> policy.Policy:
    return policy.Policy(
        settings.password_min_length_with_mfa, settings.password_min_length_without_mfa
    )


def set_password(
    db: Session, hasher: PasswordHasher, settings: Settings, account: Account, new_password: str
) -> None:
    pw = policy.check(
        new_password,
        email=account.email,
        has_second_factor=mfa.has_second_factor(db, account.id),
        policy=password_policy(settings),
    )
    account.password_hash = hasher.hash(pw)
    account.password_changed_at = utcnow()


def change_password(
    db: Session,
    hasher: PasswordHasher,
    keys: KeyRing,
    settings: Settings,
    account: Account,
    current: str,
    new: str,
    *,
    keep: SsoSession | None,
    now: dt.datetime,
) -> int:
    """Self-service change: the current password is required; every other session and
    every refresh token ends (the old password may be known to someone else)."""
    if not hasher.verify(policy.normalise(current), account.password_hash):
        raise WrongPassword("the current password is not correct", field="current_password")
    return replace_password(db, hasher, keys, settings, account, new, keep=keep, by="self", now=now)


def replace_password(
    db: Session,
    hasher: PasswordHasher,
    keys: KeyRing,
    settings: Settings,
    account: Account,
    new: str,
    *,
    keep: SsoSession | None,
    by: str,
    now: dt.datetime,
    details: dict | None = None,
    reason: str = "password_changed",
) -> int:
    """A new password once the person is known to be the owner (their current password,
    or, ``by="recovery"``, a second factor or a recovery code): every session but
    ``keep`` ends and every grant and refresh token is revoked, since the old password
    may be known to someone else. Audited as ``credentials.password.changed``."""
    set_password(db, hasher, settings, account, new)
    ended = logout.end_everything(
        db,
        keys,
        issuer=settings.issuer,
        account_id=account.id,
        reason=reason,
        now=now,
        keep=keep,
    )
    audit.record(
        db,
        "credentials.password.changed",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        details={
            "by": by,
            "sessions_ended": ended,
            **(details or {}),
            **(
                _notify(db, settings, account, by, (details or {}).get("method"))
                if by in NOTIFIED
                else {}
            ),
        },
    )
    return ended


def set_password_by_link(
    db: Session,
    hasher: PasswordHasher,
    keys: KeyRing,
    settings: Settings,
    store: ThrottleStore,
    token: str,
    new: str,
    now: dt.datetime,
) -> tuple[Account, int]:
    """A person sets a password with an activation or reset link an administrator
    handed out (``accounts.links``): the link is used up, the password set under the
    policy, everything the account holds ends (``replace_password``) and a throttled
    account is unlocked. A password the policy refuses (``policy.WeakPassword``) writes
    nothing: the link stays usable. ``NotFound`` for a used, expired or unknown link.
    Returns the account and the number of sessions ended."""
    for purpose in ("activate", "reset"):
        nested = db.begin_nested()
        try:
            account = links.consume(db, token, purpose, now)
            ended = replace_password(
                db,
                hasher,
                keys,
                settings,
                account,
                new,
                keep=None,
                by="reset",
                now=now,
                reason="password_reset",
            )
        except policy.WeakPassword:
            nested.rollback()
            raise
        except DomainError:
            nested.rollback()
            continue
        nested.commit()
        unlock_account(db, store, account, by="password_reset", actor=str(account.id))
        return account, ended
    raise NotFound("this link is not valid (used, expired or unknown)", field="token")


# Who is mailed a notice: a change on the account page and a recovery. A password set
# from an administrator's activation or reset link (by="reset") is not: the person has
# just been handed that link, and for an activation there was no password before.
NOTIFIED = ("self", "recovery")
NOT_SENT = "not sent: no mail relay is configured (IDP_SMTP_HOST)"
AFTER_COMMIT = "handed to the mail relay after commit"


def _notify(db: Session, settings: Settings, account: Account, by: str, method) -> dict:
    """Tell the person at their address in the directory (NIST SP 800-63B-4:
    the subscriber is told of a recovery or an authenticator change). Sent only once
    the change commits, never holding it up (idp/mail/sending.py); the audit event says
    where it went and whether a relay was there to take it."""
    relay = smtp.mailer_for(settings)
    if relay is None:
        return {"notified_to": account.email, "notification": NOT_SENT}
    message = notices.password_notice(
        db, settings, account, by=by, method=method, at=account.password_changed_at or utcnow()
    )
    kind = "password_reset" if by == "recovery" else "password_changed"
    sending.send_after_commit(db, relay, message, kind=kind, account=str(account.id))
    return {"notified_to": account.email, "notification": AFTER_COMMIT}


def may_bind_factor(
    db: Session, sso: SsoSession, account_id, settings: Settings, now: dt.datetime
) -> bool:
    """Whether this session may bind a new second factor (or replace one).

    NIST SP 800-63B §6.1.2.1: binding an authenticator needs authentication at the level
    it will be used at, except the first one, bound from a password sign-in. So an
    account's first factor may be added at level 1; once it has one, adding or replacing
    a factor needs that factor proved recently. Otherwise a stolen password would reach
    level 2 by enrolling the thief's own authenticator (and replace the owner's)."""
    return not mfa.has_second_factor(db, account_id) or fresh_level2(sso, settings, now)


def fresh_level2(sso: SsoSession, settings: Settings, now: dt.datetime, within: int = 600) -> bool:
    """A second factor was proved in the last ``within`` seconds before ``now`` (the
    Clock's, as ``auth_time`` was) (for removing factors)."""
    return sso.acr == settings.acr_level2 and now - sso.auth_time <= dt.timedelta(seconds=within)
