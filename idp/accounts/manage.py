"""Account administration within the caller's subtree. No web framework here.

Builds on ``idp.accounts.service`` (create, update, suspend, resume, soft_delete, which
write the directory outbox and the audit events) and adds the scoping, the operator
guard, the end of sessions on suspension/deletion/reset, and links. Listing and search:
``idp.accounts.search``; the PII purge: ``idp.accounts.purge``.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sqlalchemy import delete as sql_delete
from sqlalchemy.orm import Session

from idp.accounts import address_rules, links
from idp.accounts import citizen_id as cid
from idp.accounts import service as accounts
from idp.accounts.models import Account, RoleGrant
from idp.audit import service as audit
from idp.authz.caller import agency_code_in_scope
from idp.authz.context import Ctx, check_version
from idp.credentials import mfa
from idp.credentials.login import unlock_account
from idp.credentials.service import set_password
from idp.db import utcnow
from idp.errors import InvalidFields, InvalidInput, NotFound, OutsideScope
from idp.sessions import logout
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession

MIN_PASSWORD = 15
REASON_MAX = 200  # characters of a suspension's, resumption's or deletion's reason


# ------------------------------------------------------------------------------- reading


def get(ctx: Ctx, account_id: uuid.UUID | str, permission: str = "accounts:read") -> Account:
    scope = ctx.scope(permission)
    try:
        aid = account_id if isinstance(account_id, uuid.UUID) else uuid.UUID(str(account_id))
    except ValueError:
        raise NotFound("no such account", field="account") from None
    account = ctx.db.get(Account, aid)
    # Another agency's account is reported exactly like a missing one (DESIGN §6).
    if account is None:
        raise NotFound("no such account", field="account")
    if not scope.covers(account.agency):
        raise OutsideScope("no such account", field="account")
    return account


# ------------------------------------------------------------------------------ creating


def _precheck(ctx: Ctx, data: accounts.NewAccount) -> None:
    """Report every bad field at once (the domain service stops at the first)."""
    problems: list[dict[str, str]] = []

    def check(field_name: str, fn: Callable[[], object]) -> None:
        try:
            fn()
        except InvalidInput as exc:
            problems.append({"field": field_name, "message": exc.message, "code": exc.code})

    check("email", lambda: address_rules.normalise_email(data.email))
    for i, alias in enumerate(data.aliases):
        check(f"aliases.{i}", partial(address_rules.normalise_email, alias))
    if data.citizen_id:
        citizen_id = data.citizen_id
        check("citizen_id", lambda: cid.validate(citizen_id))
    if data.locale not in ("th", "en"):
        problems.append(
            {"field": "locale", "message": "locale must be 'th' or 'en'", "code": "invalid_input"}
        )
    if data.password is not None and not (
        MIN_PASSWORD <= len(data.password) <= accounts.MAX_PASSWORD_LENGTH
    ):
        problems.append(
            {
                "field": "password",
                "message": f"password must be {MIN_PASSWORD}-"
                f"{accounts.MAX_PASSWORD_LENGTH} characters",
                "code": "invalid_input",
            }
        )
    if problems:
        raise InvalidFields(problems)


@dataclass(frozen=True)
class Created:
    account: Account
    activation_token: str | None
    activation_expires_at: dt.datetime | None


def create(ctx: Ctx, data: accounts.NewAccount) -> Created:
    """With ``data.password`` the account can sign in at once; without, an activation
    link token is returned (shown once)."""
    scope = ctx.scope("accounts:write")
    agency_code_in_scope(ctx.db, scope, data.agency_code)
    _precheck(ctx, data)
    account = accounts.create(
        ctx.db,
        data,
        hasher=ctx.services.hasher,
        cipher=ctx.services.cipher,
        actor=ctx.actor,
        min_password_length=MIN_PASSWORD,
        may_hand_out=scope.covers,
    )
    token = expires = None
    if data.password is None:
        token, expires = links.issue(
            ctx.db, account, "activate", actor=ctx.actor, now=ctx.services.clock.now()
        )
    return Created(account, token, expires)


# ------------------------------------------------------------------------------ changing


def _guard(ctx: Ctx, account: Account) -> None:
    """The caller's authority must cover every role the account holds (no escalation
    by reset, suspension or address change; decision 0013)."""
    ctx.caller.check_may_act_on(ctx.db, account, ctx.services.clock.now())


def _writable(ctx: Ctx, account_id, expected) -> Account:
    account = get(ctx, account_id, "accounts:write")
    _guard(ctx, account)
    check_version(account.version, expected)
    return account


def writable(ctx: Ctx, account_id, expected) -> Account:
    """The account, if the caller may change it (scope, operator guard, If-Match)."""
    return _writable(ctx, account_id, expected)


def touch(ctx: Ctx, account: Account, changed: list[str]) -> Account:
    """Record a change kept outside the account row (SCIM externalId): the account gets
    a new version (so its ETag changes) and ``admin.account.updated`` names the fields."""
    account.updated_at = utcnow()  # a dirty row: the mapper bumps the version
    ctx.db.flush()
    audit.record(
        ctx.db,
        "admin.account.updated",
        actor=ctx.actor,
        agency_id=account.agency_id,
        subject=str(account.id),
        details={"changed": sorted(changed)},
    )
    return account


def update(ctx: Ctx, account_id, changes: accounts.AccountChanges, expected) -> Account:
    """Names, locale, aliases and quotas. Agency, status and roles have their own
    operations (no mass assignment)."""
    account = _writable(ctx, account_id, expected)
    scope = ctx.scope("accounts:write")
    return accounts.update(ctx.db, account, changes, actor=ctx.actor, may_hand_out=scope.covers)


def _end_everything(ctx: Ctx, account: Account, reason: str) -> int:
    """Every session and grant of the account ends (``sessions.logout.end_everything``),
    in the caller's transaction. Returns the number of sessions ended."""
    return logout.end_everything(
        ctx.db,
        ctx.services.keys,
        issuer=ctx.issuer,
        account_id=account.id,
        reason=reason,
        now=ctx.services.clock.now(),
        actor=ctx.actor,
    )


def check_reason(reason: str) -> str:
    """The reason kept in the audit log: up to 200 characters, none a control character
    (the admin API's schema refuses the same before it gets here)."""
    reason = reason.strip()
    if len(reason) > REASON_MAX:
        raise InvalidInput(f"the reason is limited to {REASON_MAX} characters", field="reason")
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in reason):
        raise InvalidInput("the reason may not contain control characters", field="reason")
    return reason


def suspend(ctx: Ctx, account_id, reason: str, expected) -> Account:
    reason = check_reason(reason)
    account = _writable(ctx, account_id, expected)
    accounts.suspend(ctx.db, account, actor=ctx.actor, reason=reason)
    _end_everything(ctx, account, "account_suspended")
    return account


def resume(ctx: Ctx, account_id, expected, reason: str = "") -> Account:
    reason = check_reason(reason)
    account = _writable(ctx, account_id, expected)
    return accounts.resume(ctx.db, account, actor=ctx.actor, reason=reason)


def delete(ctx: Ctx, account_id, expected, reason: str = "") -> Account:
    reason = check_reason(reason)
    account = _writable(ctx, account_id, expected)
    accounts.soft_delete(ctx.db, account, actor=ctx.actor, reason=reason)
    _end_everything(ctx, account, "account_deleted")
    ctx.db.execute(sql_delete(RoleGrant).where(RoleGrant.account_id == account.id))
    return account


@dataclass(frozen=True)
class PasswordReset:
    account: Account
    link_token: str | None
    link_expires_at: dt.datetime | None
    sessions_ended: int


def reset_password(ctx: Ctx, account_id, password: str | None, expected) -> PasswordReset:
    """Set a new password, or (without one) clear it and issue a reset link. Either way
    every session ends (DESIGN §5: back-channel logout on password reset)."""
    account = _writable(ctx, account_id, expected)
    if account.status == "deleted":
        raise InvalidInput("a deleted account has no password", field="status")
    token = expires = None
    if password is not None:
        # The same NIST policy as self-service (length by second factor, breached list).
        set_password(ctx.db, ctx.services.hasher, ctx.services.settings, account, password)
    else:
        account.password_hash = None
    # A reset unlocks a throttled account, audited as such.
    unlock_account(
        ctx.db, ctx.services.throttle_store(ctx.db), account, by="password_reset", actor=ctx.actor
    )
    ctx.db.flush()
    if password is None:
        token, expires = links.issue(
            ctx.db, account, "reset", actor=ctx.actor, now=ctx.services.clock.now()
        )
    audit.record(
        ctx.db,
        "admin.account.password_reset",
        actor=ctx.actor,
        agency_id=account.agency_id,
        subject=str(account.id),
    )
    ended = _end_everything(ctx, account, "password_reset")
    return PasswordReset(account, token, expires, ended)


def remove_second_factors(db: Session, account: Account) -> int:
    """MFA reset: delete the account's second factors (TOTP, recovery codes, WebAuthn)."""
    return mfa.reset_all(db, account, actor="admin")


def reset_mfa(ctx: Ctx, account_id, expected) -> tuple[Account, int, int]:
    account = _writable(ctx, account_id, expected)
    removed = remove_second_factors(ctx.db, account)
    ended = _end_everything(ctx, account, "mfa_reset")
    audit.record(
        ctx.db,
        "admin.account.mfa_reset",
        actor=ctx.actor,
        agency_id=account.agency_id,
        subject=str(account.id),
        details={"credentials": removed, "sessions": ended},
    )
    return account, removed, ended


# ------------------------------------------------------------------------------ sessions


def list_sessions(ctx: Ctx, account_id) -> list[tuple[SsoSession, list[str]]]:
    account = get(ctx, account_id)
    return [
        (s, sessions.clients_of(ctx.db, s))
        for s in sessions.live_sessions_of(ctx.db, account.id, ctx.services.clock.now())
    ]


def end_sessions(ctx: Ctx, account_id, sid: str | None = None) -> int:
    account = get(ctx, account_id, "accounts:write")
    _guard(ctx, account)
    if sid is None:
        ended = _end_everything(ctx, account, "admin_ended")
    else:
        row = sessions.by_sid(ctx.db, sid)
        if row is None or row.account_id != account.id or row.ended_at is not None:
            raise NotFound("no such session", field="sid")
        logout.end_session(
            ctx.db,
            ctx.services.keys,
            issuer=ctx.issuer,
            row=row,
            reason="admin_ended",
            now=ctx.services.clock.now(),
            actor=ctx.actor,
        )
        ended = 1
    audit.record(
        ctx.db,
        "admin.account.sessions_ended",
        actor=ctx.actor,
        agency_id=account.agency_id,
        subject=str(account.id),
        details={"sessions": ended, "sid": sid},
    )
    return ended
