"""API resources (RFC 8707): an agency's protected APIs, their scopes and who may use them.

An access token requested with ``resource=<identifier>`` names the API in ``aud`` and
carries only that API's scopes (docs/decisions/0011-api-resources.md).
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Integer, String, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, UTCDateTime, new_uuid, utcnow

# Which agencies' apps may be given the API's scopes (and get tokens for it).
SHARED_WITH = ("agency", "subtree", "all")


class ApiResource(Base):
    __tablename__ = "api_resource"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'disabled')", name="status"),
        CheckConstraint("shared_with IN ('agency', 'subtree', 'all')", name="shared_with"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    # RFC 8707 §2: an absolute URI without fragment, compared as a string (no
    # normalisation), never changed: tokens in flight name it in `aud`.
    identifier: Mapped[str] = mapped_column(String(512), unique=True)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agency.id", ondelete="RESTRICT"), index=True
    )
    name_th: Mapped[str] = mapped_column(String(255))
    name_en: Mapped[str] = mapped_column(String(255))
    shared_with: Mapped[str] = mapped_column(String(16), default="agency")
    # May the API introspect the tokens issued for it (RFC 7662 §2.1)? It authenticates
    # as its own client (``client_id``, ``resource_server`` set, no grant types).
    introspection: Mapped[bool] = mapped_column(Boolean, default=True)
    client_id: Mapped[str | None] = mapped_column(
        ForeignKey("client.client_id", ondelete="RESTRICT"), unique=True
    )
    status: Mapped[str] = mapped_column(String(16), default="active")
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    __mapper_args__ = {"version_id_col": version}


class ApiScope(Base):
    """One scope of one API. The value is unique across every API (and never one of
    GovID's own), so a client's scope list and a consent name it unambiguously."""

    __tablename__ = "api_scope"

    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    api_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("api_resource.id", ondelete="CASCADE"), index=True
    )
