"""Append audit events to a hash chain, in the caller's transaction (DESIGN §7).

``hash = SHA-256(prev_hash || canonical JSON of the row)`` (see ``idp.audit.chain``).
The chain head is read and extended under a lock held until the caller's transaction
ends, so concurrent writers in any number of processes produce one chain with a gapless
``seq``; a rolled-back transaction gives its seq back to the next writer.

- PostgreSQL: a transaction-scoped advisory lock. This relies on READ COMMITTED (the
  default): the head is read by a statement that starts after the lock is granted.
- SQLite: one writer at a time; a no-op UPDATE takes the write lock before the head is
  read, so no writer works from a stale head.

The lock is held until commit, so call ``record`` late in a transaction.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from idp.audit import events
from idp.audit.chain import GENESIS_HASH, canonical, compute_hash, row_material
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.audit.sanitise import SecretInDetails, clean_details, clean_text
from idp.db import utcnow

__all__ = [
    "GENESIS_HASH",
    "OUTCOMES",
    "SecretInDetails",
    "UnknownEventType",
    "canonical",
    "compute_hash",
    "head",
    "lock_head",
    "record",
    "row_material",
    "verify_chain",
]

_ADVISORY_LOCK_KEY = 0x60D1D_A0D1  # arbitrary, constant: "GovID audit"
OUTCOMES = ("success", "failure", "denied", "error")


class UnknownEventType(ValueError):
    pass


def lock_head(session: Session) -> None:
    """Serialise chain writers until the current transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})
    else:
        # Takes SQLite's RESERVED lock (waits up to busy_timeout) before the head is read.
        session.execute(text("UPDATE audit_event SET seq = seq WHERE 0"))


def head(session: Session) -> tuple[int, str, dt.datetime | None]:
    """(seq, hash, at) of the last event; after a purge that removed every row, the
    purge checkpoint is the head. (0, GENESIS_HASH, None) for an empty log."""
    row = session.execute(
        select(AuditEvent.seq, AuditEvent.hash, AuditEvent.at)
        .order_by(AuditEvent.seq.desc())
        .limit(1)
    ).first()
    if row:
        return row[0], row[1], row[2]
    cp = session.execute(
        select(AuditCheckpoint.seq, AuditCheckpoint.hash)
        .order_by(AuditCheckpoint.seq.desc())
        .limit(1)
    ).first()
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
) -> AuditEvent:
    """Append one event in ``session``'s transaction; it commits or rolls back with it.

    ``at`` is for imports and tests; by default it is now (UTC, microseconds), never
    earlier than the previous event's, so time order and seq order agree.
    """
    if not events.is_known(event_type):
        raise UnknownEventType(f"unknown audit event type {event_type!r}")
    if outcome not in OUTCOMES:
        raise ValueError(f"outcome must be one of {', '.join(OUTCOMES)}")
    clean = clean_details(details, events.fields(event_type), event_type)
    if at is not None and at.tzinfo is None:
        raise ValueError("naive datetime given; use datetime.now(UTC)")
    lock_head(session)
    seq, prev_hash, head_at = head(session)
    if at is None:
        at = utcnow()
        if head_at is not None and head_at > at:
            at = head_at  # another host's clock ran ahead: keep time order = seq order
    ev = AuditEvent(
        seq=seq + 1,
        at=at.astimezone(dt.UTC),
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
        prev_hash=prev_hash,
    )
    ev.hash = compute_hash(prev_hash, ev)
    session.add(ev)
    session.flush()
    return ev


def verify_chain(session: Session) -> int | None:
    """Return the first seq whose hash or link is wrong (or missing), else None.

    The chain only; ``idp.audit.verify.verify`` also checks the signed checkpoints.
    """
    from idp.audit.verify import verify

    return verify(session, None).first_bad_seq
