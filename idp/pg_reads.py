"""Reads on the event loop (PostgreSQL): one statement, no thread, no ORM (decision 0016).

Userinfo and introspection read one row per request (is the token's grant, account,
client still live; the account's claims). Through the engine that row cost a hop to
the thread pool and back, a pool checkout, an ORM session and the ORM's row loading:
~4 M of a request's ~5 M instructions. Here a request awaits the row on the server's
event loop, on a psycopg ``AsyncConnection`` in autocommit (each statement its own
snapshot, as ``idp.oidc.reads.read_session`` gives the thread path), so what the
database says is as fresh as before: a revoked grant, a suspended account or a disabled
client is seen by the next statement.

Each event loop has its own few connections (a connection belongs to the loop that
opened it). A request takes an idle one or opens one while fewer than ``size`` exist,
else waits for one. psycopg prepares a statement on a connection after a few runs, so
a hot statement is parsed and planned once per connection.

Failures map as the engine's do (``idp.outage``): a connection that cannot be made or
breaks raises ``psycopg.OperationalError`` (answered 503); no answer within the client
timeout raises ``ServiceUnavailable`` and drops that connection. A kept connection that
fails (the database restarted since it was last used) is replaced once and the read
sent again, as the engine's pool does with a stale connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.sql import ClauseElement, Executable

from idp.db import DbTimeouts, conninfo_of
from idp.errors import ServiceUnavailable


@dataclass
class _LoopConns:
    idle: deque[Any] = field(default_factory=deque)
    opened: int = 0
    waiters: deque[asyncio.Future] = field(default_factory=deque)


class PgReader:
    def __init__(self, engine: Engine, *, size: int = 4, timeouts: DbTimeouts | None = None):
        self._engine = engine
        self._conninfo = conninfo_of(engine, timeouts)
        self._client_timeout = timeouts.client_s if timeouts is not None else None
        self._size = size
        self._sql: dict[int, tuple[Executable, str]] = {}
        self._loops: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopConns] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def sql(self, statement: Executable) -> str:
        """``statement`` compiled once for PostgreSQL (``%(name)s`` parameters)."""
        found = self._sql.get(id(statement))
        if found is None or found[0] is not statement:
            assert isinstance(statement, ClauseElement)  # (all of GovID's statements are)
            text = str(statement.compile(dialect=self._engine.dialect))
            found = self._sql[id(statement)] = (statement, text)
        return found[1]

    def _conns(self) -> _LoopConns:
        loop = asyncio.get_running_loop()
        with self._lock:
            conns = self._loops.get(loop)
            if conns is None:
                conns = self._loops[loop] = _LoopConns()
        return conns

    async def one(self, statement: Executable, params: dict[str, Any]) -> tuple | None:
        """The first row of ``statement`` with ``params``, or None."""
        sql = self.sql(statement)
        conns = self._conns()
        conn, kept = await self._take(conns)
        try:
            async with asyncio.timeout(self._client_timeout):
                try:
                    row = await _fetch(conn, sql, params)
                except Exception as exc:
                    if not (kept and _is_operational(exc)):
                        raise
                    # A kept connection that broke (the database restarted since it was
                    # last used): once more on a new one; a read may run twice.
                    await _close(conn)
                    conns.opened -= 1
                    conn = None
                    conn = await self._open(conns)
                    row = await _fetch(conn, sql, params)
        except TimeoutError:
            await self._discard(conns, conn)
            raise ServiceUnavailable(
                f"no answer from the database within {self._client_timeout:g} s"
            ) from None
        except BaseException:
            await self._discard(conns, conn)
            raise
        self._give_back(conns, conn)
        return row

    async def _take(self, conns: _LoopConns) -> tuple[Any, bool]:
        while conns.idle:
            conn = conns.idle.pop()
            if not conn.closed:
                return conn, True
            conns.opened -= 1
        if conns.opened < self._size:
            return await self._open(conns), False
        waiter = asyncio.get_running_loop().create_future()
        conns.waiters.append(waiter)
        try:
            conn = await waiter
        except BaseException:
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self._give_back(conns, waiter.result())  # handed over as we were cancelled
            with contextlib.suppress(ValueError):
                conns.waiters.remove(waiter)
            raise
        if conn is None:  # a connection was dropped: open its replacement here
            return await self._open(conns), False
        return conn, True

    async def _open(self, conns: _LoopConns) -> Any:
        import psycopg

        conns.opened += 1
        try:
            async with asyncio.timeout(self._client_timeout):
                return await psycopg.AsyncConnection.connect(self._conninfo, autocommit=True)
        except BaseException:
            conns.opened -= 1
            self._wake_one(conns)
            raise

    def _give_back(self, conns: _LoopConns, conn: Any) -> None:
        while conns.waiters:
            waiter = conns.waiters.popleft()
            if not waiter.done():
                waiter.set_result(conn)
                return
        conns.idle.append(conn)

    async def _discard(self, conns: _LoopConns, conn: Any) -> None:
        if conn is None:
            return
        conns.opened -= 1
        await _close(conn)
        self._wake_one(conns)

    @staticmethod
    def _wake_one(conns: _LoopConns) -> None:
        # A place is free: the next waiter opens a connection of its own.
        while conns.waiters:
            waiter = conns.waiters.popleft()
            if not waiter.done():
                waiter.set_result(None)  # it opens a connection of its own (_take)
                return

    async def aclose(self) -> None:
        """Close this loop's connections."""
        with self._lock:
            conns = self._loops.pop(asyncio.get_running_loop(), None)
        if conns is None:
            return
        while conns.idle:
            await _close(conns.idle.pop())


async def _fetch(conn: Any, sql: str, params: dict[str, Any]) -> tuple | None:
    wire = _WIRES.get(conn)
    if wire is None:
        wire = _WIRES[conn] = _Wire(conn)
    return await wire.one(sql, params)


class _Wire:
    """One statement at a time on a kept connection, through libpq directly (decision
    0027): psycopg's own parameter dumping and row loading (its ``Transformer``), each
    statement prepared once per connection, and no more than libpq needs in between.
    psycopg's cursor path (a cursor object per read, its generator protocol, a timer, a
    ``select`` and two ``epoll_ctl`` per wait) cost ~3 times as much. The connection is
    this reader's alone while a read runs, so psycopg's own state is never in between;
    every failure is psycopg's error (``OperationalError`` for a broken connection)."""

    def __init__(self, conn: Any) -> None:
        from psycopg._encodings import conn_encoding
        from psycopg.adapt import Transformer

        self.pgconn = conn.pgconn
        self.tx = Transformer(conn)
        self.encoding = conn_encoding(conn)
        self.prepared: dict[tuple, bytes] = {}

    async def one(self, sql: str, params: dict[str, Any]) -> tuple | None:
        from psycopg._queries import PostgresQuery

        pgq = PostgresQuery(self.tx)
        pgq.convert(sql, params)
        pg = self.pgconn
        key = (sql, pgq.types)
        name = self.prepared.get(key)
        if name is None:
            name = b"govid_read_%d" % len(self.prepared)
            pg.send_prepare(name, pgq.query, param_types=pgq.types)
            await self._results()
            self.prepared[key] = name
        pg.send_query_prepared(name, pgq.params, param_formats=pgq.formats)
        result = (await self._results())[-1]
        if not result.ntuples:
            return None
        self.tx.set_pgresult(result)
        return self.tx.load_row(0, tuple)

    async def _results(self) -> list:
        """Every result of what was sent, or the error of the first that failed."""
        from psycopg import errors, pq

        pg = self.pgconn
        while pg.flush():  # more to send than the socket took
            await _ready(pg.socket, writer=True)
        results = []
        while True:
            if pg.is_busy():
                await _ready(pg.socket)
                pg.consume_input()
                continue
            result = pg.get_result()
            if result is None:
                break
            results.append(result)
        for result in results:
            if result.status == pq.ExecStatus.FATAL_ERROR:
                raise errors.error_from_result(result, encoding=self.encoding)
        return results


_WIRES: weakref.WeakKeyDictionary[Any, _Wire] = weakref.WeakKeyDictionary()


async def _ready(fd: int, *, writer: bool = False) -> None:
    loop = asyncio.get_running_loop()
    ready = loop.create_future()
    if writer:
        loop.add_writer(fd, _done, ready)
    else:
        loop.add_reader(fd, _done, ready)
    try:
        await ready
    finally:
        if writer:
            loop.remove_writer(fd)
        else:
            loop.remove_reader(fd)


def _done(future: asyncio.Future) -> None:
    if not future.done():
        future.set_result(None)


def _is_operational(exc: Exception) -> bool:
    import psycopg

    return isinstance(exc, psycopg.OperationalError)


async def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):  # already broken: nothing to keep
        await conn.close()
