"""Append-only audit log with a hash chain (DESIGN §7)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime

# SQLite only treats INTEGER PRIMARY KEY as a rowid; PostgreSQL gets a real bigint.
SeqType = BigInteger().with_variant(Integer(), "sqlite")


class AuditEvent(Base):
    __tablename__ = "audit_event"
    __table_args__ = (
        Index("ix_audit_event_agency_at", "agency_id", "at"),
        Index("ix_audit_event_type_at", "type", "at"),
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
