"""Group commit for audit events that are the only write of their request (decision 0008).

A ``client_credentials`` token changes nothing in the database: its audit event *is*
the transaction that issues it. Appending each in a transaction of its own takes the
chain lock, reads the head and commits once per token, which serialised ``/token``.
Here the route hands its events to one writer per process and awaits them; the writer
chains everything that arrived while the previous commit ran (one lock, one head read,
one multi-row insert, one commit) and then wakes the waiters. A request still answers
only after its event is committed, so no token leaves the server unaudited, and when the
commit fails every request of that batch fails with it (HTTP 500, no token).

Two writers, one chain code (``idp.audit.service.link``/``row_values``):

- PostgreSQL: ``PgAsyncBatcher`` runs on the server's event loop with its own psycopg
  ``AsyncConnection``. No thread: a hand-off to a writer thread and back cost more CPU
  than the write itself (the GIL changes hands twice per token). Its statements are
  SQLAlchemy's (``LOCK_HEAD_PG``, ``INSERT_EVENTS``) compiled once for the
  engine's dialect, with the columns' own bind processors.
- SQLite (the embedded default) has no asynchronous driver: ``ThreadBatcher`` runs
  ``append`` on a writer thread.

A request whose only other write is one guarded statement (a refresh token's rotation,
decision 0026) hands it over with its events (``Guard``): the writer runs the batch's
guards first, in its transaction and in a fixed order, then chains only the events of
the guards that applied; ``commit`` says whether the caller's guard applied. The
statement and its events commit together or not at all. Requests that read or write
anything else (an authorization code, a replay-cache entry) keep their events in their
own transaction (``audit.record``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
import time
import weakref
from collections import deque
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from idp import metrics
from idp.audit.models import AuditEvent
from idp.audit.service import (
    GENESIS_HASH,
    INSERT_EVENTS,
    LOCK_HEAD_PG,
    NewEvent,
    append,
    link,
    row_values,
)
from idp.db import DbTimeouts, conninfo_of
from idp.errors import ServiceUnavailable

log = logging.getLogger(__name__)

_STOP = object()


@dataclass(frozen=True, slots=True)
class Guard:
    """A statement that must return a row for its caller's events to be written: run in
    the batch's transaction before the chain's lock, the batch's guards in ``order``
    (their row locks are taken in one order in every process: no deadlock between two
    batches). ``statement`` is SQLAlchemy Core, compiled once per writer."""

    statement: Any
    params: dict[str, Any]
    order: Any


def _settle(
    batcher, batch: list[tuple[list[NewEvent], Any]], exc: Exception | None, applied=None
) -> None:
    """Answer every caller of a batch (asyncio or concurrent futures): all committed, or
    all told why not. A caller that has gone (client disconnected) is skipped. The
    result is whether the caller's guard applied (True without a guard)."""
    size = sum(len(evs) for evs, _ in batch)
    if exc is not None:
        log.error("audit batch of %d events not committed: %s", size, exc)
    else:
        batcher.batches += 1
        batcher.events += size
    for i, (_, done) in enumerate(batch):
        if done.done():
            continue
        if exc is None:
            done.set_result(True if applied is None else applied[i])
        else:
            done.set_exception(exc)


class AuditBatcher(Protocol):
    batches: int  # commits made (tests, benchmarks)
    events: int

    async def commit(self, events: list[NewEvent], guard: Guard | None = None) -> bool:
        """Append ``events`` (from ``audit.new_event``) to the chain, in this order and in
        one transaction; return once committed, or raise what the commit raised. With a
        ``guard`` (PostgreSQL only): False when it changed nothing (nothing of this call
        was written)."""

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


def make_batcher(engine: Engine, timeouts: DbTimeouts | None = None) -> AuditBatcher:
    if engine.dialect.name == "postgresql":
        return PgAsyncBatcher(engine, timeouts=timeouts)
    return ThreadBatcher(engine)


class PgAsyncBatcher:
    def __init__(
        self, engine: Engine, *, max_batch: int = 500, timeouts: DbTimeouts | None = None
    ) -> None:
        dialect = engine.dialect
        self._conninfo = conninfo_of(engine, timeouts)
        # A frozen database answers nothing: a batch gives up after this, the
        # connection is dropped and its requests answer 503.
        self._client_timeout = timeouts.client_s if timeouts is not None else None
        self._lock_head_sql = str(LOCK_HEAD_PG.compile(dialect=dialect))
        self._insert_sql = str(INSERT_EVENTS.compile(dialect=dialect))
        self._processors = {
            c.key: c.type.dialect_impl(dialect).bind_processor(dialect)
            for c in AuditEvent.__table__.columns
        }
        self._max_batch = max_batch
        self._dialect = dialect
        self._guard_sql: dict[int, tuple[Any, str]] = {}
        # Per event loop (a connection belongs to the loop that opened it). A uvicorn
        # worker has one loop; tests and tools may run several, even at once.
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopState] = (
            weakref.WeakKeyDictionary()
        )
        self._loops_lock = threading.Lock()
        self.batches = 0
        self.events = 0

    def _state(self, loop: asyncio.AbstractEventLoop) -> _LoopState:
        with self._loops_lock:
            state = self._loops.get(loop)
            if state is None:
                state = self._loops[loop] = _LoopState()
        return state

    async def commit(self, events: list[NewEvent], guard: Guard | None = None) -> bool:
        if not events and guard is None:
            return True
        loop = asyncio.get_running_loop()
        state = self._state(loop)
        done = loop.create_future()
        state.pending.append((events, done, guard))
        if state.flusher is None or state.flusher.done():
            state.flusher = loop.create_task(self._flush(state))
        return await done

    async def _flush(self, state: _LoopState) -> None:
        # While one batch is being written, the next requests queue up in pending.
        while state.pending:
            batch, size = [], 0
            while state.pending and size < self._max_batch:
                item = state.pending.popleft()
                batch.append(item)
                size += len(item[0]) or 1
            try:
                applied = await self._append(state, batch)
            except Exception as exc:  # every waiter learns that its events are not stored
                await self._drop_connection(state)
                _settle(self, [(evs, done) for evs, done, _ in batch], exc)
                continue
            _settle(self, [(evs, done) for evs, done, _ in batch], None, applied)

    async def _append(self, state: _LoopState, batch: list[_Pending]) -> list[bool]:
        try:
            async with asyncio.timeout(self._client_timeout):
                return await self._append_once(state, batch)
        except TimeoutError:
            raise ServiceUnavailable(
                f"audit group commit: no answer from the database in {self._client_timeout:g} s"
            ) from None

    async def _append_once(self, state: _LoopState, batch: list[_Pending]) -> list[bool]:
        import psycopg

        fresh = state.conn is None
        if fresh:
            state.conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        written = False
        applied = [True] * len(batch)
        try:
            async with state.conn.transaction():
                cur = state.conn.cursor()
                await self._run_guards(cur, batch, applied)
                events = [
                    ev for ok, (evs, _, _) in zip(applied, batch, strict=True) if ok for ev in evs
                ]
                if not events:
                    return applied
                waited = time.perf_counter()
                await cur.execute(self._lock_head_sql)
                head = await cur.fetchone()
                metrics.AUDIT_LOCK_WAIT.observe(time.perf_counter() - waited)
                metrics.AUDIT_BATCH.observe(len(events))
                link(events, *(head or (0, GENESIS_HASH, None)))
                written = True
                await cur.executemany(self._insert_sql, [self._bind(ev) for ev in events])
        except psycopg.OperationalError:
            if fresh or written:
                raise  # a new connection failing, or an outcome we cannot know: the callers'
            # The kept connection was already broken (the database restarted, failed over
            # or dropped it since the last batch) and nothing of this batch was committed:
            # once more on a new connection, as the engine's pool pre-ping does.
            await self._drop_connection(state)
            return await self._append_once(state, batch)
        return applied

    async def _run_guards(self, cur: Any, batch: list[_Pending], applied: list[bool]) -> None:
        """The batch's guards in their order, each run of one statement sent at once
        (``executemany``: one round trip, psycopg's pipeline)."""
        guarded = sorted(
            ((i, g) for i, (_, _, g) in enumerate(batch) if g is not None),
            key=lambda ig: ig[1].order,
        )
        start = 0
        while start < len(guarded):
            statement = guarded[start][1].statement
            end = start + 1
            while end < len(guarded) and guarded[end][1].statement is statement:
                end += 1
            run = guarded[start:end]
            params = [g.params for _, g in run]
            await cur.executemany(self._sql(statement), params, returning=True)
            for n, (i, _) in enumerate(run):
                await cur.set_result(n)
                applied[i] = (await cur.fetchone()) is not None
            start = end

    def _sql(self, statement: Any) -> str:
        found = self._guard_sql.get(id(statement))
        if found is None or found[0] is not statement:
            text = str(statement.compile(dialect=self._dialect))
            found = self._guard_sql[id(statement)] = (statement, text)
        return found[1]

    def _bind(self, ev: NewEvent) -> dict[str, Any]:
        values = row_values(ev)
        for key, process in self._processors.items():
            if process is not None:
                values[key] = process(values[key])
        return values

    @staticmethod
    async def _drop_connection(state: _LoopState) -> None:
        conn, state.conn = state.conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to keep
                await conn.close()

    async def aclose(self) -> None:
        """Finish this loop's batches and close its connection."""
        with self._loops_lock:
            state = self._loops.pop(asyncio.get_running_loop(), None)
        if state is None:
            return
        if state.flusher is not None and not state.flusher.done():
            with contextlib.suppress(Exception):
                await state.flusher
        await self._drop_connection(state)

    def close(self) -> None:
        """Forget every loop's state (``aclose`` on the loop is the orderly way)."""
        with self._loops_lock:
            self._loops.clear()


_Pending = tuple[list[NewEvent], asyncio.Future, Guard | None]


@dataclass
class _LoopState:
    conn: Any = None
    pending: deque[_Pending] = field(default_factory=deque)
    flusher: asyncio.Task | None = None


class ThreadBatcher:
    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        # Held while an item is queued and while a stopping writer takes its last items,
        # so nothing is queued for a writer that has already looked for the last time.
        self._lock = threading.Lock()
        self.batches = 0
        self.events = 0

    async def commit(self, events: list[NewEvent], guard: Guard | None = None) -> bool:
        if guard is not None:
            raise NotImplementedError("guarded commits are PostgreSQL's (PgAsyncBatcher)")
        if not events:
            return True
        done: Future[bool] = Future()
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="govid-audit-writer", daemon=True
                )
                self._thread.start()
            self._queue.put((events, done))
        return await asyncio.wrap_future(done)

    async def aclose(self) -> None:
        self.close()

    def close(self, timeout: float = 10.0) -> None:
        """Stop the writer after what it holds; a later ``commit`` starts a new one."""
        with self._lock:
            thread = self._thread
            if thread is not None:
                self._queue.put(_STOP)
        if thread is not None:
            thread.join(timeout)

    def _run(self) -> None:
        conn: Connection | None = None  # one connection for the writer's life
        stop = False
        while not stop:
            item = self._queue.get()
            batch: list[tuple[list[NewEvent], Future]] = []
            size = 0
            while True:
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
                    size += len(item[0])
                if size >= self._max_batch:
                    break
                if stop:
                    with self._lock:  # the last look: later commits start a new writer
                        leftovers = self._drain()
                        self._thread = None
                    batch += leftovers
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                conn = self._commit(batch, conn)
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _drain(self) -> list[tuple[list[NewEvent], Future]]:
        items: list[tuple[list[NewEvent], Future]] = []
        while True:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                return items
            if item is not _STOP:
                items.append(item)

    def _commit(
        self, batch: list[tuple[list[NewEvent], Future]], conn: Connection | None
    ) -> Connection | None:
        events = [ev for evs, _ in batch for ev in evs]
        try:
            if conn is None:
                conn = self._engine.connect()  # no pool checkout and ping per batch
            with conn.begin():
                append(conn, events)
            metrics.AUDIT_BATCH.observe(len(events))
        except Exception as exc:  # every waiter learns that its events are not stored
            if conn is not None:
                with contextlib.suppress(Exception):  # broken: a new one next time
                    conn.close()
            _settle(self, batch, exc)
            return None
        _settle(self, batch, None)
        return conn
