"""Reads on the event loop (idp.pg_reads, decision 0016) against the real PostgreSQL: one
row per call, a bounded number of connections per loop, a kept connection that the
database dropped is replaced without the caller noticing, and a database that does not
answer gives up after the client timeout (503 upstream) instead of hanging."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from sqlalchemy import bindparam, literal_column, select, text

from idp.db import DbTimeouts, make_engine
from idp.errors import ServiceUnavailable
from idp.pg_reads import PgReader


def _run(coro):
    """asyncio.run in a thread of its own: after the browser tests, Playwright's sync
    API leaves an event loop set on the main thread, where asyncio.run refuses to run."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


SELF = select(literal_column("pg_backend_pid()"), bindparam("x"))


@pytest.fixture
def reader(pg_url):
    engine = make_engine(pg_url)
    yield PgReader(engine, size=2)
    engine.dispose()


def test_one_row_and_at_most_size_connections(reader, pg_url):
    async def run():
        rows = await asyncio.gather(*(reader.one(SELF, {"x": i}) for i in range(20)))
        assert [r[1] for r in rows] == list(range(20))
        assert len({r[0] for r in rows}) <= 2  # two connections served twenty reads
        none = await reader.one(select(literal_column("1")).where(text("false")), {})
        assert none is None
        await reader.aclose()

    _run(run())


def test_a_connection_the_database_dropped_is_replaced(reader, pg_url):
    async def run():
        pid = (await reader.one(SELF, {"x": 1}))[0]
        dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as conn:
            conn.execute("select pg_terminate_backend(%s)", (pid,))
        await asyncio.sleep(0.2)
        row = await reader.one(SELF, {"x": 2})  # the dead one found, a new one used
        assert row[1] == 2 and row[0] != pid
        await reader.aclose()

    _run(run())


def test_no_answer_within_the_client_timeout_is_unavailable(pg_url):
    engine = make_engine(pg_url)
    slow = PgReader(engine, size=1, timeouts=DbTimeouts(client_s=0.3))

    async def run():
        with pytest.raises(ServiceUnavailable):
            await slow.one(select(literal_column("pg_sleep(2)")), {})
        # The connection that was cut off is not handed to the next read.
        assert (await slow.one(SELF, {"x": 3}))[1] == 3
        await slow.aclose()

    try:
        _run(run())
    finally:
        engine.dispose()


def test_a_database_that_refuses_connections_raises_operational_error():
    engine = make_engine("postgresql://nobody@127.0.0.1:1/none")
    reader = PgReader(engine, size=1, timeouts=DbTimeouts(connect_s=2, client_s=3))

    async def run():
        for _ in range(2):  # the failed attempt frees its place for the next one
            with pytest.raises(psycopg.OperationalError):
                await reader.one(SELF, {"x": 1})

    _run(run())
    engine.dispose()
