"""The table of idempotency records (``Idempotency-Key`` on POST)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, utcnow


class IdempotencyRecord(Base):
    """The outcome of a POST made with an ``Idempotency-Key`` (one per caller and key).

    The response body is stored encrypted with the data key: it may hold a secret that is
    shown once (a client secret, an activation link), and a retry after a lost response is
    exactly when the caller needs it again. Records expire after a day.
    """

    __tablename__ = "idempotency_key"
    __table_args__ = (UniqueConstraint("caller", "key", name="uq_idempotency_key_caller_key"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    caller: Mapped[str] = mapped_column(String(160))
    key: Mapped[str] = mapped_column(String(255))
    fingerprint: Mapped[str] = mapped_column(String(64))
    status_code: Mapped[int] = mapped_column(Integer)
    headers: Mapped[dict] = mapped_column(JSONType, default=dict)
    body_enc: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
