"""mfa credentials and login throttle

Revision ID: 0005_mfa
Revises: 0003_audit, 0003_directory
Create Date: 2026-11-24 22:19:42.224781
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import idp.db

revision: str = "0005_mfa"
down_revision: str | tuple[str, ...] | None = ("0003_audit", "0003_directory")
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "login_throttle",
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_failure_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("locked_until", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key", name=op.f("pk_login_throttle")),
    )
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_login_throttle_locked_until"), ["locked_until"], unique=False
        )

    op.create_table(
        "mfa_credential",
        sa.Column("id", sa.Uuid(), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("label", sa.String(length=128), nullable=False),
        sa.Column("secret_enc", sa.Text(), nullable=True),
        sa.Column("last_used_step", sa.Integer(), nullable=True),
        sa.Column("code_hash", sa.String(length=64), nullable=True),
        sa.Column("credential_id", sa.String(length=1024), nullable=True),
        sa.Column("public_key", sa.Text(), nullable=True),
        sa.Column("sign_count", sa.Integer(), nullable=False),
        sa.Column(
            "transports",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("confirmed_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("used_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_used_at", idp.db.UTCDateTime(timezone=True), nullable=True),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "kind IN ('totp', 'recovery', 'webauthn')", name=op.f("ck_mfa_credential_kind")
        ),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_mfa_credential_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mfa_credential")),
        sa.UniqueConstraint("credential_id", name=op.f("uq_mfa_credential_credential_id")),
    )
    with op.batch_alter_table("mfa_credential", schema=None) as batch_op:
        batch_op.create_index(
            "ix_mfa_credential_account_kind", ["account_id", "kind"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("mfa_credential", schema=None) as batch_op:
        batch_op.drop_index("ix_mfa_credential_account_kind")

    op.drop_table("mfa_credential")
    with op.batch_alter_table("login_throttle", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_login_throttle_locked_until"))

    op.drop_table("login_throttle")
