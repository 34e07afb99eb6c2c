"""Drain the outbox into the mail directory: at-least-once, in order per account.

One batch is three short transactions, so no database lock is held while LDAP works:

1. *claim*: ``UPDATE outbox SET next_try_at = now + lease WHERE id IN (SELECT ... FOR
   UPDATE SKIP LOCKED)``, taking only the oldest unfinished row of each account. On
   PostgreSQL SKIP LOCKED lets several workers share the queue; on SQLite the single
   UPDATE statement holds the write lock, which serialises claimers. A claimed row stays
   unfinished, so the account's next row cannot be claimed by anyone until it is done:
   rows of one account are applied one at a time, in id order.
2. *apply*: each row makes the account's entry match the account's **current** state
   (idempotent; see ``LdapMailDirectory.apply``). A crash here leaves the rows claimed
   until the lease ends, then they are applied again: at-least-once, no harm.
3. *complete*: done rows get ``done_at``; a transient failure (directory down) gets
   exponential backoff with a cap and stops the batch; a row failing for another reason
   is retried ``park_after`` times and then parked with its error.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, aliased

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.clock import Clock, SystemClock
from idp.config.ldap import DirectorySettings
from idp.db import utcnow
from idp.directory.entries import desired_state
from idp.directory.ldap import DirectoryError
from idp.directory.mail import LdapMailDirectory, MailDirectory
from idp.directory.models import OutboxEntry

log = logging.getLogger("idp.directory.worker")

SessionFactory = Callable[[], Session]


@dataclass
class BatchResult:
    claimed: int = 0
    done: int = 0
    retried: int = 0
    parked: int = 0
    released: int = 0
    actions: dict[str, int] = field(default_factory=dict)
    error: str | None = None  # the transient error that stopped the batch

    def add(self, other: BatchResult) -> None:
        for name in ("claimed", "done", "retried", "parked", "released"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for k, v in other.actions.items():
            self.actions[k] = self.actions.get(k, 0) + v
        self.error = other.error or self.error

    def to_dict(self) -> dict[str, Any]:
        return {
            "claimed": self.claimed,
            "done": self.done,
            "retried": self.retried,
            "parked": self.parked,
            "released": self.released,
            "actions": self.actions,
            "error": self.error,
        }


@dataclass(frozen=True)
class Claimed:
    id: int
    account_id: uuid.UUID
    op: str
    attempts: int


def claim(
    session: Session, limit: int, lease_seconds: float, now: dt.datetime | None = None
) -> list[Claimed]:
    now = now or utcnow()
    cand, first = aliased(OutboxEntry), aliased(OutboxEntry)
    # The account's oldest unfinished row: one probe of ix_outbox_queue_account.
    head_id = (
        select(func.min(first.id))
        .where(
            first.account_id == cand.account_id,
            first.done_at.is_(None),
            first.parked_at.is_(None),
        )
        .scalar_subquery()
    )
    due = (  # walks ix_outbox_queue in id order and stops after `limit` heads
        select(cand.id)
        .where(
            cand.done_at.is_(None),
            cand.parked_at.is_(None),
            cand.next_try_at <= now,
            cand.id == head_id,
        )
        .order_by(cand.id)
        .limit(limit)
        .with_for_update(skip_locked=True)  # PostgreSQL; not rendered on SQLite
    )
    stmt = (
        update(OutboxEntry)
        .where(OutboxEntry.id.in_(due.scalar_subquery()))
        .values(next_try_at=now + dt.timedelta(seconds=lease_seconds))
        .returning(OutboxEntry.id, OutboxEntry.account_id, OutboxEntry.op, OutboxEntry.attempts)
        .execution_options(synchronize_session=False)
    )
    rows = [Claimed(*r) for r in session.execute(stmt)]
    return sorted(rows, key=lambda c: c.id)


def _load_accounts(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, Account]:
    if not ids:
        return {}
    return {a.id: a for a in session.scalars(select(Account).where(Account.id.in_(ids)))}


def process_batch(
    sessions: SessionFactory,
    directory: MailDirectory,
    s: DirectorySettings,
    clock: Clock | None = None,
) -> BatchResult:
    """``clock`` (``Services.clock``) says which rows are due and when a failed one is
    tried again."""
    clock = clock or SystemClock()
    result = BatchResult()
    with sessions() as session, session.begin():
        rows = claim(session, s.batch_size, s.lease_seconds, clock.now())
    result.claimed = len(rows)
    if not rows:
        return result

    with sessions() as session:
        accounts = _load_accounts(session, {r.account_id for r in rows})
        desired = {
            r.account_id: desired_state(r.account_id, accounts.get(r.account_id), s) for r in rows
        }

    done: list[Claimed] = []
    failed: list[tuple[Claimed, DirectoryError]] = []
    released: list[Claimed] = []
    for i, row in enumerate(rows):
        try:
            action = directory.apply(desired[row.account_id], hint=row.op)
        except DirectoryError as exc:
            failed.append((row, exc))
            if exc.transient:
                released = rows[i + 1 :]
                result.error = exc.message
                break
            continue
        done.append(row)
        result.actions[action] = result.actions.get(action, 0) + 1

    with sessions() as session, session.begin():
        _complete(session, s, done, failed, released, result, clock.now())
    return result


def _complete(
    session: Session,
    s: DirectorySettings,
    done: list[Claimed],
    failed: list[tuple[Claimed, DirectoryError]],
    released: list[Claimed],
    result: BatchResult,
    now: dt.datetime,
) -> None:
    if done:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_([r.id for r in done]))
            .values(done_at=now, last_error=None)
            .execution_options(synchronize_session=False)
        )
        _supersede_parked(session, done, now)
        result.done = len(done)
    if released:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_([r.id for r in released]))
            .values(next_try_at=now)
            .execution_options(synchronize_session=False)
        )
        result.released = len(released)
    for row, exc in failed:
        attempts = row.attempts + 1
        values: dict[str, Any] = {"attempts": attempts, "last_error": exc.message[:2000]}
        if not exc.transient and attempts >= s.park_after:
            values["parked_at"] = now
            result.parked += 1
            log.warning("outbox %s parked after %d attempts: %s", row.id, attempts, exc.message)
            audit.record(
                session,
                "directory.outbox.parked",
                actor="directory-worker",
                subject=str(row.account_id),
                outcome="failure",
                details={"outbox_id": row.id, "op": row.op, "error": exc.message[:500]},
            )
        else:
            values["next_try_at"] = now + dt.timedelta(seconds=s.backoff(attempts))
            result.retried += 1
            log.info("outbox %s attempt %d failed: %s", row.id, attempts, exc.message)
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id == row.id)
            .values(**values)
            .execution_options(synchronize_session=False)
        )


def _supersede_parked(session: Session, done: list[Claimed], now: dt.datetime) -> None:
    """Older parked rows of an account are obsolete once a newer row has been applied
    (every row applies the account's whole current state)."""
    newest: dict[uuid.UUID, int] = {}
    for r in done:
        newest[r.account_id] = max(newest.get(r.account_id, 0), r.id)
    parked = session.execute(
        select(OutboxEntry.id, OutboxEntry.account_id).where(
            OutboxEntry.account_id.in_(list(newest)),
            OutboxEntry.done_at.is_(None),
            OutboxEntry.parked_at.is_not(None),
        )
    ).all()
    stale = [pid for pid, acc in parked if pid < newest[acc]]
    if stale:
        session.execute(
            update(OutboxEntry)
            .where(OutboxEntry.id.in_(stale))
            .values(done_at=now)
            .execution_options(synchronize_session=False)
        )


def run_once(
    sessions: SessionFactory,
    directory: MailDirectory,
    s: DirectorySettings,
    clock: Clock | None = None,
) -> BatchResult:
    """Apply everything that is due now; stop early when the directory is unavailable."""
    total = BatchResult()
    while True:
        r = process_batch(sessions, directory, s, clock)
        total.add(r)
        if r.claimed == 0 or r.error:
            return total


def run(
    services: Any,
    stop: threading.Event,
    *,
    settings: DirectorySettings | None = None,
    directory: MailDirectory | None = None,
) -> BatchResult:
    """The worker loop, until ``stop`` is set; returns what it did. ``services`` is an
    ``idp.services.Services`` (its ``sessions`` factory is used).

    Safe to run in several processes at once (see the module docstring). Never raises for
    directory or database outages: it backs off (exponentially, capped) and tries again.
    """
    s = settings or services.settings.ldap
    total = BatchResult()
    if directory is None and not s.enabled:
        log.warning("IDP_LDAP_URLS is not set: directory worker not started")
        return total
    directory = directory or LdapMailDirectory(s)
    failures = 0
    log.info("directory worker started (%s)", ", ".join(s.urls) or "custom directory")
    try:
        while not stop.is_set():
            try:
                r = process_batch(services.sessions, directory, s, services.clock)
            except SQLAlchemyError as exc:
                r = BatchResult(error=f"database unavailable ({type(exc).__name__})")
                log.warning("directory worker: %s", r.error)
            except Exception as exc:  # noqa: BLE001 - a bug must not kill the worker thread
                r = BatchResult(error=f"unexpected {type(exc).__name__}")
                log.exception("directory worker: unexpected error")
            total.add(r)
            if r.error:
                failures += 1
                stop.wait(s.backoff(failures))
                continue
            failures = 0
            if r.claimed == 0:
                stop.wait(s.poll_interval)
    finally:
        directory.close()
        log.info("directory worker stopped")
    return total
