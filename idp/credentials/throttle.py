"""Sign-in throttling shared by every worker: failure counters per account and per IP,
in PostgreSQL/SQLite or in Redis when ``IDP_REDIS_URL`` is set.

Rules (NIST SP 800-63B §5.2.2, without turning lockout into a denial of service):
after ``delay_after`` consecutive failures each further attempt must wait 2^n seconds
(capped); after ``lock_threshold`` failures the key is locked for ``lock_seconds``, then
unlocks by itself. A success, an administrator or a password reset clears it, and a count
without a new failure for ``decay_seconds`` is forgotten.

The stores also keep counters per fixed time window (``add``; keys from ``window_key``,
``w:<name>:<window>``): failed sign-ins per address (idp/credentials/login.py) and the
rate limiters' shared budgets (idp/ratelimit/budget.py). In the database they are rows of the
same table, ``failures`` the count and ``locked_until`` the time the row may be purged;
in Redis they expire on their own. See decision 0012.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from idp.credentials.models import ThrottleEntry
from idp.db import rowcount


@dataclass(frozen=True)
class Rules:
    delay_after: int = 5
    max_delay: int = 900
    lock_threshold: int = 20
    lock_seconds: int = 1800
    decay_seconds: int = 0  # 0: a count is kept until cleared or locked


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


def decayed(state: State, rules: Rules, now: dt.datetime) -> bool:
    """No failure for ``decay_seconds``: the count no longer counts."""
    return bool(
        rules.decay_seconds
        and state.locked_until is None
        and state.last_failure_at is not None
        and now - state.last_failure_at >= dt.timedelta(seconds=rules.decay_seconds)
    )


def decide(state: State, rules: Rules, now: dt.datetime) -> Decision:
    if state.locked_until is not None:
        if state.locked_until > now:
            wait = math.ceil((state.locked_until - now).total_seconds())
            return Decision(False, wait, locked=True, failures=state.failures)
        return Decision(True, expired_lock=True, failures=0)
    if decayed(state, rules, now):
        return Decision(True, failures=0)
    if state.failures >= rules.delay_after and state.last_failure_at is not None:
        delay = min(2 ** (state.failures - rules.delay_after), rules.max_delay)
        ready = state.last_failure_at + dt.timedelta(seconds=delay)
        if ready > now:
            return Decision(
                False, math.ceil((ready - now).total_seconds()), failures=state.failures
            )
    return Decision(True, failures=state.failures)


def window_key(name: str, seconds: int, now: dt.datetime, back: int = 0) -> tuple[str, dt.datetime]:
    """The key of ``name``'s counter for the fixed window of ``seconds`` holding ``now``
    (``back`` windows earlier), and when that counter may be forgotten."""
    if len(name) > 96:  # keys are at most 128 characters
        name = hashlib.sha256(name.encode()).hexdigest()[:40]
    index = int(now.timestamp() // seconds) - back
    return f"w:{name}:{index}", dt.datetime.fromtimestamp((index + 2) * seconds, dt.UTC)


class ThrottleStore(Protocol):
    def get(self, key: str) -> State: ...
    def get_many(self, keys: list[str]) -> dict[str, State]: ...
    def record_failure(self, key: str, rules: Rules, now: dt.datetime) -> State: ...
    def clear(self, key: str) -> bool: ...
    def add(self, key: str, n: int, now: dt.datetime, expires_at: dt.datetime) -> int: ...
    def purge(self, now: dt.datetime) -> int: ...


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
        if (current.locked_until is not None and current.locked_until <= now) or decayed(
            current, rules, now
        ):
            self.clear(key)  # an expired lock or a forgotten count starts afresh
        stmt = insert(ThrottleEntry).values(key=key, failures=1, last_failure_at=now)
        stmt = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"failures": ThrottleEntry.failures + 1, "last_failure_at": now},
        )
        self.db.execute(stmt)  # atomic increment: concurrent workers never lose a count
        self.db.expire_all()
        row = self.db.get_one(ThrottleEntry, key)  # the statement above made or kept it
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
        return rowcount(result) > 0

    def add(self, key: str, n: int, now: dt.datetime, expires_at: dt.datetime) -> int:
        """Add ``n`` to a window counter; the new total (one atomic statement)."""
        dialect = self.db.get_bind().dialect.name
        insert = pg_insert if dialect == "postgresql" else sqlite_insert
        stmt = insert(ThrottleEntry).values(
            key=key, failures=n, last_failure_at=now, locked_until=expires_at
        )
        upsert = stmt.on_conflict_do_update(
            index_elements=["key"],
            set_={"failures": ThrottleEntry.failures + n, "last_failure_at": now},
        ).returning(ThrottleEntry.failures)
        return self.db.execute(upsert).scalar_one()

    def purge(self, now: dt.datetime) -> int:
        """Forget window counters whose windows are over."""
        result = self.db.execute(
            delete(ThrottleEntry).where(
                ThrottleEntry.key.like("w:%"), ThrottleEntry.locked_until < now
            )
        )
        return rowcount(result) or 0


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
        if (current.locked_until is not None and current.locked_until <= now) or decayed(
            current, rules, now
        ):
            self.r.delete(k)
        pipe = self.r.pipeline(transaction=True)  # MULTI/EXEC: atomic increment
        pipe.hincrby(k, "failures", 1)
        pipe.hset(k, "last", now.timestamp())
        pipe.expire(k, rules.lock_seconds + rules.max_delay + rules.decay_seconds + 86400)
        failures = pipe.execute()[0]
        if failures >= rules.lock_threshold:
            # HSETNX: the first worker to cross the threshold sets the lock end.
            self.r.hsetnx(
                k, "locked_until", (now + dt.timedelta(seconds=rules.lock_seconds)).timestamp()
            )
        return self.get(key)

    def clear(self, key: str) -> bool:
        return bool(self.r.delete(self._k(key)))

    def add(self, key: str, n: int, now: dt.datetime, expires_at: dt.datetime) -> int:
        k = self._k(key)
        pipe = self.r.pipeline(transaction=True)  # one round trip, atomic
        pipe.hincrby(k, "failures", n)
        pipe.expireat(k, math.ceil(expires_at.timestamp()))
        return int(pipe.execute()[0])

    def purge(self, now: dt.datetime) -> int:
        return 0  # window counters expire in Redis


def _state(data: dict[bytes, bytes]) -> State:
    """A Redis hash (``failures``, ``last``, ``locked_until``) as a State."""
    if not data:
        return State()

    def ts(name: bytes) -> dt.datetime | None:
        v = data.get(name)
        return dt.datetime.fromtimestamp(float(v), dt.UTC) if v else None

    return State(int(data.get(b"failures", 0)), ts(b"last"), ts(b"locked_until"))


class FallbackThrottleStore:
    """Redis while it answers, the database while it does not (DESIGN §9: "Redis
    loss degrades to the database, never to 500s"). ``breaker`` (idp.redis_client) keeps
    requests from waiting a Redis timeout each while it is down. Counts kept in Redis
    during an outage are not seen by the database store and the other way round: a
    throttle may count from zero once when the store changes, which is what losing
    Redis already meant."""

    def __init__(self, redis_store: RedisThrottleStore, db_store: DbThrottleStore, breaker) -> None:
        self.redis = redis_store
        self.db = db_store
        self.breaker = breaker
        from idp.redis_client import redis_errors

        self._errors = redis_errors()

    def _call(self, name: str, *args):
        if self.breaker.available():
            try:
                result = getattr(self.redis, name)(*args)
            except self._errors as exc:
                self.breaker.failed(exc)
            else:
                self.breaker.succeeded()
                return result
        return getattr(self.db, name)(*args)

    def get(self, key: str) -> State:
        return self._call("get", key)

    def get_many(self, keys: list[str]) -> dict[str, State]:
        return self._call("get_many", keys)

    def record_failure(self, key: str, rules: Rules, now: dt.datetime) -> State:
        return self._call("record_failure", key, rules, now)

    def clear(self, key: str) -> bool:
        return self._call("clear", key)

    def add(self, key: str, n: int, now: dt.datetime, expires_at: dt.datetime) -> int:
        return self._call("add", key, n, now, expires_at)

    def purge(self, now: dt.datetime) -> int:
        return self.db.purge(now)  # Redis's window counters expire by themselves
