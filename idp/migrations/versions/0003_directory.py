"""directory: per-agency federation (sign-in against an agency's own LDAP/AD) and
partial indexes for the outbox worker's queue

Revision ID: 0003_directory
Revises: 0002
Create Date: 2026-11-24 22:06:20.840365
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

import idp.db

revision: str = "0003_directory"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "agency_federation",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column(
            "servers",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.Column("start_tls", sa.Boolean(), nullable=False),
        sa.Column("allow_plain", sa.Boolean(), nullable=False),
        sa.Column("ca_pem", sa.Text(), nullable=True),
        sa.Column("bind_dn_template", sa.String(length=512), nullable=True),
        sa.Column("search_base", sa.String(length=512), nullable=True),
        sa.Column("search_filter", sa.String(length=512), nullable=True),
        sa.Column("service_bind_dn", sa.String(length=512), nullable=True),
        sa.Column("service_password_enc", sa.String(length=2048), nullable=True),
        sa.Column("timeout_seconds", sa.Integer(), nullable=False),
        sa.Column("fallback_to_local", sa.Boolean(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_by", sa.String(length=128), nullable=True),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_federation_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_federation")),
    )
    queued = sa.text("done_at IS NULL AND parked_at IS NULL")
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.create_index(
            "ix_outbox_queue", ["id"], postgresql_where=queued, sqlite_where=queued
        )
        batch_op.create_index(
            "ix_outbox_queue_account",
            ["account_id", "id"],
            postgresql_where=queued,
            sqlite_where=queued,
        )


def downgrade() -> None:
    with op.batch_alter_table("outbox", schema=None) as batch_op:
        batch_op.drop_index("ix_outbox_queue_account")
        batch_op.drop_index("ix_outbox_queue")
    op.drop_table("agency_federation")
