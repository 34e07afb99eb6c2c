"""SSO sessions, the apps each session signed in to, and back-channel logout deliveries."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import TYPE_CHECKING

from sqlalchemy import ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column, relationship

from idp.db import Base, JSONType, UTCDateTime, new_uuid, utcnow

if TYPE_CHECKING:
    from idp.accounts.models import Account


class SsoSession(Base):
    __tablename__ = "sso_session"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    # Public session id (`sid` claim, OIDC Back-Channel Logout §2.4); not a secret.
    sid: Mapped[str] = mapped_column(String(64), unique=True)
    # SHA-256 of the 128-bit cookie value; the cookie itself is never stored.
    cookie_hash: Mapped[str] = mapped_column(String(64), unique=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    # Loaded by ``sessions.find`` and kept with the row, so the request that found the
    # session does not read the account again (the session's identity map is weak).
    account: Mapped[Account] = relationship(lazy="select")
    acr: Mapped[str] = mapped_column(String(128))
    amr: Mapped[list[str]] = mapped_column(JSONType, default=list)
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    ended_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(Text)


class SessionClient(Base):
    """Which apps a session signed in to (for logout fan-out)."""

    __tablename__ = "session_client"

    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("sso_session.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    first_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class LogoutDelivery(Base):
    """A back-channel logout token waiting to be POSTed (retried, never blocks the user)."""

    __tablename__ = "logout_delivery"
    __table_args__ = (Index("ix_logout_delivery_pending", "done_at", "next_try_at"),)

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    client_id: Mapped[str] = mapped_column(String(128))
    uri: Mapped[str] = mapped_column(Text)
    logout_token: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_try_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    done_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
