"""Second factors and login throttling state."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import Boolean, CheckConstraint, ForeignKey, Index, Integer, String, Text, Uuid
from sqlalchemy.orm import Mapped, mapped_column

from idp.db import Base, JSONType, UTCDateTime, new_uuid, utcnow

MFA_KINDS = ("totp", "recovery", "webauthn")


class MfaCredential(Base):
    __tablename__ = "mfa_credential"
    __table_args__ = (
        CheckConstraint("kind IN ('totp', 'recovery', 'webauthn')", name="kind"),
        Index("ix_mfa_credential_account_kind", "account_id", "kind"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    account_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("account.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(16))
    label: Mapped[str] = mapped_column(String(128), default="")
    # TOTP: the base32 secret, encrypted with the data key (AES-256-GCM).
    secret_enc: Mapped[str | None] = mapped_column(Text)
    # TOTP replay protection (RFC 6238 §5.2): the last time step accepted.
    last_used_step: Mapped[int | None] = mapped_column(Integer)
    # Recovery code: SHA-256 of a high-entropy single-use code.
    code_hash: Mapped[str | None] = mapped_column(String(64))
    # WebAuthn: credential id (base64url), COSE public key (base64url), signature counter.
    credential_id: Mapped[str | None] = mapped_column(String(1024), unique=True)
    public_key: Mapped[str | None] = mapped_column(Text)
    sign_count: Mapped[int] = mapped_column(Integer, default=0)
    transports: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # A passkey (discoverable credential, WebAuthn L2 §6.2.2): True when registered as
    # one (resident key required) or reported so (credProps.rk), or once it answered a
    # sign-in that named no account; None: not known (keys registered before 0014).
    discoverable: Mapped[bool | None] = mapped_column(Boolean)
    confirmed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)  # recovery codes
    last_used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


class ThrottleEntry(Base):
    """Failure counter per key (``acct:<id>`` or ``ip:<address>``), shared by all workers."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_failure_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime, index=True)
