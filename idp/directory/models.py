"""Directory tables: the outbox of changes waiting for LDAP, and per-agency federation
(sign-in against the agency's own LDAP/AD) (DESIGN §8)."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    Uuid,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, utcnow

OUTBOX_OPS = ("add", "modify", "disable", "enable", "delete")

IdType = BigInteger().with_variant(Integer(), "sqlite")
_QUEUED = text("done_at IS NULL AND parked_at IS NULL")
_PARKED = text("done_at IS NULL AND parked_at IS NOT NULL")


class OutboxEntry(Base):
    __tablename__ = "outbox"
    __table_args__ = (
        CheckConstraint("op IN ('add', 'modify', 'disable', 'enable', 'delete')", name="op"),
        Index("ix_outbox_pending", "done_at", "next_try_at"),
        # The worker's queue: unfinished rows in id order, and "has this account an
        # earlier unfinished row?" Partial, so their size follows the backlog, not history.
        Index("ix_outbox_queue", "id", postgresql_where=_QUEUED, sqlite_where=_QUEUED),
        Index(
            "ix_outbox_queue_account",
            "account_id",
            "id",
            postgresql_where=_QUEUED,
            sqlite_where=_QUEUED,
        ),
        # Parked rows of a subtree's accounts (the console dashboard, migration 0013).
        Index(
            "ix_outbox_parked_account",
            "account_id",
            postgresql_where=_PARKED,
            sqlite_where=_PARKED,
        ),
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


class AgencyFederation(Base):
    """An agency whose staff sign in with their own LDAP/AD password.

    Applies to the agency and, unless a sub-agency has its own row, to its subtree.
    Configured by operators only; the service password is encrypted with the data key.
    """

    __tablename__ = "agency_federation"

    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    servers: Mapped[list[str]] = mapped_column(JSONType, default=list)
    start_tls: Mapped[bool] = mapped_column(Boolean, default=True)
    allow_plain: Mapped[bool] = mapped_column(Boolean, default=False)
    ca_pem: Mapped[str | None] = mapped_column(Text)
    bind_dn_template: Mapped[str | None] = mapped_column(String(512))
    search_base: Mapped[str | None] = mapped_column(String(512))
    search_filter: Mapped[str | None] = mapped_column(String(512))
    service_bind_dn: Mapped[str | None] = mapped_column(String(512))
    service_password_enc: Mapped[str | None] = mapped_column(String(2048))
    timeout_seconds: Mapped[int] = mapped_column(Integer, default=5)
    fallback_to_local: Mapped[bool] = mapped_column(Boolean, default=False)
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_by: Mapped[str | None] = mapped_column(String(128))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}
