"""Agency tree (ministry → department → office ...).

The tree is stored twice on purpose: ``parent_id`` is the truth, ``path`` is a
materialised path (``/<id>/<id>/.../``) that turns "is X in Y's subtree" into a prefix
match, which both PostgreSQL and SQLite answer from an index. ``agencies.service`` keeps
the two in step.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, LargeBinary, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, new_uuid, utcnow

AGENCY_STATUSES = ("active", "disabled")


class Agency(Base):
    __tablename__ = "agency"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint("mailbox_quota_mb > 0", name="mailbox_quota_positive"),
        CheckConstraint("attachment_limit_mb > 0", name="attachment_limit_positive"),
        Index("ix_agency_path", "path", postgresql_ops={"path": "text_pattern_ops"}),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    parent_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("agency.id", ondelete="RESTRICT"), index=True
    )
    path: Mapped[str] = mapped_column(String(1024))
    depth: Mapped[int] = mapped_column(Integer, default=0)
    mail_domains: Mapped[list[str]] = mapped_column(JSONType, default=list)
    mailbox_quota_mb: Mapped[int] = mapped_column(Integer, default=6144)
    attachment_limit_mb: Mapped[int] = mapped_column(Integer, default=25)
    status: Mapped[str] = mapped_column(String(16), default="active")
    # Whom a person of this agency contacts when they cannot sign in: shown on
    # the recovery page and in the pages' footer; empty fields fall back to the parent's,
    # then to the central helpdesk (IDP_HELPDESK_*). privacy_url: the agency's PDPA notice.
    helpdesk_email: Mapped[str | None] = mapped_column(String(320))
    helpdesk_phone: Mapped[str | None] = mapped_column(String(40))
    helpdesk_url: Mapped[str | None] = mapped_column(String(2000))
    privacy_url: Mapped[str | None] = mapped_column(String(2000))
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}

    def __repr__(self) -> str:
        return f"<Agency {self.code}>"


class AgencyLogo(Base):
    """An agency's logo for the pages' frame, uploaded by an operator: PNG or
    JPEG only (never SVG, which can carry script), at most ``logos.MAX_BYTES``, served
    with its own type and ``nosniff`` under a name that changes with its content."""

    __tablename__ = "agency_logo"
    __table_args__ = (
        CheckConstraint("content_type IN ('image/png', 'image/jpeg')", name="content_type"),
    )

    agency_id: Mapped[uuid.UUID] = mapped_column(
        Uuid, ForeignKey("agency.id", ondelete="CASCADE"), primary_key=True
    )
    content_type: Mapped[str] = mapped_column(String(16))
    data: Mapped[bytes] = mapped_column(LargeBinary)
    sha256: Mapped[str] = mapped_column(String(64))
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
