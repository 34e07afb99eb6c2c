"""mail addresses: every account's email and aliases, unique across all accounts

Revision ID: 0008_mail_addresses
Revises: 0007_api_resources
Create Date: 2026-12-07 06:40:00

Issue 17 rule 2: an alias is a ``mail`` value in the directory, so an address held by two
accounts lets one receive the other's mail. ``mail_address`` holds one row per primary
email and per alias (lower-cased), its primary key making each address unique across
all accounts and both kinds. Backfilled from ``account.email`` and ``account.aliases``
in creation order: an address already held by an earlier account (or twice by one) is
kept for the first holder only and reported in this log; the upgrade never fails on
existing data. The account rows themselves are not changed: clean the reported aliases
through the admin API (the next alias change of such an account rewrites its rows).
"""

import json
import logging
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_mail_addresses"
down_revision: str | tuple[str, ...] | None = "0007_api_resources"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

log = logging.getLogger("alembic.runtime.migration")
BATCH = 5000
MAIL = sa.table(
    "mail_address",
    sa.column("address", sa.String),
    sa.column("account_id", sa.Uuid),
    sa.column("kind", sa.String),
)


def _aliases(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes):  # SQLite (and any driver that does not decode)
        try:
            value = json.loads(value)
        except ValueError:
            return []
    if not isinstance(value, list):
        return []
    return [a.strip().lower() for a in value if isinstance(a, str) and a.strip()]


def _backfill() -> None:
    bind = op.get_bind()
    account = sa.table(
        "account",
        sa.column("id", sa.Uuid),
        sa.column("email", sa.String),
        sa.column("aliases", sa.Text),
        sa.column("created_at", sa.DateTime),
    )
    # JSON as text on both databases (JSONB on PostgreSQL), decoded by _aliases.
    stmt = sa.select(account.c.id, account.c.email, sa.cast(account.c.aliases, sa.Text)).order_by(
        account.c.created_at, account.c.id
    )
    holder: dict[str, str] = {}
    rows: list[dict] = []
    duplicates = 0
    for account_id, email, raw_aliases in bind.execute(stmt):
        wanted = [(email.strip().lower(), "primary")]
        wanted += [(a, "alias") for a in _aliases(raw_aliases)]
        for address, kind in wanted:
            if address in holder:
                if holder[address] != str(account_id):  # not a repeat within one account
                    duplicates += 1
                    log.warning(
                        "mail_address: %s (%s of account %s) is already held by account "
                        "%s; kept for the first holder",
                        address,
                        kind,
                        account_id,
                        holder[address],
                    )
                continue
            holder[address] = str(account_id)
            rows.append({"address": address, "account_id": account_id, "kind": kind})
        if len(rows) >= BATCH:
            op.bulk_insert(MAIL, rows)
            rows = []
    if rows:
        op.bulk_insert(MAIL, rows)
    if duplicates:
        log.warning("mail_address: %d duplicate address(es) in existing accounts", duplicates)


def upgrade() -> None:
    op.create_table(
        "mail_address",
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("account_id", sa.Uuid(), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.CheckConstraint("kind IN ('primary', 'alias')", name=op.f("ck_mail_address_kind")),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["account.id"],
            name=op.f("fk_mail_address_account_id_account"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("address", name=op.f("pk_mail_address")),
    )
    with op.batch_alter_table("mail_address", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_mail_address_account_id"), ["account_id"], unique=False
        )
    _backfill()


def downgrade() -> None:
    with op.batch_alter_table("mail_address", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mail_address_account_id"))
    op.drop_table("mail_address")
