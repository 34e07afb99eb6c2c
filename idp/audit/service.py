"""Append audit events to a hash chain, in the caller's transaction (DESIGN §7).

``hash = SHA-256(prev_hash || canonical JSON of the row)`` (see ``idp.audit.chain``).
The chain head is read and extended under a lock held until the caller's transaction
ends, so concurrent writers in any number of processes produce one chain with a gapless
``seq``; a rolled-back transaction gives its seq back to the next writer.

- PostgreSQL: a transaction-scoped advisory lock. This relies on READ COMMITTED (the
  default): the head is read by a statement that starts after the lock is granted. Both
  happen in one round trip, the function ``govid_audit_lock_head`` (migration 0006).
- SQLite: one writer at a time; a no-op UPDATE takes the write lock before the head is
  read, so no writer works from a stale head.

The lock is held until commit, so call ``record`` late in a transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Connection, String, insert, select, text
from sqlalchemy.orm import Session

from idp.audit import events
from idp.audit.chain import GENESIS_HASH, RowLike, canonical, compute_hash, row_material
from idp.audit.models import AuditCheckpoint, AuditEvent, SeqType
from idp.audit.sanitise import SecretInDetails, clean_details, clean_text
from idp.db import UTCDateTime, table, utcnow
from idp.logs import note_client
from idp.metrics import count_event

__all__ = [
    "GENESIS_HASH",
    "OUTCOMES",
    "SecretInDetails",
    "UnknownEventType",
    "canonical",
    "compute_hash",
    "append",
    "head",
    "lock_and_head",
    "lock_head",
    "new_event",
    "record",
    "row_material",
]

_ADVISORY_LOCK_KEY = 0x60D1D_A0D1  # arbitrary, constant: "GovID audit"
OUTCOMES = ("success", "failure", "denied", "refused", "error")
_COLUMNS = tuple(c.key for c in AuditEvent.__table__.columns)


class UnknownEventType(ValueError):
    pass


@dataclass(slots=True)
class NewEvent:
    """An event on its way into the chain: the ``audit_event`` row's columns as plain
    attributes (``chain.RowLike``). Not an ORM object: the rows go in by a Core INSERT,
    and an instrumented ``AuditEvent`` cost 18 µs to build, most of ``new_event``."""

    at: dt.datetime | None
    type: str
    outcome: str
    actor: str | None
    agency_id: uuid.UUID | None
    subject: str | None
    client_id: str | None
    session_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    seq: int | None = None
    prev_hash: str | None = None
    hash: str | None = None


# The chain writers' statements (also compiled by idp.audit.batch for its own driver).
LOCK_PG = text(f"SELECT pg_advisory_xact_lock({_ADVISORY_LOCK_KEY})")
# Takes SQLite's RESERVED lock (waits up to busy_timeout) before the head is read.
_LOCK_SQLITE = text("UPDATE audit_event SET seq = seq WHERE 0")
HEAD_QUERY = (
    select(AuditEvent.seq, AuditEvent.hash, AuditEvent.at).order_by(AuditEvent.seq.desc()).limit(1)
)
CHECKPOINT_HEAD_QUERY = (
    select(AuditCheckpoint.seq, AuditCheckpoint.hash).order_by(AuditCheckpoint.seq.desc()).limit(1)
)
INSERT_EVENTS = insert(table(AuditEvent))
# PostgreSQL: LOCK_PG, then HEAD_QUERY (or CHECKPOINT_HEAD_QUERY when no event is left),
# in one call; no row for an empty log.
LOCK_HEAD_PG = text(
    f"SELECT seq, hash, at FROM govid_audit_lock_head({_ADVISORY_LOCK_KEY})"  # noqa: S608 (a constant)
).columns(seq=SeqType, hash=String, at=UTCDateTime)

Executor = Session | Connection


def _dialect(db: Executor) -> str:
    return (db.get_bind() if isinstance(db, Session) else db).dialect.name


def lock_head(session: Executor) -> None:
    """Serialise chain writers until the current transaction ends."""
    session.execute(LOCK_PG if _dialect(session) == "postgresql" else _LOCK_SQLITE)


def head(session: Executor) -> tuple[int, str, dt.datetime | None]:
    """(seq, hash, at) of the last event; after a purge that removed every row, the
    purge checkpoint is the head. (0, GENESIS_HASH, None) for an empty log."""
    row = session.execute(HEAD_QUERY).first()
    return head_of(row, None if row else session.execute(CHECKPOINT_HEAD_QUERY).first())


def lock_and_head(session: Executor) -> tuple[int, str, dt.datetime | None]:
    """``lock_head`` then ``head``; one round trip on PostgreSQL."""
    if _dialect(session) != "postgresql":
        lock_head(session)
        return head(session)
    row = session.execute(LOCK_HEAD_PG).first()
    return (row[0], row[1], row[2]) if row else (0, GENESIS_HASH, None)


def head_of(last_event, last_checkpoint) -> tuple[int, str, dt.datetime | None]:
    """``head`` from the rows of ``HEAD_QUERY`` and (only when that found none)
    ``CHECKPOINT_HEAD_QUERY``, for writers that run those statements themselves."""
    if last_event:
        return last_event[0], last_event[1], last_event[2]
    cp = last_checkpoint
    return (cp[0], cp[1], None) if cp else (0, GENESIS_HASH, None)


def record(
    session: Session,
    event_type: str,
    *,
    outcome: str = "success",
    actor: str | None = None,
    agency_id: uuid.UUID | None = None,
    subject: str | None = None,
    client_id: str | None = None,
    session_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> NewEvent:
    """Append one event in ``session``'s transaction; it commits or rolls back with it.

    ``at`` is for imports and tests; by default it is now (UTC, microseconds), never
    earlier than the previous event's, so time order and seq order agree.
    """
    ev = new_event(
        event_type,
        outcome=outcome,
        actor=actor,
        agency_id=agency_id,
        subject=subject,
        client_id=client_id,
        session_id=session_id,
        ip=ip,
        user_agent=user_agent,
        details=details,
        at=at,
    )
    return append(session, [ev])[0]


def new_event(
    event_type: str,
    *,
    outcome: str = "success",
    actor: str | None = None,
    agency_id: uuid.UUID | None = None,
    subject: str | None = None,
    client_id: str | None = None,
    session_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> NewEvent:
    """A checked, sanitised event, not yet in the chain (``append`` puts it there)."""
    if not events.is_known(event_type):
        raise UnknownEventType(f"unknown audit event type {event_type!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    clean = clean_details(details, events.fields(event_type), event_type)
    count_event(event_type, outcome, clean)  # /metrics: sign-ins, tokens
    note_client(client_id)  # the request's log lines name the client from now on
    if at is not None and at.tzinfo is None:
        raise ValueError("naive datetime given; use datetime.now(UTC)")
    return NewEvent(
        at=at.astimezone(dt.UTC) if at is not None else None,
        type=event_type,
        outcome=outcome,
        actor=clean_text(actor, 128),
        agency_id=agency_id,
        subject=clean_text(subject, 128),
        client_id=clean_text(client_id, 128),
        session_id=clean_text(session_id, 128),
        ip=clean_text(ip, 64),
        user_agent=clean_text(user_agent, 512),
        details=clean,
    )


def append(db: Executor, batch: list[NewEvent]) -> list[NewEvent]:
    """Chain ``batch`` (from ``new_event``) onto the head in the transaction of ``db`` (a
    Session, or the group-commit writer's Connection), under one lock and one head read.
    A Core INSERT, not the unit of work: the rows are final as hashed, and the ORM's flush
    bookkeeping cost more than the statement (decision 0008). The objects stay outside any
    session, with every column set."""
    link(batch, *lock_and_head(db))
    db.execute(INSERT_EVENTS, [row_values(ev) for ev in batch])
    return batch


def row_values(ev: NewEvent) -> dict[str, Any]:
    return {c: getattr(ev, c) for c in _COLUMNS}


def link(batch: list[NewEvent], seq: int, prev_hash: str, head_at: dt.datetime | None):
    """Give ``batch`` the seqs, times and hashes that follow the head (seq, hash, at)."""
    now = utcnow()
    for ev in batch:
        if ev.at is None:
            # Another host's clock may have run ahead: keep time order = seq order.
            ev.at = head_at if head_at is not None and head_at > now else now
        seq += 1
        ev.seq = seq
        ev.prev_hash = prev_hash
        ev.hash = prev_hash = compute_hash(prev_hash, cast(RowLike, ev))  # seq, at set above
        head_at = ev.at if head_at is None or ev.at > head_at else head_at
