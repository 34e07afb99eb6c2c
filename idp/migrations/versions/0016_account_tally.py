"""account_tally: exact account counts by agency and status kept by triggers; small GIN
pending lists on the trigram indexes

Revision ID: 0016_account_tally
Revises: 0015_agency_logo
Create Date: 2026-12-07 23:40:00

SCIM's unfiltered ``totalResults`` and the console dashboard's accounts by status counted
``account`` on every request (~0.2 s for 240,000 accounts, more for an agency's subtree,
whose accounts lie on every page of the table). ``account_tally`` holds the counts by
agency and status; triggers on ``account`` write it in the same transaction as every
insert (COPY of the importer included), delete, and change of status or agency,
whoever writes (this release, the previous one during a rolling upgrade, psql), so a sum
over it is exact at any snapshot and a subtree's count is a sum over its agencies
(docs/decisions/0029-exact-counts-and-trigram-pending-lists.md).

On PostgreSQL a change adds rows (+n/-n) rather than updating a shared counter, so
concurrent sign-ups or SCIM creations in one agency never wait on each other; an
insert statement adds one row per agency and status it touched (a statement-level
trigger over its transition table), a status or agency change two. Housekeeping folds the
rows (idp.accounts.tally.fold). SQLite (one writer) keeps one row per agency and status.

The trigram GIN indexes of 0011 kept PostgreSQL's default 4 MB pending list: rows
inserted since the last vacuum sit there unsorted and every ``co`` search reads all of
it (15-25 ms per statement with a few hundred pending pages after an import, twice per
SCIM request). 256 kB bounds that at ~32 pages; inserts flush it more often.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_account_tally"
down_revision: str | tuple[str, ...] | None = "0015_agency_logo"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None
# Expand only (docs/operations.md "Upgrades without downtime"): a new table, triggers the
# previous release's writes go through unchanged, index storage parameters
# (tests/ops/test_migration_marks.py checks it).
govid_expand = True

TRGM = ("ix_account_email_trgm", "ix_account_external_id_external_id_trgm")
PENDING_KB = 256

PG_FUNCTION = """
CREATE FUNCTION account_tally_rows() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO account_tally (agency_id, status, n)
      SELECT agency_id, status, count(*) FROM account_tally_new GROUP BY agency_id, status;
  ELSIF TG_OP = 'DELETE' THEN
    INSERT INTO account_tally (agency_id, status, n)
      SELECT agency_id, status, -count(*) FROM account_tally_old GROUP BY agency_id, status;
  ELSE
    INSERT INTO account_tally (agency_id, status, n)
      VALUES (OLD.agency_id, OLD.status, -1), (NEW.agency_id, NEW.status, 1);
  END IF;
  RETURN NULL;
END
$$
"""
PG_TRIGGERS = (
    "CREATE TRIGGER account_tally_insert AFTER INSERT ON account "
    "REFERENCING NEW TABLE AS account_tally_new "
    "FOR EACH STATEMENT EXECUTE FUNCTION account_tally_rows()",
    "CREATE TRIGGER account_tally_delete AFTER DELETE ON account "
    "REFERENCING OLD TABLE AS account_tally_old "
    "FOR EACH STATEMENT EXECUTE FUNCTION account_tally_rows()",
    # Row by row, and only when status or agency_id is set to something else (the WHEN is
    # evaluated without calling the function: other updates of account cost nothing).
    "CREATE TRIGGER account_tally_update AFTER UPDATE OF status, agency_id ON account "
    "FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status "
    "OR OLD.agency_id IS DISTINCT FROM NEW.agency_id) "
    "EXECUTE FUNCTION account_tally_rows()",
)

# SQLite: one row per (agency, status), made at zero when missing, then moved by n.
_SQLITE_ADD = """
  INSERT INTO account_tally (agency_id, status, n)
    SELECT {r}.agency_id, {r}.status, 0 WHERE NOT EXISTS (
      SELECT 1 FROM account_tally WHERE agency_id = {r}.agency_id AND status = {r}.status);
  UPDATE account_tally SET n = n {sign} 1 WHERE id = (
    SELECT min(id) FROM account_tally WHERE agency_id = {r}.agency_id AND status = {r}.status);
"""
SQLITE_TRIGGERS = (
    "CREATE TRIGGER account_tally_insert AFTER INSERT ON account BEGIN"
    + _SQLITE_ADD.format(r="NEW", sign="+")
    + "END",
    "CREATE TRIGGER account_tally_delete AFTER DELETE ON account BEGIN"
    + _SQLITE_ADD.format(r="OLD", sign="-")
    + "END",
    "CREATE TRIGGER account_tally_update AFTER UPDATE OF status, agency_id ON account "
    "WHEN OLD.status IS NOT NEW.status OR OLD.agency_id IS NOT NEW.agency_id BEGIN"
    + _SQLITE_ADD.format(r="OLD", sign="-")
    + _SQLITE_ADD.format(r="NEW", sign="+")
    + "END",
)


def _pg() -> bool:
    return op.get_bind().dialect.name == "postgresql"


def upgrade() -> None:
    op.create_table(
        "account_tally",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("agency_id", sa.Uuid(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("n", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_account_tally")),
    )
    op.create_index("ix_account_tally_agency_status", "account_tally", ["agency_id", "status", "n"])
    if _pg():
        op.execute(sa.text(PG_FUNCTION))
        # CREATE TRIGGER locks out writers of account until this transaction commits, so
        # the counts below and the triggers' rows add up to the table exactly.
        for ddl in PG_TRIGGERS:
            op.execute(sa.text(ddl))
        for name in TRGM:
            op.execute(sa.text(f"ALTER INDEX {name} SET (gin_pending_list_limit = {PENDING_KB})"))
            op.execute(sa.text(f"SELECT gin_clean_pending_list('{name}'::regclass)"))
    else:
        for ddl in SQLITE_TRIGGERS:
            op.execute(sa.text(ddl))
    op.execute(
        sa.text(
            "INSERT INTO account_tally (agency_id, status, n) "
            "SELECT agency_id, status, count(*) FROM account GROUP BY agency_id, status"
        )
    )


def downgrade() -> None:
    for name in ("account_tally_insert", "account_tally_delete", "account_tally_update"):
        op.execute(sa.text(f"DROP TRIGGER IF EXISTS {name}" + (" ON account" if _pg() else "")))
    if _pg():
        op.execute(sa.text("DROP FUNCTION IF EXISTS account_tally_rows()"))
        for name in TRGM:
            op.execute(sa.text(f"ALTER INDEX {name} RESET (gin_pending_list_limit)"))
    op.drop_index("ix_account_tally_agency_status", table_name="account_tally")
    op.drop_table("account_tally")
