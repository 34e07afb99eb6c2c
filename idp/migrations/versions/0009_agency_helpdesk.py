"""agency helpdesk contact: whom a person contacts when they cannot sign in

Revision ID: 0009_agency_helpdesk
Revises: 0008_mail_addresses
Create Date: 2026-12-07 14:40:00

Issue 19: account recovery and the pages' footer tell a person whom to contact; each
agency may name its helpdesk (mail, phone, page) and its PDPA privacy notice. All
nullable: an agency without them shows its parent's, then the central helpdesk.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_agency_helpdesk"
down_revision: str | tuple[str, ...] | None = "0008_mail_addresses"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): the code of the
# previous revision runs on the result (tests/ops/test_migration_marks.py checks it).
govid_expand = True

COLUMNS = (
    ("helpdesk_email", 320),
    ("helpdesk_phone", 40),
    ("helpdesk_url", 2000),
    ("privacy_url", 2000),
)


def upgrade() -> None:
    for name, length in COLUMNS:
        op.add_column("agency", sa.Column(name, sa.String(length), nullable=True))


def downgrade() -> None:
    # Plain ALTER TABLE ... DROP COLUMN (SQLite >= 3.35 has it): a batch copy of the
    # agency table would trip the foreign keys of the accounts that point at it.
    for name, _ in reversed(COLUMNS):
        op.execute(sa.text(f"ALTER TABLE agency DROP COLUMN {name}"))
