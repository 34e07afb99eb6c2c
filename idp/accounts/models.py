"""Accounts (one per civil servant mailbox), role grants, mail addresses, one-time link
tokens and SCIM external ids."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import (
    BigInteger,
    CheckConstraint,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
    Uuid,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from idp.agencies.models import Agency
from idp.db import Base, JSONType, UTCDateTime, new_uuid, utcnow

ACCOUNT_STATUSES = ("active", "suspended", "deleted")
ROLES = ("operator", "agency_admin", "auditor")
TOKEN_PURPOSES = ("activate", "reset")


class Account(Base):
    __tablename__ = "account"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'deleted')", name="status"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_nonnegative"),
        CheckConstraint("mailbox_quota_mb > 0", name="mailbox_quota_positive"),
        CheckConstraint("attachment_limit_mb > 0", name="attachment_limit_positive"),
    )

    # Also the OIDC `sub` (DESIGN §4).
    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agency.id", ondelete="RESTRICT"), index=True
    )
    # Stored lower-cased; the unique constraint therefore is case-insensitive.
    email: Mapped[str] = mapped_column(String(320), unique=True)
    given_name_th: Mapped[str] = mapped_column(String(255), default="")
    family_name_th: Mapped[str] = mapped_column(String(255), default="")
    given_name_en: Mapped[str] = mapped_column(String(255), default="")
    family_name_en: Mapped[str] = mapped_column(String(255), default="")
    locale: Mapped[str] = mapped_column(String(8), default="th")
    # Citizen ID: never a login name. Encrypted with the data key, plus a keyed HMAC
    # (blind index) for uniqueness/lookup and the last four digits for display.
    citizen_id_enc: Mapped[str | None] = mapped_column(String(255))
    citizen_id_hmac: Mapped[str | None] = mapped_column(String(64), unique=True)
    citizen_id_last4: Mapped[str | None] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    password_hash: Mapped[str | None] = mapped_column(String(512))
    password_changed_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    mailbox_quota_mb: Mapped[int] = mapped_column(Integer, default=6144)
    attachment_limit_mb: Mapped[int] = mapped_column(Integer, default=25)
    aliases: Mapped[list[str]] = mapped_column(JSONType, default=list)
    version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(
        UTCDateTime, default=utcnow, onupdate=utcnow, index=True
    )
    deleted_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(lazy="joined")

    __mapper_args__ = {"version_id_col": version}

    @validates("email")
    def _lower_email(self, _key: str, value: str) -> str:
        return value.strip().lower()

    @property
    def etag(self) -> str:
        return f'W/"{self.version}"'

    def __repr__(self) -> str:
        return f"<Account {self.email} {self.status}>"


# The console's account search (idp.accounts.manage): prefix matches on the
# names and the email, the citizen ID's last four, the locked filter. On PostgreSQL
# text_pattern_ops lets LIKE 'x%' use them whatever the database's collation.
SEARCH_COLUMNS = ("given_name_th", "family_name_th", "given_name_en", "family_name_en")
for _name in (*SEARCH_COLUMNS, "email"):
    Index(
        f"ix_account_{_name}_pattern",
        getattr(Account, _name),
        postgresql_ops={_name: "text_pattern_ops"},
    )
Index("ix_account_citizen_id_last4", Account.citizen_id_last4)
Index("ix_account_locked_until", Account.locked_until)
# The dashboard's counts for a subtree (idp.accounts.summary, migration 0013): accounts by
# status, and the ids the outbox backlog is joined on, from the index alone.
Index("ix_account_agency_status", Account.agency_id, Account.status, Account.id)


class RoleGrant(Base):
    """A role over an agency and its whole subtree (DESIGN §6)."""

    __tablename__ = "role_grant"
    __table_args__ = (
        CheckConstraint("role IN ('operator', 'agency_admin', 'auditor')", name="role"),
        UniqueConstraint("account_id", "role", "agency_id", name="uq_role_grant_scope"),
    )

    id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=new_uuid)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    role: Mapped[str] = mapped_column(String(32))
    agency_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("agency.id", ondelete="RESTRICT"), index=True
    )
    granted_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("account.id", ondelete="SET NULL")
    )
    expires_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)


ADDRESS_KINDS = ("primary", "alias")


class MailAddress(Base):
    """Every address an account receives mail at: its primary email and each alias, one
    row each, lower-cased. The primary key makes an address unique across all accounts
    and both kinds. Rows of a soft-deleted account stay until the
    purge. Kept in step by ``idp.accounts.addresses`` in the writer's transaction."""

    __tablename__ = "mail_address"
    __table_args__ = (CheckConstraint("kind IN ('primary', 'alias')", name="kind"),)

    address: Mapped[str] = mapped_column(String(320), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    kind: Mapped[str] = mapped_column(String(8))


class AccountToken(Base):
    """A one-time link token (activation of a new account, password reset by link).

    Only the SHA-256 of the token is kept; the token itself is shown once to the admin.
    """

    __tablename__ = "account_token"
    __table_args__ = (CheckConstraint("purpose IN ('activate', 'reset')", name="purpose"),)

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), index=True
    )
    purpose: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[dt.datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[dt.datetime | None] = mapped_column(UTCDateTime)


class AccountExternalId(Base):
    """SCIM ``externalId``: the HR system's own identifier for an account (RFC 7643 §3.1)."""

    __tablename__ = "account_external_id"

    account_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("account.id", ondelete="CASCADE"), primary_key=True
    )
    external_id: Mapped[str] = mapped_column(String(255), index=True)
    updated_at: Mapped[dt.datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AccountTally(Base):
    """How many accounts each agency has in each status, as rows to add up: written by
    the database's own triggers on ``account`` (migration 0016_account_tally), in the
    transaction that inserts, deletes or changes the status or agency of an account, so
    a sum over it is exact at any snapshot. On PostgreSQL each change adds a row
    (concurrent writers never wait on a shared counter) and housekeeping folds them
    (idp.accounts.tally.fold); SQLite keeps one row per agency and status. Read by
    idp.accounts.tally (SCIM's unfiltered totalResults, the dashboard's counts)."""

    __tablename__ = "account_tally"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=True
    )
    # No foreign key: an agency with no accounts may go, whatever rows of zero are left.
    agency_id: Mapped[uuid.UUID] = mapped_column(Uuid)
    status: Mapped[str] = mapped_column(String(16))
    n: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"))


Index("ix_account_tally_agency_status", AccountTally.agency_id, AccountTally.status, AccountTally.n)
