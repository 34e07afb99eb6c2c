"""Authorization codes, grants, refresh tokens, revocations, consents, replay cache."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import ForeignKey, Index, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, new_uuid, utcnow


class AuthCode(Base):
    """RFC 6749 §4.1.2: short-lived, single use. Only the SHA-256 of the code is kept."""

    __tablename__ = "auth_code"

    code_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    client_id: Mapped[str] = mapped_column(String(128))
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    sid: Mapped[str] = mapped_column(String(64))
    redirect_uri: Mapped[str] = mapped_column(Text)
    scope: Mapped[str] = mapped_column(Text)
    nonce: Mapped[str | None] = mapped_column(Text)
    code_challenge: Mapped[str | None] = mapped_column(String(128))
    code_challenge_method: Mapped[str | None] = mapped_column(String(16))
    acr: Mapped[str] = mapped_column(String(128))
    amr: Mapped[list[str]] = mapped_column(JSONType, default=list)
    auth_time: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    claims: Mapped[dict | None] = mapped_column(JSONType)  # OIDC Core §5.5 request
    # RFC 8707 §2.1: the APIs (identifiers) named by `resource` at /authorize; a token
    # request may then select one of them (§2.2). None: GovID's own APIs only.
    resources: Mapped[list[str] | None] = mapped_column(JSONType)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    # The grant created when the code was redeemed: revoked if the code is replayed.
    grant_id: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class Grant(Base):
    """One authorization (a redeemed code): the family of every token issued from it."""

    __tablename__ = "oauth_grant"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    client_id: Mapped[str] = mapped_column(String(128), index=True)
    account_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    sid: Mapped[str | None] = mapped_column(String(64), index=True)
    scope: Mapped[str] = mapped_column(Text)
    acr: Mapped[str | None] = mapped_column(String(128))
    amr: Mapped[list[str]] = mapped_column(JSONType, default=list)
    auth_time: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    claims: Mapped[dict | None] = mapped_column(JSONType)
    resources: Mapped[list[str] | None] = mapped_column(JSONType)  # from the auth code
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_reason: Mapped[str | None] = mapped_column(String(32))


class RefreshToken(Base):
    """Rotating refresh tokens (RFC 9700 §4.14.2): reuse of a rotated one revokes the grant."""

    __tablename__ = "refresh_token"

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    grant_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("oauth_grant.id", ondelete="CASCADE"), index=True
    )
    client_id: Mapped[str] = mapped_column(String(128))
    scope: Mapped[str] = mapped_column(Text)
    rotated_from: Mapped[uuid.UUID | None] = mapped_column(Uuid)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    revoked_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class RevokedToken(Base):
    """Deny-list of revoked JWT access tokens, kept until they would have expired anyway."""

    __tablename__ = "revoked_token"

    jti: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, index=True)


class Consent(Base):
    """Remembered consent, per account, client and scope set."""

    __tablename__ = "consent"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    client_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    granted_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ReplayEntry(Base):
    """Seen one-time values (private_key_jwt `jti`, ...) until they expire."""

    __tablename__ = "replay_cache"
    __table_args__ = (Index("ix_replay_cache_expires_at", "expires_at"),)

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
