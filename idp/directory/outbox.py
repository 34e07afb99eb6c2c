"""The outbox of directory changes (DESIGN §8): written in the caller's transaction,
listed and retried by operators. The worker that drains it is ``idp.directory.worker``.

A row is *pending* until applied (``done_at``) or *parked* (``parked_at``: it kept
failing for a reason retrying cannot fix, e.g. a schema violation). Parked rows are
listed with their ``last_error`` and go back to pending with ``retry``.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.db import utcnow
from idp.directory.models import OUTBOX_OPS, OutboxEntry
from idp.errors import Conflict, InvalidInput, NotFound

if TYPE_CHECKING:
    from idp.accounts.models import Account

Status = Literal["pending", "parked", "done"]
MAX_ID = 2**63 - 1  # BIGINT: larger ids cannot exist (and cannot even be sent to SQLite)
STATUSES: tuple[str, ...] = ("pending", "parked", "done", "all")


def account_payload(account: Account) -> dict:
    return {
        "email": account.email,
        "given_name_en": account.given_name_en,
        "family_name_en": account.family_name_en,
        "given_name_th": account.given_name_th,
        "family_name_th": account.family_name_th,
        "mailbox_quota_mb": account.mailbox_quota_mb,
        "attachment_limit_mb": account.attachment_limit_mb,
        "aliases": list(account.aliases or []),
        "status": account.status,
    }


def enqueue(session: Session, account: Account, op: str) -> OutboxEntry:
    """Record that ``account`` changed. Call after the account change is flushed.

    The payload is a snapshot for the record; the worker applies the account's *current*
    state when it gets to the row, so rows of one account converge on the latest state.
    """
    if op not in OUTBOX_OPS:
        raise ValueError(f"unknown outbox op {op!r}")
    entry = OutboxEntry(account_id=account.id, op=op, payload=account_payload(account))
    session.add(entry)
    return entry


def status_of(row: OutboxEntry) -> Status:
    if row.done_at is not None:
        return "done"
    return "parked" if row.parked_at is not None else "pending"


def row_dict(row: OutboxEntry) -> dict[str, Any]:
    return {
        "id": row.id,
        "account_id": str(row.account_id),
        "op": row.op,
        "status": status_of(row),
        "email": (row.payload or {}).get("email"),
        "attempts": row.attempts,
        "next_try_at": row.next_try_at,
        "done_at": row.done_at,
        "parked_at": row.parked_at,
        "last_error": row.last_error,
        "created_at": row.created_at,
    }


def _where_status(stmt, status: str):
    if status == "pending":
        return stmt.where(OutboxEntry.done_at.is_(None), OutboxEntry.parked_at.is_(None))
    if status == "parked":
        return stmt.where(OutboxEntry.done_at.is_(None), OutboxEntry.parked_at.is_not(None))
    if status == "done":
        return stmt.where(OutboxEntry.done_at.is_not(None))
    if status == "all":
        return stmt
    raise InvalidInput(f"status must be one of {', '.join(STATUSES)}", field="status")


def list_entries(
    session: Session,
    *,
    status: str = "pending",
    account_id: uuid.UUID | None = None,
    limit: int = 100,
    after_id: int | None = None,
) -> list[OutboxEntry]:
    """Rows by id (oldest first); ``after_id`` is the cursor for the next page."""
    if after_id is not None and not 0 <= after_id <= MAX_ID:
        raise InvalidInput(f"after must be an outbox id (0-{MAX_ID})", field="after")
    stmt = _where_status(select(OutboxEntry), status).order_by(OutboxEntry.id).limit(limit)
    if account_id is not None:
        stmt = stmt.where(OutboxEntry.account_id == account_id)
    if after_id is not None:
        stmt = stmt.where(OutboxEntry.id > after_id)
    return list(session.scalars(stmt))


@dataclass(frozen=True)
class Counts:
    pending: int
    parked: int
    done: int
    due: int

    def to_dict(self) -> dict[str, int]:
        return {"pending": self.pending, "parked": self.parked, "done": self.done, "due": self.due}


def counts(session: Session) -> Counts:
    def n(status: str, *extra) -> int:
        stmt = _where_status(select(func.count()).select_from(OutboxEntry), status)
        return int(session.scalar(stmt.where(*extra)) or 0)

    return Counts(
        pending=n("pending"),
        parked=n("parked"),
        done=n("done"),
        due=n("pending", OutboxEntry.next_try_at <= utcnow()),
    )


def retry(session: Session, entry_id: int, *, actor: str | None = None) -> OutboxEntry:
    """Put a parked (or waiting) row back in the queue, due now."""
    if not 1 <= entry_id <= MAX_ID:
        raise InvalidInput(f"not an outbox id: {entry_id}", field="id")
    row = session.get(OutboxEntry, entry_id)
    if row is None:
        raise NotFound(f"no outbox entry {entry_id}", field="id")
    if row.done_at is not None:
        raise Conflict(f"outbox entry {entry_id} is already applied", field="id")
    was = status_of(row)
    row.parked_at = None
    row.attempts = 0
    row.next_try_at = utcnow()
    audit.record(
        session,
        "directory.outbox.retried",
        actor=actor,
        subject=str(row.account_id),
        details={"outbox_ids": [row.id], "count": 1, "was": was},
    )
    session.flush()
    return row


def retry_parked(session: Session, *, actor: str | None = None) -> int:
    """Retry every parked row; returns how many."""
    ids = list(session.scalars(_where_status(select(OutboxEntry.id), "parked")))
    if ids:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(ids))
            .values(parked_at=None, attempts=0, next_try_at=utcnow())
            .execution_options(synchronize_session=False)
        )
        audit.record(
            session,
            "directory.outbox.retried",
            actor=actor,
            details={"outbox_ids": ids[:1000], "count": len(ids), "was": "parked"},
        )
    return len(ids)
