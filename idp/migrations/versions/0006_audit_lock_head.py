"""audit: take the chain lock and read the head in one round trip (PostgreSQL)

Revision ID: 0006_audit_lock_head
Revises: 0004_admin
Create Date: 2026-11-25 02:10:00

Every audited request used to send two statements before its INSERT: the advisory lock,
then the head read. ``govid_audit_lock_head`` does both in one call. It must stay
VOLATILE: in READ COMMITTED each statement of a volatile PL/pgSQL function takes a new
snapshot, so the head is read after the lock is granted and sees the previous holder's
committed row (PostgreSQL docs, "Function Volatility Categories"; "Transaction
Isolation", READ COMMITTED). SQLite has no functions and needs none: its writer lock is
taken by the statement that precedes the head read (idp/audit/service.py).
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0006_audit_lock_head"
down_revision: str | tuple[str, ...] | None = "0004_admin"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

FUNCTION = """
CREATE OR REPLACE FUNCTION govid_audit_lock_head(lock_key bigint)
RETURNS TABLE (seq bigint, hash text, at timestamptz)
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    PERFORM pg_advisory_xact_lock(lock_key);
    -- A new snapshot (READ COMMITTED, volatile function): taken after the lock.
    RETURN QUERY
        SELECT e.seq::bigint, e.hash::text, e.at
        FROM audit_event e ORDER BY e.seq DESC LIMIT 1;
    IF NOT FOUND THEN
        -- Every event purged: the last purge checkpoint is the head (no time).
        RETURN QUERY
            SELECT c.seq::bigint, c.hash::text, NULL::timestamptz
            FROM audit_checkpoint c ORDER BY c.seq DESC LIMIT 1;
    END IF;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(FUNCTION)


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS govid_audit_lock_head(bigint)")
