"""Sign-in throttling shared by every worker: failure counters per account and per IP,
in PostgreSQL/SQLite or in Redis when ``IDP_REDIS_URL`` is set.

Rules (NIST SP 800-63B §5.2.2, without turning lockout into a denial of service):
after ``delay_after`` consecutive failures each further attempt must wait 2^n seconds
(capped); after ``lock_threshold`` failures the key is locked for ``lock_seconds``, then
unlocks by itself. A success, an administrator or a password reset clears it.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from idp.credentials.models import ThrottleEntry


@dataclass(frozen=True)
class Rules:
    delay_after: int = 5
    max_delay: int = 900
    lock_threshold: int = 20
    lock_seconds: int = 1800


@dataclass(frozen=True)
class State:
    failures: int = 0
    last_failure_at: dt.datetime | None = None
    locked_until: dt.datetime | None = None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds
    locked: bool = False
    expired_lock: bool = False  # a lock ran out just now (audit "unlocked by time")
    failures: int = 0


def decide(state: State, rules: Rules, now: dt.datetime) -> Decision:
    if state.locked_until is not None:
        if state.locked_until > now:
            wait = math.ceil((state.locked_until - now).total_seconds())
            return Decision(False, wait, locked=True, failures=state.failures)
        return Decision(True, expired_lock=True, failures=0)
    if state.failures >= rules.delay_after and state.last_failure_at is not None:
        delay = min(2 ** (state.failures - rules.delay_after), rules.max_delay)
        ready = state.last_failure_at + dt.timedelta(seconds=delay)
        if ready > now:
            return Decision(
                False, math.ceil((ready - now).total_seconds()), failures=state.failures
            )
    return Decision(True, failures=state.failures)


class ThrottleStore(Protocol):
    def get(self, key: str) -> State: ...
    def get_many(self, keys: list[str]) -> dict[str, State]: ...
    def record_failure(self, key: str, rules: Rules, now: dt.datetime) -> State: ...
    def clear(self, key: str) -> bool: ...


class DbThrottleStore:
    """Counters in the ``login_throttle`` table, in the caller's transaction."""

    def __init__(self, db: Session) -> None:
        self.db = db

    def get(self, key: str) -> State:
        row = self.db.get(ThrottleEntry, key)
        if row is None:
            return State()
        return State(row.failures, row.last_failure_at, row.locked_until)

    def get_many(self, keys: list[str]) -> dict[str, State]:
        """Every key's state in one query (a sign-in checks the account and the IP)."""
        rows = self.db.execute(
            select(
                ThrottleEntry.key,
                ThrottleEntry.failures,
                ThrottleEntry.last_failure_at,
                ThrottleEntry.locked_until,
            ).where(ThrottleEntry.key.in_(keys))
        )
        found = {key: State(failures, last, locked) for key, failures, last, locked in rows}
        return {key: found.get(key, State()) for key in keys}

    def record_failure(self, key: str, rules: Rules, now: dt.datetime) -> State:
        dialect = self.db.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        current = self.get(key)
        if current.locked_until is not None and current.locked_until <= now:
            self.clear(key)  # an expired lock starts a fresh count
        stmt = insert(ThrottleEntry).values(key=key, failures=1, last_failure_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"failures": ThrottleEntry.failures + 1, "last_failure_at": now},
        )
        self.db.execute(stmt)  # atomic increment: concurrent workers never lose a count
        self.db.expire_all()
        row = self.db.get(ThrottleEntry, key)
        if row.failures >= rules.lock_threshold and row.locked_until is None:
            row.locked_until = now + dt.timedelta(seconds=rules.lock_seconds)
            self.db.flush()
        return State(row.failures, row.last_failure_at, row.locked_until)

    def clear(self, key: str) -> bool:
        result = self.db.execute(
            update(ThrottleEntry)
            .where(ThrottleEntry.key == key)
            .values(failures=0, locked_until=None, last_failure_at=None)
        )
        return result.rowcount > 0


class RedisThrottleStore:
    """The same counters in Redis (shared by hosts; expire on their own)."""

    def __init__(self, client, prefix: str = "govid:throttle:") -> None:
        self.r = client
        self.prefix = prefix

    def _k(self, key: str) -> str:
        return self.prefix + key

    def get(self, key: str) -> State:
        return _state(self.r.hgetall(self._k(key)))

    def get_many(self, keys: list[str]) -> dict[str, State]:
        pipe = self.r.pipeline(transaction=False)  # one round trip
        for key in keys:
            pipe.hgetall(self._k(key))
        return {key: _state(data) for key, data in zip(keys, pipe.execute(), strict=True)}

    def record_failure(self, key: str, rules: Rules, now: dt.datetime) -> State:
        k = self._k(key)
        current = self.get(key)
        if current.locked_until is not None and current.locked_until <= now:
            self.r.delete(k)
        pipe = self.r.pipeline(transaction=True)  # MULTI/EXEC: atomic increment
        pipe.hincrby(k, "failures", 1)
        pipe.hset(k, "last", now.timestamp())
        pipe.expire(k, rules.lock_seconds + rules.max_delay + 86400)
        failures = pipe.execute()[0]
        if failures >= rules.lock_threshold:
            # HSETNX: the first worker to cross the threshold sets the lock end.
            self.r.hsetnx(
                k, "locked_until", (now + dt.timedelta(seconds=rules.lock_seconds)).timestamp()
            )
        return self.get(key)

    def clear(self, key: str) -> bool:
        return bool(self.r.delete(self._k(key)))


def _state(data: dict[bytes, bytes]) -> State:
    """A Redis hash (``failures``, ``last``, ``locked_until``) as a State."""
    if not data:
        return State()

    def ts(name: bytes) -> dt.datetime | None:
        v = data.get(name)
        return dt.datetime.fromtimestamp(float(v), dt.UTC) if v else None

    return State(int(data.get(b"failures", 0)), ts(b"last"), ts(b"locked_until"))
