"""Group commit for audit events that are the only write of their request (issue 5, S2).

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
  SQLAlchemy's (``LOCK_PG``, ``HEAD_QUERY``, ``INSERT_EVENTS``) compiled once for the
  engine's dialect, with the columns' own bind processors.
- SQLite (the embedded default) has no asynchronous driver: ``ThreadBatcher`` runs
  ``append`` on a writer thread.

Requests that read or write anything else (an authorization code, a refresh token, a
replay-cache entry) keep their events in their own transaction (``audit.record``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from concurrent.futures import Future
from typing import Any, Protocol

from sqlalchemy import Connection, Engine

from idp.audit.models import AuditEvent
from idp.audit.service import (
    CHECKPOINT_HEAD_QUERY,
    HEAD_QUERY,
    INSERT_EVENTS,
    LOCK_PG,
    append,
    head_of,
    link,
    row_values,
)

log = logging.getLogger(__name__)

_STOP = object()


class AuditBatcher(Protocol):
    batches: int  # commits made (tests, benchmarks)
    events: int

    async def commit(self, events: list[AuditEvent]) -> None:
        """Append ``events`` (from ``audit.new_event``) to the chain, in this order and in
        one transaction; return once committed, or raise what the commit raised."""

    async def aclose(self) -> None: ...

    def close(self) -> None: ...


def make_batcher(engine: Engine) -> AuditBatcher:
    if engine.dialect.name == "postgresql":
        return PgAsyncBatcher(engine)
    return ThreadBatcher(engine)


class PgAsyncBatcher:
    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        dialect = engine.dialect
        self._conninfo = engine.url.set(drivername="postgresql").render_as_string(
            hide_password=False
        )
        literal = {"literal_binds": True}
        self._lock_sql = str(LOCK_PG.compile(dialect=dialect))
        self._head_sql = str(HEAD_QUERY.compile(dialect=dialect, compile_kwargs=literal))
        self._cp_sql = str(CHECKPOINT_HEAD_QUERY.compile(dialect=dialect, compile_kwargs=literal))
        self._insert_sql = str(INSERT_EVENTS.compile(dialect=dialect))
        self._processors = {
            c.key: c.type.dialect_impl(dialect).bind_processor(dialect)
            for c in AuditEvent.__table__.columns
        }
        self._max_batch = max_batch
        self._conn: Any = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pending: list[tuple[list[AuditEvent], asyncio.Future]] = []
        self._flusher: asyncio.Task | None = None
        self.batches = 0
        self.events = 0

    async def commit(self, events: list[AuditEvent]) -> None:
        if not events:
            return
        loop = asyncio.get_running_loop()
        if loop is not self._loop:  # a connection belongs to the loop that opened it
            self._loop, self._conn, self._flusher, self._pending = loop, None, None, []
        done = loop.create_future()
        self._pending.append((events, done))
        if self._flusher is None or self._flusher.done():
            self._flusher = loop.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        # While one batch is being written, the next requests queue up in _pending.
        while self._pending:
            batch, size = [], 0
            while self._pending and size < self._max_batch:
                item = self._pending.pop(0)
                batch.append(item)
                size += len(item[0])
            try:
                await self._append([ev for evs, _ in batch for ev in evs])
            except Exception as exc:  # every waiter learns that its events are not stored
                log.error("audit batch of %d events not committed: %s", size, exc)
                await self._drop_connection()
                for _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            self.batches += 1
            self.events += size
            for _, done in batch:
                if not done.done():  # the request may have gone (client disconnected)
                    done.set_result(None)

    async def _append(self, events: list[AuditEvent]) -> None:
        import psycopg

        if self._conn is None:
            self._conn = await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        conn = self._conn
        async with conn.transaction():
            cur = conn.cursor()
            await cur.execute(self._lock_sql)
            await cur.execute(self._head_sql)
            last = await cur.fetchone()
            checkpoint = None
            if last is None:
                await cur.execute(self._cp_sql)
                checkpoint = await cur.fetchone()
            link(events, *head_of(last, checkpoint))
            await cur.executemany(self._insert_sql, [self._bind(ev) for ev in events])

    def _bind(self, ev: AuditEvent) -> dict[str, Any]:
        values = row_values(ev)
        for key, process in self._processors.items():
            if process is not None:
                values[key] = process(values[key])
        return values

    async def _drop_connection(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: nothing to keep
                await conn.close()

    async def aclose(self) -> None:
        if self._flusher is not None and not self._flusher.done():
            with contextlib.suppress(Exception):
                await self._flusher
        await self._drop_connection()

    def close(self) -> None:
        self._conn = None  # aclose() is the orderly way; the server closes it at shutdown


class ThreadBatcher:
    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._start_lock = threading.Lock()
        self.batches = 0
        self.events = 0

    async def commit(self, events: list[AuditEvent]) -> None:
        if not events:
            return
        done: Future[None] = Future()
        self._ensure_writer()
        self._queue.put((events, done))
        await asyncio.wrap_future(done)

    async def aclose(self) -> None:
        self.close()

    def close(self, timeout: float = 10.0) -> None:
        thread = self._thread
        if thread is not None and thread.is_alive():
            self._queue.put(_STOP)
            thread.join(timeout)

    def _ensure_writer(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="govid-audit-writer", daemon=True
                )
                self._thread.start()

    def _run(self) -> None:
        stop = False
        while not stop:
            item = self._queue.get()
            batch: list[tuple[list[AuditEvent], Future]] = []
            size = 0
            while True:
                if item is _STOP:
                    stop = True
                else:
                    batch.append(item)
                    size += len(item[0])
                if stop or size >= self._max_batch:
                    break
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if batch:
                self._commit(batch)
        self._drop_connection()

    def _drop_connection(self) -> None:
        """Forget the connection after a failure (a new one is opened, and pinged, for
        the next batch) and when the writer stops."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already broken: the pool discards it
                conn.close()

    def _commit(self, batch: list[tuple[list[AuditEvent], Future]]) -> None:
        events = [ev for evs, _ in batch for ev in evs]
        try:
            if self._conn is None:
                # One connection for the writer's life: no pool checkout and ping per batch.
                self._conn = self._engine.connect()
            with self._conn.begin():
                append(self._conn, events)
        except Exception as exc:  # every waiter learns that its events are not stored
            log.error("audit batch of %d events not committed: %s", len(events), exc)
            self._drop_connection()
            for _, done in batch:
                done.set_exception(exc)
            return
        self.batches += 1
        self.events += len(events)
        for _, done in batch:
            done.set_result(None)
