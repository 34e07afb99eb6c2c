"""Housekeeping: ``idp maintenance run`` removes expired protocol state.

Every table below only grows in normal use; what a row was for is over once it expired
(plus ``IDP_MAINTENANCE_GRACE_SECONDS``, so a clock a little off between hosts never
removes a row another instance is still deciding on). Rows go in batches of
``IDP_MAINTENANCE_BATCH_SIZE``, each batch its own short transaction, so a run never holds
many locks nor a long transaction, whatever the backlog.

Safe with many instances: on PostgreSQL a run takes a session advisory lock with
``pg_try_advisory_lock`` and an instance that does not get it skips this run (another is
doing the work); each batch also selects its rows ``FOR UPDATE SKIP LOCKED``, so a row a
request has locked is left for the next run instead of waited for. SQLite (one host) has
its write lock.

Each completed run also verifies the audit events written since the previous
verification (``idp.auditing.verification``, recorded as ``audit.chain.verified``), records
one ``system.maintenance.completed`` audit event with the counts, adds them to the
``govid_maintenance_*`` metrics and returns them.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import and_, delete, exists, not_, or_, select, text
from sqlalchemy.orm import Session

from idp import metrics
from idp.accounts import tally
from idp.accounts.importing.models import ImportJob
from idp.accounts.models import AccountToken
from idp.credentials.models import ThrottleEntry
from idp.db import rowcount
from idp.idempotency.models import IdempotencyRecord
from idp.sessions.models import LogoutDelivery, SessionClient, SsoSession
from idp.tokens.models import AuthCode, Grant, RefreshToken, ReplayEntry, RevokedToken

log = logging.getLogger(__name__)

# pg_try_advisory_lock key of a maintenance run ("GovIDhk" as an int64).
LOCK_KEY = 0x476F764944686B00
# A run stops after this many batches of one table and says so (the next run goes on).
MAX_BATCHES = 1000


@dataclass
class Result:
    purged: dict[str, int] = field(default_factory=dict)
    skipped: bool = False
    seconds: float = 0.0
    incomplete: list[str] = field(default_factory=list)  # tables with rows left
    verified: dict[str, Any] = field(default_factory=dict)  # the new events' check

    @property
    def total(self) -> int:
        return sum(self.purged.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "skipped": self.skipped,
            "purged": self.purged,
            "total": self.total,
            "incomplete": self.incomplete,
            "verified": self.verified,
            "seconds": round(self.seconds, 3),
        }


def _targets(now: dt.datetime, cutoff: dt.datetime, decay: dt.timedelta):
    """(table name, model, primary-key column, condition) in an order that keeps foreign
    keys happy: refresh tokens before their grants, session apps with their sessions."""
    return [
        ("auth_code", AuthCode, AuthCode.code_hash, AuthCode.expires_at < cutoff),
        ("refresh_token", RefreshToken, RefreshToken.id, RefreshToken.expires_at < cutoff),
        (
            "oauth_grant",
            Grant,
            Grant.id,
            and_(
                Grant.expires_at < cutoff,
                not_(exists().where(RefreshToken.grant_id == Grant.id)),
            ),
        ),
        (
            "sso_session",
            SsoSession,
            SsoSession.id,
            or_(SsoSession.expires_at < cutoff, SsoSession.ended_at < cutoff),
        ),
        ("revoked_token", RevokedToken, RevokedToken.jti, RevokedToken.expires_at < cutoff),
        ("replay_cache", ReplayEntry, ReplayEntry.key, ReplayEntry.expires_at < cutoff),
        (
            "idempotency_key",
            IdempotencyRecord,
            IdempotencyRecord.id,
            IdempotencyRecord.expires_at < cutoff,
        ),
        (
            # A finished background import's report (encrypted) is kept a day after it ended.
            "import_job",
            ImportJob,
            ImportJob.id,
            and_(
                ImportJob.status.in_(("done", "failed")),
                ImportJob.updated_at < cutoff - dt.timedelta(days=1),
            ),
        ),
        (
            "account_token",
            AccountToken,
            AccountToken.token_hash,
            AccountToken.expires_at < cutoff,
        ),
        (
            "logout_delivery",
            LogoutDelivery,
            LogoutDelivery.id,
            LogoutDelivery.done_at < cutoff,
        ),
        (
            "login_throttle",
            ThrottleEntry,
            ThrottleEntry.key,
            or_(
                # window counters (rate limits, failures per address) whose window is over
                and_(ThrottleEntry.key.like("w:%"), ThrottleEntry.locked_until < now),
                # failure counts already forgotten (decayed) and not locked
                and_(
                    not_(ThrottleEntry.key.like("w:%")),
                    or_(ThrottleEntry.locked_until.is_(None), ThrottleEntry.locked_until < now),
                    or_(
                        ThrottleEntry.last_failure_at.is_(None),
                        ThrottleEntry.last_failure_at < now - decay,
                    ),
                ),
            ),
        ),
    ]


def _batch(db: Session, model, pk, cond, size: int, pg: bool) -> int:
    ids = select(pk).where(cond).limit(size)
    if pg:
        ids = ids.with_for_update(skip_locked=True)
    ids_list = [row[0] for row in db.execute(ids)]
    if not ids_list:
        return 0
    if model is SsoSession:  # its apps first (the foreign key; SQLite may not cascade)
        db.execute(delete(SessionClient).where(SessionClient.session_id.in_(ids_list)))
    result = db.execute(delete(model).where(pk.in_(ids_list)))
    return rowcount(result) or 0


def run(services, *, actor: str = "system") -> Result:
    """One housekeeping run (see the module doc). What is old enough to go is decided
    with ``services.clock`` (DESIGN rule 4): a test moves that clock, not the rows."""
    s = services.settings
    started = time.monotonic()  # the run's duration (a metric): real time
    now = services.clock.now()
    cutoff = now - dt.timedelta(seconds=s.maintenance_grace_seconds)
    decay = dt.timedelta(seconds=s.login_failure_decay_seconds)
    pg = services.engine.dialect.name == "postgresql"
    result = Result()

    lock_conn = None
    if pg:
        lock_conn = services.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        got = lock_conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY})
        if not got.scalar():
            lock_conn.close()
            metrics.MAINTENANCE_RUNS.labels("skipped").inc()
            return Result(skipped=True, seconds=time.monotonic() - started)
    try:
        for name, model, pk, cond in _targets(now, cutoff, decay):
            total = 0
            for _ in range(MAX_BATCHES):
                with services.sessions.begin() as db:
                    n = _batch(db, model, pk, cond, s.maintenance_batch_size, pg)
                total += n
                if n < s.maintenance_batch_size:
                    break
            else:
                result.incomplete.append(name)
            result.purged[name] = total
            if total:
                metrics.MAINTENANCE_PURGED.labels(name).inc(total)
        # The rows the account_tally triggers added, folded into one per agency and status
        # (idp.accounts.tally): the counts stay the same, their sums stay short.
        with services.sessions.begin() as db:
            result.purged["account_tally"] = tally.fold(db)
        # The events written since the last verification (idp.auditing.verification): the
        # dashboard's "last verification" stays current without anyone running a CLI.
        from idp.auditing import verification

        check = verification.verify_new_events(services, actor=actor)
        result.verified = {"ok": check.ok, "events": check.checked_events}
        if not check.ok:
            log.error(
                "audit chain broken at seq %s (%s): run `idp audit verify`",
                check.first_bad_seq,
                check.problem,
            )
        result.seconds = time.monotonic() - started
        from idp.audit import service as audit

        with services.sessions.begin() as db:
            audit.record(
                db,
                "system.maintenance.completed",
                actor=actor,
                details={
                    # pairs, not a mapping: "auth_code" and "*_token" keys read as secrets
                    "purged": [[k, v] for k, v in result.purged.items() if v],
                    "total": result.total,
                    "incomplete": result.incomplete,
                    "seconds": round(result.seconds, 3),
                },
            )
    except Exception:
        metrics.MAINTENANCE_RUNS.labels("failed").inc()
        raise
    finally:
        if lock_conn is not None:
            lock_conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LOCK_KEY})
            lock_conn.close()
    metrics.MAINTENANCE_RUNS.labels("completed").inc()
    return result


def schedule(services, stop: threading.Event) -> None:
    """Run every ``IDP_MAINTENANCE_INTERVAL_SECONDS`` until ``stop`` is set (the thread of
    ``idp serve --with-worker``). A failed run is logged and the next one tried."""
    interval = services.settings.maintenance_interval_seconds
    while not stop.wait(interval):
        try:
            r = run(services)
        except Exception:
            log.exception("housekeeping run failed")
            continue
        if not r.skipped:
            log.info("housekeeping: %d expired rows removed %s", r.total, r.purged)
