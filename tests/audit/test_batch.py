"""The group-commit audit writers (idp/audit/batch.py) on real PostgreSQL and SQLite:
``make_batcher`` gives ``PgAsyncBatcher`` (a task on the server's event loop) or
``ThreadBatcher`` (a writer thread, SQLite).

What an auditor relies on: every event a caller was told is committed is in one gapless,
verifiable chain, each call's events in its order and next to each other; nobody is
answered before the commit; a caller whose commit failed is told so and none of its batch
is stored; the writer goes on once the database is back; closing finishes what the
writer holds.

Failures are real: a closed port, a connection cut by a TCP relay, and a database trigger
that refuses one row.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import event, select, text
from sqlalchemy.engine import make_url

from idp.audit import service as audit
from idp.audit.batch import make_batcher
from idp.audit.models import AuditEvent
from idp.auditing.verify import verify
from idp.db import make_engine

WRITER = "govid-audit-writer"


def events(tag: str, n: int) -> list[AuditEvent]:
    return [audit.new_event("admin.account.resumed", actor=tag, subject=str(i)) for i in range(n)]


def stored(committed) -> list[tuple[int, str, str]]:
    """(seq, actor, subject) of the whole log, after checking it is one intact chain."""
    with committed.sessions() as s:
        query = select(AuditEvent.seq, AuditEvent.actor, AuditEvent.subject)
        rows = [tuple(r) for r in s.execute(query.order_by(AuditEvent.seq))]
        report = verify(s, committed.ring)
    assert report.ok, report.message
    assert [r[0] for r in rows] == list(range(1, len(rows) + 1)), "seq has a gap"
    return rows


def assert_calls_intact(rows, calls: dict[str, int]) -> None:
    """Exactly these calls are stored, each complete, adjacent and in submission order."""
    assert sorted({r[1] for r in rows}) == sorted(calls)
    for tag, n in calls.items():
        mine = [r for r in rows if r[1] == tag]
        assert [r[2] for r in mine] == [str(i) for i in range(n)], tag
        seqs = [r[0] for r in mine]
        assert seqs == list(range(seqs[0], seqs[0] + n)), f"{tag} was split: {seqs}"


@contextlib.contextmanager
def chain_locked(committed) -> Iterator[None]:
    """Hold the chain writers' lock from another connection (as a slow writer would)."""
    with committed.engine.connect() as conn, conn.begin():
        audit.lock_head(conn)
        yield


def writer_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == WRITER and t.is_alive()}


@pytest.fixture
def batcher(committed):
    b = make_batcher(committed.engine)
    yield b
    b.close()  # tests close it themselves (aclose, on their loop); this is a safety net


def test_concurrent_calls_from_one_event_loop(committed, batcher):
    calls = {f"call{i}": 1 + i % 4 for i in range(24)}

    async def main():
        await asyncio.gather(*(batcher.commit(events(tag, n)) for tag, n in calls.items()))
        await batcher.aclose()

    asyncio.run(main())
    rows = stored(committed)
    assert len(rows) == sum(calls.values())
    assert_calls_intact(rows, calls)
    assert batcher.events == len(rows)
    assert 1 <= batcher.batches < len(calls)  # grouped, not one commit per call


def run_threads(threads: int, body) -> None:
    """``body(t)`` (a coroutine function) in ``threads`` threads, each with its own event
    loop, started together."""
    barrier = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(t: int) -> None:
        async def main():
            barrier.wait()
            await body(t)

        try:
            asyncio.run(main())
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=worker, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join(timeout=60)
    assert not errors, errors


async def some_calls(commit, t: int, calls: dict[str, int]) -> None:
    """Half the calls one after another, half at once, as requests on one loop would."""
    for i in range(4):
        calls[f"t{t}-s{i}"] = 3
        await commit(events(f"t{t}-s{i}", 3))
    for i in range(4):
        calls[f"t{t}-g{i}"] = 2
    await asyncio.gather(*(commit(events(f"t{t}-g{i}", 2)) for i in range(4)))


def test_one_thread_writer_serves_several_event_loops(committed_db):
    """SQLite's writer thread takes calls from any loop or thread of the process."""
    committed = committed_db("sqlite")
    b = make_batcher(committed.engine)
    calls: dict[str, int] = {}
    try:
        run_threads(6, lambda t: some_calls(b.commit, t, calls))
    finally:
        b.close()
    rows = stored(committed)
    assert len(rows) == sum(calls.values()) == 6 * 20
    assert_calls_intact(rows, calls)
    assert b.batches < len(calls)


def test_writers_of_several_workers_share_one_chain(committed):
    """One writer per worker (each with its own loop and connection): one chain."""
    calls: dict[str, int] = {}

    async def worker(t: int) -> None:
        b = make_batcher(committed.engine)
        try:
            await some_calls(b.commit, t, calls)
        finally:
            await b.aclose()

    run_threads(4, worker)
    rows = stored(committed)
    assert len(rows) == sum(calls.values()) == 4 * 20
    assert_calls_intact(rows, calls)


def test_waiters_answer_only_after_the_commit_and_queued_calls_share_one(committed, batcher):
    async def main():
        with chain_locked(committed):
            first = asyncio.ensure_future(batcher.commit(events("first", 1)))
            await asyncio.sleep(0.3)  # the writer holds it, waiting for the lock
            rest = [asyncio.ensure_future(batcher.commit(events(f"r{i}", 3))) for i in range(10)]
            await asyncio.sleep(0.3)
            assert not first.done() and not any(t.done() for t in rest)
            with committed.sessions() as s:  # and nothing is visible yet
                assert s.scalar(select(AuditEvent.seq).limit(1)) is None
        await asyncio.wait_for(asyncio.gather(first, *rest), 30)
        await batcher.aclose()

    asyncio.run(main())
    rows = stored(committed)
    assert len(rows) == 31
    assert_calls_intact(rows, {"first": 1, **{f"r{i}": 3 for i in range(10)}})
    assert batcher.batches <= 2  # the ten queued calls went in together


# ------------------------------------------------------------------ failures


@contextlib.contextmanager
def refusing_actor(committed, actor: str) -> Iterator[None]:
    """A database trigger that fails any insert of an event by ``actor``."""
    with committed.engine.begin() as conn:
        if committed.backend == "postgresql":
            conn.execute(
                text(
                    "CREATE FUNCTION test_refuse() RETURNS trigger LANGUAGE plpgsql AS $$ "
                    f"BEGIN IF NEW.actor = '{actor}' THEN RAISE EXCEPTION 'refused'; END IF; "
                    "RETURN NEW; END $$"
                )
            )
            conn.execute(
                text(
                    "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_event "
                    "FOR EACH ROW EXECUTE FUNCTION test_refuse()"
                )
            )
        else:
            conn.execute(
                text(
                    "CREATE TRIGGER test_refuse BEFORE INSERT ON audit_event "
                    f"WHEN NEW.actor = '{actor}' BEGIN SELECT RAISE(ABORT, 'refused'); END"
                )
            )
    try:
        yield
    finally:
        with committed.engine.begin() as conn:
            if committed.backend == "postgresql":
                conn.execute(text("DROP TRIGGER IF EXISTS test_refuse ON audit_event"))
                conn.execute(text("DROP FUNCTION IF EXISTS test_refuse()"))
            else:
                conn.execute(text("DROP TRIGGER IF EXISTS test_refuse"))


def test_a_failed_batch_fails_every_caller_and_stores_nothing(committed, batcher):
    async def main():
        await batcher.commit(events("before", 2))
        with refusing_actor(committed, "poison"):
            with chain_locked(committed):
                blocker = asyncio.ensure_future(batcher.commit(events("blocker", 1)))
                await asyncio.sleep(0.3)  # the writer waits for the lock with this one
                good = asyncio.ensure_future(batcher.commit(events("good", 3)))
                bad = asyncio.ensure_future(
                    batcher.commit([*events("fine", 2), *events("poison", 1)])
                )
                await asyncio.sleep(0.2)
            outcome = await asyncio.wait_for(
                asyncio.gather(blocker, good, bad, return_exceptions=True), 30
            )
            # Nothing of that batch is stored.
            assert {r[1] for r in stored(committed)} == {"before", "blocker"}
            # The same writer goes on: the chain continues from the head that batch left.
            await batcher.commit(events("after", 2))
        await batcher.aclose()
        return outcome

    blocker, good, bad = asyncio.run(main())
    assert blocker is True
    # One call's row was refused: the call that shared its transaction is failed too.
    assert isinstance(bad, Exception) and "refused" in str(bad)
    assert isinstance(good, Exception)
    assert_calls_intact(stored(committed), {"before": 2, "blocker": 1, "after": 2})


def test_unreachable_database_raises(tmp_path, committed):
    if committed.backend == "postgresql":
        with socket.socket() as s:  # a port nobody listens on
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        url = make_url(committed.url).set(port=port).render_as_string(hide_password=False)
    else:
        url = f"sqlite:///{tmp_path}"  # a directory: cannot be opened as a database
    engine = make_engine(url)
    b = make_batcher(engine)

    async def main():
        for _ in range(2):  # every attempt fails, none hangs
            with pytest.raises(Exception):  # noqa: B017 - the driver's connection error
                await asyncio.wait_for(b.commit(events("lost", 1)), 20)
        await b.aclose()

    try:
        asyncio.run(main())
    finally:
        b.close()
        engine.dispose()
    assert b.batches == 0 and b.events == 0
    assert stored(committed) == []


class Relay:
    """A TCP relay in front of PostgreSQL that can be cut and restored (an outage)."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None

    def start(self) -> None:
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(("127.0.0.1", self.port))
        ls.listen()
        self._listener = ls
        threading.Thread(target=self._accept, args=(ls,), daemon=True).start()

    def stop(self) -> None:
        with self._lock:
            socks, self._socks = self._socks, []
            if self._listener is not None:
                socks.append(self._listener)
                self._listener = None
        for s in socks:
            with contextlib.suppress(OSError):
                s.shutdown(socket.SHUT_RDWR)
            s.close()

    def _accept(self, ls: socket.socket) -> None:
        while True:
            try:
                client, _ = ls.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            with self._lock:
                self._socks += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_WR)


def test_writer_recovers_after_a_database_outage(committed_pg):
    committed = committed_pg  # a lost connection is PostgreSQL's failure mode
    url = make_url(committed.url)
    relay = Relay((url.host or "127.0.0.1", url.port or 5432))
    relay.start()
    engine = make_engine(url.set(host="127.0.0.1", port=relay.port).render_as_string(False))
    b = make_batcher(engine)

    async def main():
        await b.commit(events("up", 2))  # the writer now holds a connection
        relay.stop()  # the database goes away under it
        for tag in ("down1", "down2"):
            with pytest.raises(Exception):  # noqa: B017 - the driver's connection error
                await asyncio.wait_for(b.commit(events(tag, 2)), 20)
        relay.start()
        await asyncio.wait_for(b.commit(events("back", 3)), 20)
        await b.aclose()

    try:
        asyncio.run(main())
    finally:
        b.close()
        relay.stop()
        engine.dispose()
    assert_calls_intact(stored(committed), {"up": 2, "back": 3})
    assert b.batches == 2


# ------------------------------------------------------------------ closing


def test_thread_writer_close_finishes_what_it_holds_and_stops(committed_db):
    committed = committed_db("sqlite")
    b = make_batcher(committed.engine)
    before = writer_threads()
    asyncio.run(b.commit(events("one", 1)))
    mine = writer_threads() - before
    assert len(mine) == 1

    # The writer's next statement is the one that waits for the chain's lock.
    writing = threading.Event()

    @event.listens_for(committed.engine, "before_cursor_execute")
    def _writer_statement(*_args):
        if threading.current_thread().name == WRITER:
            writing.set()

    loop = asyncio.new_event_loop()
    runner = threading.Thread(target=loop.run_forever, daemon=True)
    runner.start()
    try:
        with chain_locked(committed):
            held = asyncio.run_coroutine_threadsafe(b.commit(events("held", 2)), loop)
            assert writing.wait(20)  # the writer has it and waits for the lock
            closer = threading.Thread(target=b.close)
            closer.start()
            closer.join(0.2)  # not a sleep: it returns at once if close does not wait
            assert closer.is_alive() and not held.done()  # close waits for the writer
        closer.join(20)
        assert not closer.is_alive()
        assert held.result(5) is True  # committed, not dropped
    finally:
        loop.call_soon_threadsafe(loop.stop)
        runner.join(5)
        loop.close()
    assert not any(t.is_alive() for t in mine)  # the writer has stopped
    assert_calls_intact(stored(committed), {"one": 1, "held": 2})

    # Used again after close, it starts a writer again (and close stops that one too).
    asyncio.run(asyncio.wait_for(b.commit(events("again", 1)), 20))
    again = writer_threads() - before
    assert again and not (again & mine)
    b.close()
    assert not any(t.is_alive() for t in again)
    assert_calls_intact(stored(committed), {"one": 1, "held": 2, "again": 1})


def test_loop_writer_aclose_finishes_what_it_holds_and_lets_go(committed_pg):
    committed = committed_pg
    app = f"govid-batch-test-{time.monotonic_ns()}"
    url = make_url(committed.url).update_query_dict({"application_name": app})
    engine = make_engine(url.render_as_string(hide_password=False))
    b = make_batcher(engine)

    def backends() -> int:
        with committed.engine.connect() as conn:
            return conn.execute(
                text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :a"),
                {"a": app},
            ).scalar_one()

    async def gone() -> bool:
        for _ in range(50):
            if backends() == 0:
                return True
            await asyncio.sleep(0.05)
        return False

    async def main():
        await b.commit(events("one", 1))
        assert backends() == 1
        with chain_locked(committed):
            held = asyncio.ensure_future(b.commit(events("held", 2)))
            await asyncio.sleep(0.3)  # the writer has it and waits for the lock
            closing = asyncio.ensure_future(b.aclose())
            await asyncio.sleep(0.3)
            assert not closing.done() and not held.done()  # aclose waits for the writer
        await asyncio.wait_for(asyncio.gather(held, closing), 20)
        assert await gone()  # its connection is closed
        await b.commit(events("again", 1))  # used again: it connects again
        await b.aclose()
        assert await gone()

    try:
        asyncio.run(main())
    finally:
        b.close()
        engine.dispose()
    assert_calls_intact(stored(committed), {"one": 1, "held": 2, "again": 1})


def test_a_commit_arriving_while_the_thread_writer_stops_is_not_lost(committed_db):
    """Shutdown with requests still finishing: a call queued after close() began is
    committed (by the stopping writer or a new one), never left waiting."""
    committed = committed_db("sqlite")
    b = make_batcher(committed.engine)

    async def main():
        with chain_locked(committed):  # the writer is stuck in a slow commit
            first = asyncio.ensure_future(b.commit(events("first", 1)))
            await asyncio.sleep(0.2)
            closing = threading.Thread(target=b.close)
            closing.start()  # shutdown begins while the writer holds "first"
            await asyncio.sleep(0.1)
            late = asyncio.ensure_future(b.commit(events("late", 2)))
            await asyncio.sleep(0.1)
        await asyncio.wait_for(first, 10)
        await asyncio.wait_for(late, 10)
        closing.join(10)
        await b.aclose()

    asyncio.run(main())
    assert_calls_intact(stored(committed), {"first": 1, "late": 2})


def test_loop_writer_serves_several_event_loops_at_once(committed_pg):
    """One PostgreSQL writer shared by loops running at the same time (a connection
    belongs to its loop): every call is answered and stored, one chain."""
    b = make_batcher(committed_pg.engine)
    calls: dict[str, int] = {}

    async def body(t: int) -> None:
        await some_calls(b.commit, t, calls)
        await b.aclose()

    run_threads(4, body)
    assert_calls_intact(stored(committed_pg), calls)
