"""account search indexes: the admin console's search by name, email, citizen-ID last four

Revision ID: 0010_account_search
Revises: 0009_agency_helpdesk
Create Date: 2026-12-07 15:00:00

Issue 20: ``GET /admin/v1/accounts?q=`` matches each word as a prefix of the Thai and
English names or the email, four digits also the citizen ID's last four, and ``locked=``
filters on ``locked_until``. On PostgreSQL the indexes use ``text_pattern_ops`` so
``LIKE 'x%'`` uses them whatever the database's collation (with th_TH.UTF-8 the email's
unique index would not serve a prefix).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0010_account_search"
down_revision: str | tuple[str, ...] | None = "0009_agency_helpdesk"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): the code of the
# previous revision runs on the result (tests/ops/test_migration_marks.py checks it).
govid_expand = True

PATTERN = ("given_name_th", "family_name_th", "given_name_en", "family_name_en", "email")


def upgrade() -> None:
    for name in PATTERN:
        op.create_index(
            f"ix_account_{name}_pattern",
            "account",
            [name],
            postgresql_ops={name: "text_pattern_ops"},
        )
    op.create_index("ix_account_citizen_id_last4", "account", ["citizen_id_last4"])
    op.create_index("ix_account_locked_until", "account", ["locked_until"])


def downgrade() -> None:
    op.drop_index("ix_account_locked_until", table_name="account")
    op.drop_index("ix_account_citizen_id_last4", table_name="account")
    for name in reversed(PATTERN):
        op.drop_index(f"ix_account_{name}_pattern", table_name="account")
