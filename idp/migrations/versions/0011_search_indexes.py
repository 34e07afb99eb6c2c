"""search indexes for SCIM and the admin API over 240,000 accounts

Revision ID: 0011_search_indexes
Revises: 0010_account_search
Create Date: 2026-12-07 15:10:00

Issue 21: SCIM ``userName``/``emails`` ``co``/``ew`` (and ``sw``) and ``externalId``
substring filters were sequential scans (234-322 ms at 240,000 accounts). On PostgreSQL
only: the pg_trgm extension (a trusted extension since PostgreSQL 13: the database owner
may create it) and trigram GIN indexes on ``account.email`` and
``account_external_id.external_id``, which serve ``LIKE '%x%'``, ``'%x'`` and ``'x%'``
whatever the collation, and a btree on ``reverse(email)`` for ``ew`` (a domain's
trigrams are in nearly every row; a reversed prefix is a range scan). On both databases: ``(created_at, id)``, the SCIM list order and
the admin API's ``sort=created_at`` keyset. SQLite keeps scanning (an embedded
installation is small).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_search_indexes"
down_revision: str | tuple[str, ...] | None = "0010_account_search"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): the code of the
# previous revision runs on the result (tests/ops/test_migration_marks.py checks it).
govid_expand = True

TRGM = (
    ("ix_account_email_trgm", "account", "email"),
    ("ix_account_external_id_external_id_trgm", "account_external_id", "external_id"),
)


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_index("ix_account_created_at_id", "account", ["created_at", "id"])
    if not _pg():
        return
    op.execute(sa.text("CREATE EXTENSION IF NOT EXISTS pg_trgm"))
    for name, table, column in TRGM:
        op.create_index(
            name,
            table,
            [column],
            postgresql_using="gin",
            postgresql_ops={column: "gin_trgm_ops"},
        )
    # userName ew: a prefix of reverse(email) (idp/admin/scim/filter.py).
    op.execute(
        sa.text(
            "CREATE INDEX ix_account_email_reverse ON account (reverse(email) text_pattern_ops)"
        )
    )


def downgrade() -> None:
    if _pg():
        op.drop_index("ix_account_email_reverse", table_name="account")
        for name, table, _column in reversed(TRGM):
            op.drop_index(name, table_name=table)
        # The extension stays: something else in the database may use it.
    op.drop_index("ix_account_created_at_id", table_name="account")
