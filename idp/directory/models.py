"""Outbox of directory changes waiting to be applied to LDAP (DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import BigInteger, CheckConstraint, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, utcnow

OUTBOX_OPS = ("add", "modify", "disable", "enable", "delete")

IdType = BigInteger().with_variant(Integer(), "sqlite")


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("op IN ('add', 'modify', 'disable', 'enable', 'delete')", name="op"),
        Index("ix_outbox_pending", "done_at", "next_try_at"),
    )

    id: Mapped[int] = mapped_column(IdType, primary_key=True, autoincrement=True)
    # No foreign key: a row must outlive a purged account until it has been applied.
    account_id: Mapped[uuid.UUID] = mapped_column(Uuid, index=True)
    op: Mapped[str] = mapped_column(String(16))
    payload: Mapped[dict] = mapped_column(JSONType, default=dict)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    parked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
