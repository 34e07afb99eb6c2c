"""account (agency_id, status, id), parked outbox rows: the console dashboard's counts for a subtree

Revision ID: 0013_account_agency_status
Revises: 0012_import_jobs
Create Date: 2026-12-07 15:20:00

Issue 20: ``GET /admin/v1/summary`` counts a subtree's accounts by status and joins the
directory outbox on their ids. A subtree's accounts lie on every page of ``account``
(agencies are interleaved), so without this index PostgreSQL scans the whole table
(0.3-0.4 s at 240,000 accounts); with it the counts are index-only scans. Parked
outbox rows are few: a partial index on their account_id counts them without a scan.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

PARKED = "done_at IS NULL AND parked_at IS NOT NULL"

revision: str = "0013_account_agency_status"
down_revision: str | tuple[str, ...] | None = "0012_import_jobs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): the code of the
# previous revision runs on the result (tests/ops/test_migration_marks.py checks it).
govid_expand = True


def upgrade() -> None:
    op.create_index("ix_account_agency_status", "account", ["agency_id", "status", "id"])
    op.create_index(
        "ix_outbox_parked_account",
        "outbox",
        ["account_id"],
        postgresql_where=sa.text(PARKED),
        sqlite_where=sa.text(PARKED),
    )


def downgrade() -> None:
    op.drop_index("ix_outbox_parked_account", table_name="outbox")
    op.drop_index("ix_account_agency_status", table_name="account")
