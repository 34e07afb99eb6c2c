"""Group commit for audit events that are the only write of their request (issue 5, S2).

A ``client_credentials`` token changes nothing in the database: its audit event *is* the
transaction that issues it. Appending each in a transaction of its own takes the chain
lock, reads the head and commits once per token, which serialised ``/token``. Here the
route hands its events to one writer thread per process and awaits them; the writer
chains everything that arrived while the previous commit ran (one lock, one head read,
one multi-row insert, one commit) and then wakes the waiters. A request still answers
only after its event is committed, so no token leaves the server unaudited, and when the
commit fails every request of that batch fails with it (HTTP 500, no token).

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

from sqlalchemy import Connection, Engine

from idp.audit.models import AuditEvent
from idp.audit.service import append_rows

log = logging.getLogger(__name__)

_STOP = object()


class AuditBatcher:
    def __init__(self, engine: Engine, *, max_batch: int = 500) -> None:
        self._engine = engine
        self._max_batch = max_batch
        self._queue: queue.SimpleQueue = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._conn: Connection | None = None
        self._start_lock = threading.Lock()
        self.batches = 0  # commits made (tests, benchmarks)
        self.events = 0

    async def commit(self, events: list[AuditEvent]) -> None:
        """Append ``events`` (from ``audit.new_event``) to the chain, in this order and in
        one transaction; return once committed, or raise what the commit raised."""
        if not events:
            return
        done: Future[None] = Future()
        self._ensure_writer()
        self._queue.put((events, done))
        await asyncio.wrap_future(done)

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
                append_rows(self._conn, events)
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
