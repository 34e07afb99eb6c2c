"""The dashboard's figures for the caller's subtree: accounts by status,
locked accounts, sign-ins and failed sign-ins today, the directory outbox, and the audit
chain's newest signed checkpoint. Counts only, each one query. No web framework here."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select

from idp.accounts import tally
from idp.accounts.models import Account
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.authz.context import Ctx
from idp.directory import outbox
from idp.directory.models import OutboxEntry
from idp.errors import PermissionDenied

# "Today" is the Thai civil day (UTC+7, no daylight saving).
DAY_ZONE = ZoneInfo("Asia/Bangkok")
SIGN_INS = {"succeeded": "oidc.login.succeeded", "failed": "oidc.login.failed"}


def day_start(now: dt.datetime) -> dt.datetime:
    local = now.astimezone(DAY_ZONE)
    return local.replace(hour=0, minute=0, second=0, microsecond=0).astimezone(dt.UTC)


def summary(ctx: Ctx) -> dict[str, Any]:
    scope = ctx.scope("accounts:read")
    db = ctx.db
    now = ctx.services.clock.now()  # locks were set on it (DESIGN rule 4)
    in_scope = scope.apply(select(Account.id), Account.agency_id)
    # Kept by triggers with every change of account (idp.accounts.tally): exact, and a
    # sum over the subtree's agencies rather than a count of its accounts.
    by_status = tally.by_status(db, scope)
    locked = db.scalar(
        scope.apply(
            select(func.count()).select_from(Account).where(Account.locked_until > now),
            Account.agency_id,
        )
    )
    queue = {}
    for status in ("pending", "parked"):
        q = outbox._where_status(select(func.count()).select_from(OutboxEntry), status)
        if not scope.is_global:
            q = q.where(OutboxEntry.account_id.in_(in_scope))
        queue[status] = db.scalar(q) or 0
    out: dict[str, Any] = {
        "accounts": {"by_status": by_status, "locked": locked or 0},
        "outbox": queue,
        "sign_ins": None,
        "audit": None,
    }
    # Sign-ins and the chain are audit data: only for callers who may read the log.
    try:
        audit_scope = ctx.scope("audit:read")
    except PermissionDenied:
        return out
    since = day_start(now)
    counts = {}
    for key, event_type in SIGN_INS.items():
        q = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.type == event_type, AuditEvent.at >= since)
        )
        counts[key] = db.scalar(audit_scope.apply(q, AuditEvent.agency_id)) or 0
    out["sign_ins"] = {"since": since, **counts}
    head = db.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)).first()
    out["audit"] = {
        "last_checkpoint": (
            {"at": head.at, "seq": head.seq, "reason": head.reason} if head is not None else None
        ),
        "last_seq": db.scalar(select(func.max(AuditEvent.seq))),
    }
    return out
