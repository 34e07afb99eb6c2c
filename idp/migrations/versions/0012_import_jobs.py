"""import jobs: a bulk import run in the background, with its progress

Revision ID: 0012_import_jobs
Revises: 0011_search_indexes
Create Date: 2026-12-07 15:00:00

Issue 20: the console's progress view of a large import survives a page reload because
the job's state (phase, rows done of total, status, the encrypted report) is a row that
any GovID process can read, not memory of the request that started it.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import idp.db

revision: str = "0012_import_jobs"
down_revision: str | tuple[str, ...] | None = "0011_search_indexes"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): the code of the
# previous revision runs on the result (tests/ops/test_migration_marks.py checks it).
govid_expand = True


def upgrade() -> None:
    op.create_table(
        "import_job",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("caller", sa.String(length=160), nullable=False),
        sa.Column("dry_run", sa.Boolean(), nullable=False),
        sa.Column("mode", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("phase", sa.String(length=10), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("result_enc", sa.Text(), nullable=True),
        sa.Column("error", sa.String(length=255), nullable=True),
        sa.Column("created_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_at", idp.db.UTCDateTime(timezone=True), nullable=False),
        sa.CheckConstraint(
            "status IN ('queued', 'running', 'done', 'failed')",
            name=op.f("ck_import_job_status"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_job")),
    )
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_job_caller"), ["caller"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("import_job", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_job_caller"))
    op.drop_table("import_job")
