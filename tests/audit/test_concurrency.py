"""Concurrent writers (threads, and two OS processes on PostgreSQL) produce one valid
chain with a gapless seq; rolled-back events leave no gap. The periodic checkpoint job."""

import json
import subprocess
import sys
import threading
from pathlib import Path

from sqlalchemy import select

from idp.audit import service as audit
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.auditing import checkpoints
from idp.auditing.verify import verify
from tests.waiting import wait_until

ROOT = Path(__file__).resolve().parents[2]


def assert_one_gapless_chain(committed, expected: int) -> list[str]:
    with committed.sessions() as s:
        rows = s.execute(select(AuditEvent.seq, AuditEvent.actor).order_by(AuditEvent.seq)).all()
        report = verify(s, committed.ring)
    assert [r.seq for r in rows] == list(range(1, expected + 1))
    assert report.ok, report.message
    return [r.actor for r in rows]


class Rollback(Exception):
    pass


def test_threads_write_one_gapless_chain(committed):
    threads, per_thread = 6, 30
    barrier = threading.Barrier(threads)
    counts = [0] * threads
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            barrier.wait()
            for i in range(per_thread):
                try:
                    with committed.sessions.begin() as s:
                        audit.record(s, "admin.account.resumed", actor=f"t{n}", subject=str(i))
                        if i % 5 == 2:
                            raise Rollback  # a failed change takes its event with it
                    counts[n] += 1
                except Rollback:
                    pass
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    pool = [threading.Thread(target=writer, args=(n,)) for n in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join(timeout=120)
    assert not errors, errors
    actors = assert_one_gapless_chain(committed, sum(counts))
    assert len(set(actors)) == threads


def test_two_processes_write_one_gapless_chain(committed_pg):
    committed = committed_pg  # the multi-host claim is PostgreSQL's (SQLite is one host)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "tests.audit._writer", committed.url, name, "150"],
            cwd=ROOT,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in ("proc-a", "proc-b")
    ]
    # Both imported and connected ("ready"), then both told to start at once.
    readiness = [p.stdout.readline().strip() for p in procs]
    if readiness != ["ready", "ready"]:
        raise AssertionError([readiness, *(p.communicate(timeout=60) for p in procs)])
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()
    outputs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outputs
    total = sum(json.loads(out)["committed"] for out, _ in outputs)
    actors = assert_one_gapless_chain(committed, total)
    switches = sum(1 for a, b in zip(actors, actors[1:], strict=False) if a != b)
    assert switches > 2, "the two processes did not overlap"


class CountingStop(threading.Event):
    """The periodic job's stop flag; it also counts the job's ticks (each ends in a
    ``wait``), so the test can see idle ticks go by instead of sleeping through them."""

    def __init__(self) -> None:
        super().__init__()
        self.ticks = 0

    def wait(self, timeout: float | None = None) -> bool:
        self.ticks += 1
        return super().wait(timeout)


def test_periodic_job_checkpoints_new_events_until_stopped(committed):
    stop = CountingStop()
    seen = []

    def on_checkpoint(info):
        seen.append(info)
        if len(seen) == 2:
            stop.set()

    with committed.sessions.begin() as s:
        audit.record(s, "admin.account.resumed")
    job = threading.Thread(
        target=checkpoints.run_periodic,
        args=(committed.sessions, committed.ring),
        kwargs={"interval": 0.05, "stop": stop, "on_checkpoint": on_checkpoint},
    )
    job.start()
    wait_until(lambda: seen, 20, "the first checkpoint")
    idle_from = stop.ticks
    wait_until(lambda: stop.ticks >= idle_from + 3, 20, "three idle ticks of the job")
    # Nothing new in those ticks, so no new checkpoint.
    with committed.sessions() as s:
        assert s.query(AuditCheckpoint).count() == 1
    with committed.sessions.begin() as s:
        audit.record(s, "admin.account.resumed")
    job.join(timeout=20)
    assert not job.is_alive() and len(seen) == 2 and seen[1].seq > seen[0].seq
    with committed.sessions() as s:
        assert verify(s, committed.ring).ok
