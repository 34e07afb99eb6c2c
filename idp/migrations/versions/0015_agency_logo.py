"""agency logos for the people's pages

Revision ID: 0015_agency_logo
Revises: 0014_passkeys_and_app_privacy
Create Date: 2026-12-07 19:00:00

The page frame: an operator uploads an agency's logo (PNG or JPEG, size-limited;
idp/agencies/logos.py); the sign-in pages show it beside the agency's name. A table of its
own, so reading an agency never loads the image.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from idp.db import UTCDateTime

revision: str = "0015_agency_logo"
down_revision: str | tuple[str, ...] | None = "0014_passkeys_and_app_privacy"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): a new table the previous
# release does not know (tests/ops/test_migration_marks.py checks it).
govid_expand = True


def upgrade() -> None:
    op.create_table(
        "agency_logo",
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("content_type", sa.String(length=16), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "content_type IN ('image/png', 'image/jpeg')",
            name=op.f("ck_agency_logo_content_type"),
        ),
        sa.ForeignKeyConstraint(
            ["agency_id"],
            ["agency.id"],
            name=op.f("fk_agency_logo_agency_id_agency"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("agency_id", name=op.f("pk_agency_logo")),
    )


def downgrade() -> None:
    op.drop_table("agency_logo")
