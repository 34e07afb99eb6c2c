"""Signing keys for ID tokens, access tokens, logout tokens and audit checkpoints."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import CheckConstraint, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, utcnow

KEY_STATES = ("next", "active", "retired")


class SigningKey(Base):
    __tablename__ = "signing_key"
    __table_args__ = (
        CheckConstraint("state IN ('next', 'active', 'retired')", name="state"),
        CheckConstraint("alg IN ('RS256', 'ES256')", name="alg"),
    )

    kid: Mapped[str] = mapped_column(String(64), primary_key=True)
    alg: Mapped[str] = mapped_column(String(8))
    state: Mapped[str] = mapped_column(String(16), index=True)
    # Private JWK encrypted with the data key (AES-256-GCM, see idp.crypto).
    private_key_enc: Mapped[str] = mapped_column(Text)
    public_jwk: Mapped[dict] = mapped_column(JSONType)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    activated_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    retired_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # A retired key stays in /jwks until every token it signed has expired.
    not_after: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
