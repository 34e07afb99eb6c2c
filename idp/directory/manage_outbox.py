"""The directory outbox as the admin API shows it: rows of accounts in the
caller's subtree, parked rows with their error, and retry after a fix."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.accounts.models import Account
from idp.authz.context import Ctx
from idp.directory import outbox
from idp.directory.models import OutboxEntry
from idp.errors import NotFound, OutsideScope


def _in_scope(ctx: Ctx, permission: str):
    scope = ctx.scope(permission)
    accounts = scope.apply(select(Account.id), Account.agency_id)
    return accounts


def _jsonable(row: OutboxEntry) -> dict[str, Any]:
    d = outbox.row_dict(row)
    return {k: v.isoformat() if hasattr(v, "isoformat") else v for k, v in d.items()}


def list_rows(ctx: Ctx, *, status: str, limit: int, after_id: int | None) -> dict[str, Any]:
    stmt = outbox._where_status(select(OutboxEntry), status)
    stmt = stmt.where(OutboxEntry.account_id.in_(_in_scope(ctx, "accounts:read")))
    if after_id is not None:
        stmt = stmt.where(OutboxEntry.id > after_id)
    rows = list(ctx.db.scalars(stmt.order_by(OutboxEntry.id).limit(limit + 1)))
    more = len(rows) > limit
    rows = rows[:limit]
    return {
        "items": [_jsonable(r) for r in rows],
        "next_after": rows[-1].id if more and rows else None,
        "limit": limit,
    }


def retry(ctx: Ctx, entry_id: int) -> dict[str, Any]:
    row = ctx.db.get(OutboxEntry, entry_id)
    allowed = _in_scope(ctx, "accounts:write")
    if row is None:
        raise NotFound(f"no outbox entry {entry_id}", field="id")
    if ctx.db.scalar(allowed.where(Account.id == row.account_id)) is None:
        raise OutsideScope(f"no outbox entry {entry_id}", field="id")  # 404 too, audited
    return _jsonable(outbox.retry(ctx.db, entry_id, actor=ctx.actor))
