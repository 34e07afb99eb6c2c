"""Append-only audit log with a hash chain, and signed checkpoints of it (DESIGN §7)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, utcnow

# SQLite only treats INTEGER PRIMARY KEY as a rowid; PostgreSQL gets a real bigint.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_agency_at", "agency_id", "at"),
        Index("ix_audit_event_type_at", "type", "at"),
        # Auditor filters "what did this account / this app do".
        Index("ix_audit_event_actor", "actor"),
        Index("ix_audit_event_client_at", "client_id", "at"),
    )

    # Assigned by idp.audit.service under a lock: gapless, so a missing seq is visible.
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    type: Mapped[str] = mapped_column(String(64))
    outcome: Mapped[str] = mapped_column(String(16), default="success")
    actor: Mapped[str | None] = mapped_column(String(128))
    agency_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    subject: Mapped[str | None] = mapped_column(String(128), index=True)
    client_id: Mapped[str | None] = mapped_column(String(128))
    session_id: Mapped[str | None] = mapped_column(String(128))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)
    details: Mapped[dict] = mapped_column(JSONType, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditCheckpoint(Base):
    """A JWS over ``{seq, hash, at}`` of the chain head at one moment.

    Checkpoints are never deleted (not even by a purge): they are what makes a truncated
    tail visible and what anchors a chain whose beginning was purged.
    """

    __tablename__ = "audit_checkpoint"

    id: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(SeqType, index=True)
    hash: Mapped[str] = mapped_column(String(64))
    at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    kid: Mapped[str] = mapped_column(String(64))
    # manual | periodic | purge
    reason: Mapped[str] = mapped_column(String(16))
    jws: Mapped[str] = mapped_column(Text)
