"""foundation: agency, account, role_grant, client, signing_key, audit_event, outbox

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:50:46.292610
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import idp.db

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "agency",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("code", sa.String(length=64), nullable=False),
        sa.Column("name_th", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("parent_id", sa.Uuid(), nullable=True),
        sa.Column("path", sa.String(length=1024), nullable=False),
        sa.Column("depth", sa.Integer(), nullable=False),
        sa.Column(
            "mail_domains",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("mailbox_quota_mb", sa.Integer(), nullable=False),
        sa.Column("attachment_limit_mb", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("ck_agency_status")),
        sa.CheckConstraint(
            "attachment_limit_mb > 0", name=op.f("ck_agency_attachment_limit_positive")
        ),
        sa.CheckConstraint("mailbox_quota_mb > 0", name=op.f("ck_agency_mailbox_quota_positive")),
        sa.ForeignKeyConstraint(
            ["parent_id"],
            ["agency.id"],
            name=op.f("fk_agency_parent_id_agency"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_agency")),
        sa.UniqueConstraint("code", name=op.f("uq_agency_code")),
    )
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_agency_parent_id"), ["parent_id"], unique=False)
        batch_op.create_index(
            "ix_agency_path", ["path"], unique=False, postgresql_ops={"path": "text_pattern_ops"}
        )

    op.create_table(
        "audit_event",
        sa.Column(
            "seq",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=False,
            nullable=False,
        ),
        sa.Column("at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("type", sa.String(length=64), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("agency_id", sa.Uuid(), nullable=True),
        sa.Column("subject", sa.String(length=128), nullable=True),
        sa.Column("client_id", sa.String(length=128), nullable=True),
        sa.Column("session_id", sa.String(length=128), nullable=True),
        sa.Column("ip", sa.String(length=64), nullable=True),
        sa.Column("user_agent", sa.Text(), nullable=True),
        sa.Column(
            "details",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_event")),
    )
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.create_index("ix_audit_event_agency_at", ["agency_id", "at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_audit_event_subject"), ["subject"], unique=False)
        batch_op.create_index("ix_audit_event_type_at", ["type", "at"], unique=False)

    op.create_table(
        "outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("op", sa.String(length=16), nullable=False),
        sa.Column(
            "payload",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_try_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("done_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("parked_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "op IN ('add', 'modify', 'disable', 'enable', 'delete')", name=op.f("ck_outbox_op")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_outbox")),
    )
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_outbox_account_id"), ["account_id"], unique=False)
        batch_op.create_index("ix_outbox_pending", ["done_at", "next_try_at"], unique=False)

    op.create_table(
        "signing_key",
        sa.Column("kid", sa.String(length=64), nullable=False),
        sa.Column("alg", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("private_key_enc", sa.Text(), nullable=False),
        sa.Column(
            "public_jwk",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("activated_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("retired_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("not_after", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("alg IN ('RS256', 'ES256')", name=op.f("ck_signing_key_alg")),
        sa.CheckConstraint(
            "state IN ('next', 'active', 'retired')", name=op.f("ck_signing_key_state")
        ),
        sa.PrimaryKeyConstraint("kid", name=op.f("pk_signing_key")),
    )
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_signing_key_state"), ["state"], unique=False)

    op.create_table(
        "account",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("given_name_th", sa.String(length=255), nullable=False),
        sa.Column("family_name_th", sa.String(length=255), nullable=False),
        sa.Column("given_name_en", sa.String(length=255), nullable=False),
        sa.Column("family_name_en", sa.String(length=255), nullable=False),
        sa.Column("locale", sa.String(length=8), nullable=False),
        sa.Column("citizen_id_enc", sa.String(length=255), nullable=True),
        sa.Column("citizen_id_hmac", sa.String(length=64), nullable=True),
        sa.Column("citizen_id_last4", sa.String(length=4), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("password_hash", sa.String(length=512), nullable=True),
        sa.Column("password_changed_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("failed_logins", sa.Integer(), nullable=False),
        sa.Column("locked_until", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("mailbox_quota_mb", sa.Integer(), nullable=False),
        sa.Column("attachment_limit_mb", sa.Integer(), nullable=False),
        sa.Column(
            "aliases",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("deleted_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint(
            "status IN ('active', 'suspended', 'deleted')", name=op.f("ck_account_status")
        ),
        sa.CheckConstraint(
            "attachment_limit_mb > 0", name=op.f("ck_account_attachment_limit_positive")
        ),
        sa.CheckConstraint("failed_logins >= 0", name=op.f("ck_account_failed_logins_nonnegative")),
        sa.CheckConstraint("mailbox_quota_mb > 0", name=op.f("ck_account_mailbox_quota_positive")),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_account_agency_id_agency"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account")),
        sa.UniqueConstraint("citizen_id_hmac", name=op.f("uq_account_citizen_id_hmac")),
        sa.UniqueConstraint("email", name=op.f("uq_account_email")),
    )
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_account_agency_id"), ["agency_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_account_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "client",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("client_id", sa.String(length=128), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("name_th", sa.String(length=255), nullable=False),
        sa.Column("name_en", sa.String(length=255), nullable=False),
        sa.Column("token_endpoint_auth_method", sa.String(length=32), nullable=False),
        sa.Column("secret_hash", sa.String(length=64), nullable=True),
        sa.Column(
            "jwks",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=True,
        ),
        sa.Column(
            "redirect_uris",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "post_logout_redirect_uris",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("backchannel_logout_uri", sa.Text(), nullable=True),
        sa.Column("backchannel_logout_session_required", sa.Boolean(), nullable=False),
        sa.Column(
            "grant_types",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column(
            "scopes",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("min_acr", sa.String(length=128), nullable=True),
        sa.Column("id_token_signed_response_alg", sa.String(length=8), nullable=False),
        sa.Column("access_token_ttl", sa.Integer(), nullable=True),
        sa.Column("refresh_token_ttl", sa.Integer(), nullable=True),
        sa.Column("first_party", sa.Boolean(), nullable=False),
        sa.Column("allow_citizen_id", sa.Boolean(), nullable=False),
        sa.Column("resource_server", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "id_token_signed_response_alg IN ('RS256', 'ES256')",
            name=op.f("ck_client_id_token_alg"),
        ),
        sa.CheckConstraint("status IN ('active', 'disabled')", name=op.f("ck_client_status")),
        sa.CheckConstraint(
            "token_endpoint_auth_method IN ('client_secret_basic', 'client_secret_post', 'private_key_jwt', 'none')",
            name=op.f("ck_client_auth_method"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_client_agency_id_agency"),
            ondelete="RESTRICT",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_client")),
        sa.UniqueConstraint("client_id", name=op.f("uq_client_client_id")),
    )
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_client_agency_id"), ["agency_id"], unique=False)

    op.create_table(
        "role_grant",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=32), nullable=False),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("granted_by", sa.Uuid(), nullable=True),
        sa.Column("expires_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "role IN ('operator', 'agency_admin', 'auditor')", name=op.f("ck_role_grant_role")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_role_grant_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_role_grant_agency_id_agency"),
            ondelete="RESTRICT",
        ),
        sa.ForeignKeyConstraint(
            ["granted_by"],
            ["account.id"],
            name=op.f("fk_role_grant_granted_by_account"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_grant")),
        sa.UniqueConstraint("account_id", "role", "agency_id", name="uq_role_grant_scope"),
    )
    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_grant_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_role_grant_agency_id"), ["agency_id"], unique=False)


def downgrade() -> None:

    with op.batch_alter_table("role_grant", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_grant_agency_id"))
        batch_op.drop_index(batch_op.f("ix_role_grant_account_id"))

    op.drop_table("role_grant")
    with op.batch_alter_table("client", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_client_agency_id"))

    op.drop_table("client")
    with op.batch_alter_table("account", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_account_updated_at"))
        batch_op.drop_index(batch_op.f("ix_account_status"))
        batch_op.drop_index(batch_op.f("ix_account_agency_id"))

    op.drop_table("account")
    with op.batch_alter_table("signing_key", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_signing_key_state"))

    op.drop_table("signing_key")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_pending")
        batch_op.drop_index(batch_op.f("ix_outbox_account_id"))

    op.drop_table("outbox")
    with op.batch_alter_table("audit_event", schema=None) as batch_op:
        batch_op.drop_index("ix_audit_event_type_at")
        batch_op.drop_index(batch_op.f("ix_audit_event_subject"))
        batch_op.drop_index(batch_op.f("ix_audit_event_at"))
        batch_op.drop_index("ix_audit_event_agency_at")

    op.drop_table("audit_event")
    with op.batch_alter_table("agency", schema=None) as batch_op:
        batch_op.drop_index("ix_agency_path", postgresql_ops={"path": "text_pattern_ops"})
        batch_op.drop_index(batch_op.f("ix_agency_parent_id"))

    op.drop_table("agency")
