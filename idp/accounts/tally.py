"""Exact account counts without counting accounts: sums over ``account_tally``, which the
database's triggers keep in step with ``account`` in the same transaction (migration
0016_account_tally; docs/decisions/0029-exact-counts-and-trigram-pending-lists.md).

A sum read at a snapshot equals ``SELECT count(*) FROM account`` at that snapshot,
agency by agency and status by status; a subtree's figure adds up its agencies' rows (a
few thousand at most), whatever the number of accounts. No web framework here."""

from __future__ import annotations

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from idp.accounts.models import ACCOUNT_STATUSES, AccountTally
from idp.authz.scope import Scope


def by_status(db: Session, scope: Scope) -> dict[str, int]:
    """Accounts in the scope's agencies by status (every status, zero when none)."""
    out = {s: 0 for s in ACCOUNT_STATUSES}
    stmt = scope.apply(
        select(AccountTally.status, func.sum(AccountTally.n)).group_by(AccountTally.status),
        AccountTally.agency_id,
    )
    for status, n in db.execute(stmt):
        out[status] = int(n or 0)
    return out


def not_deleted(db: Session, scope: Scope) -> int:
    """Accounts in the scope's agencies whose status is not ``deleted`` (SCIM's Users)."""
    stmt = scope.apply(
        select(func.coalesce(func.sum(AccountTally.n), 0)).where(AccountTally.status != "deleted"),
        AccountTally.agency_id,
    )
    return int(db.scalar(stmt) or 0)


# PostgreSQL: the rows of each (agency, status) that has more than one, replaced by their
# sum (none when it is zero). Rows another transaction adds meanwhile are not in this
# statement's snapshot, so they are neither deleted nor summed: the totals never move.
_FOLD = text(
    """
    WITH many AS (
      SELECT agency_id, status FROM account_tally
      GROUP BY agency_id, status HAVING count(*) > 1 OR sum(n) = 0
    ), gone AS (
      DELETE FROM account_tally t USING many m
      WHERE t.agency_id = m.agency_id AND t.status = m.status
      RETURNING t.agency_id, t.status, t.n
    ), kept AS (
      INSERT INTO account_tally (agency_id, status, n)
      SELECT agency_id, status, sum(n) FROM gone GROUP BY agency_id, status HAVING sum(n) <> 0
      RETURNING 1
    )
    SELECT (SELECT count(*) FROM gone) - (SELECT count(*) FROM kept)
    """
)


def fold(db: Session) -> int:
    """Fold the rows the triggers added into one per agency and status (housekeeping,
    idp.maintenance); returns how many rows fewer there are. SQLite keeps one row each."""
    if db.get_bind().dialect.name != "postgresql":
        return 0
    return int(db.scalar(_FOLD) or 0)
