"""How many audited requests per second the audit chain takes with group commit (issue 22).

    .venv/bin/python bench/audit_ceiling.py [--processes 1,2,4] [--tasks 64] [--duration 10]

Every token GovID issues waits for its audit event to be committed to the one hash chain
(`idp/audit/batch.py`: one writer per process chains whatever arrived during the
previous commit; processes take turns through the chain's advisory lock). This drives
only that path, with nothing else in the way: P processes, each an event loop with T
tasks that each commit one ``oidc.token.issued`` event, wait for it, and commit the
next, for D seconds. It prints events (= audited requests) per second, commits per
second, the mean batch, and PostgreSQL's CPU, then checks the chain with
``idp audit verify``. The figure is a ceiling: a real request spends far more than
this on everything else, so the chain caps the service only above it.

Its own PostgreSQL database (created, migrated, dropped), as bench/oidc_bench.py.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import psycopg

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import oidc_bench as B  # noqa: E402


def _worker(db_url: str, tasks: int, duration: float, ready, go, out) -> None:
    from sqlalchemy import create_engine

    from idp.audit import service as audit
    from idp.audit.batch import PgAsyncBatcher

    engine = create_engine(db_url.replace("postgresql://", "postgresql+psycopg://", 1))
    batcher = PgAsyncBatcher(engine)

    async def main() -> int:
        done = 0
        await batcher.commit([_event(audit, -1)])  # connected before the start
        ready.put(os.getpid())
        await asyncio.to_thread(go.wait)
        end = time.monotonic() + duration

        async def one(k: int) -> None:
            nonlocal done
            while time.monotonic() < end:
                await batcher.commit([_event(audit, k)])
                done += 1

        await asyncio.gather(*(one(k) for k in range(tasks)))
        await batcher.aclose()
        return done

    events = asyncio.run(main())
    out.put((events, batcher.batches - 1))


def _event(audit, k: int):
    return audit.new_event(
        "oidc.token.issued",
        actor="bench-machine",
        client_id="bench-machine",
        ip="127.0.0.1",
        details={"grant_type": "client_credentials", "scope": "api", "jti": f"{k}"},
    )


def run(db: B.BenchDatabase, processes: int, tasks: int, duration: float) -> dict[str, float]:
    ctx = mp.get_context("spawn")
    out, ready, go = ctx.Queue(), ctx.Queue(), ctx.Event()
    procs = [
        ctx.Process(target=_worker, args=(db.url, tasks, duration, ready, go, out))
        for _ in range(processes)
    ]
    for p in procs:
        p.start()
    for _ in procs:  # every process imported, connected and waiting
        ready.get(timeout=300)
    pg0 = _pg_ticks(db.name)
    go.set()
    time.sleep(duration)
    pg1 = _pg_ticks(db.name)
    results = [out.get(timeout=duration + 60) for _ in procs]
    for p in procs:
        p.join(30)
    events = sum(r[0] for r in results)
    batches = sum(r[1] for r in results)
    pg_cpu = sum(pg1.get(k, 0) - v for k, v in pg0.items()) / B.CLK_TCK / duration
    return {
        "processes": processes,
        "tasks_per_process": tasks,
        "events_per_s": events / duration,
        "commits_per_s": batches / duration,
        "mean_batch": events / max(batches, 1),
        "postgres_cpu_pct": round(100 * pg_cpu, 1),
    }


def _pg_ticks(db_name: str) -> dict[int, int]:
    procs = B._all_procs()
    return {p: procs[p][2] for p in B._pg_backends(db_name) if p in procs}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--processes", default="1,2,4")
    p.add_argument("--tasks", type=int, default=64, help="concurrent requests per process")
    p.add_argument("--duration", type=float, default=10.0)
    p.add_argument(
        "--sync-replica",
        action="store_true",
        help="a PostgreSQL primary of its own (fsync on) with a synchronous streaming\n"
        "replica on loopback, as the two-host reference runs: every commit waits for\n"
        "the replica to flush it (issue 21's ceiling with a synchronous replica)",
    )
    a = p.parse_args()
    with _server(a.sync_replica) as admin_dsn:
        _bench(a, admin_dsn)


def _server(sync_replica: bool):
    """The local server (GOVID_BENCH_PG), or a primary + synchronous replica of our own."""
    import contextlib
    import tempfile

    if not sync_replica:
        return contextlib.nullcontext(B.PG_ADMIN_DSN)

    @contextlib.contextmanager
    def clusters():
        sys.path.insert(0, str(BENCH.parent))
        from tests.faults.clusters import PgCluster, pg_bindir

        bindir = pg_bindir()
        if bindir is None:
            raise SystemExit("PostgreSQL's server binaries are not installed")
        root = Path(tempfile.mkdtemp(prefix="govid-ceiling-"))
        primary = PgCluster(bindir, root, "primary").init()
        # The helper's clusters skip fsync (fault tests); a commit-latency figure needs it.
        primary._configure(
            fsync="on",
            full_page_writes="on",
            synchronous_commit="on",
            synchronous_standby_names="'*'",
        )
        primary.start()
        replica = None
        try:
            replica = PgCluster(bindir, root, "replica").replica_of(primary)
            replica._configure(fsync="on", full_page_writes="on")
            replica.start()
            with psycopg.connect(primary.dsn(), autocommit=True) as conn:
                for _ in range(100):
                    row = conn.execute("SELECT sync_state FROM pg_stat_replication").fetchone()
                    if row and row[0] == "sync":
                        break
                    time.sleep(0.1)
                else:
                    raise SystemExit("the replica did not become synchronous")
            B.log(f"primary :{primary.port} with a synchronous replica :{replica.port}")
            yield primary.dsn()
        finally:
            if replica is not None:
                replica.stop("immediate")
            primary.stop("immediate")

    return clusters()


def _bench(a, admin_dsn: str) -> None:
    rows = []
    with B.BenchDatabase(admin_dsn) as db:
        env = B.govid_env(db.url, 9)
        B.idp_cli(env, "db", "upgrade")
        for n in (int(x) for x in a.processes.split(",")):
            B.log(f"{n} process(es) x {a.tasks} tasks, {a.duration:g} s")
            rows.append(run(db, n, a.tasks, a.duration))
        verify = subprocess.run(
            [B.IDP, "audit", "verify", "--json"], env=env, capture_output=True, text=True
        )
        verdict = verify.stdout.strip().splitlines()[-1] if verify.stdout.strip() else ""
    how = "a synchronous replica" if a.sync_replica else "one server"
    print(
        f"\nAudit chain with group commit, {how} — {B.git_describe()}, {os.cpu_count()} "
        f"CPUs, load average {os.getloadavg()[0]:.1f}"
    )
    print(
        f"{'processes':>9} {'tasks':>6} {'events/s':>9} {'commits/s':>9} {'batch':>6} {'pg CPU':>7}"
    )
    for r in rows:
        print(
            f"{r['processes']:>9} {r['tasks_per_process']:>6} {r['events_per_s']:>9,.0f} "
            f"{r['commits_per_s']:>9,.0f} {r['mean_batch']:>6.1f} {r['postgres_cpu_pct']:>6.0f}%"
        )
    print(f"idp audit verify: exit {verify.returncode} {verdict[:300]}")
    print(json.dumps(rows))


if __name__ == "__main__":
    main()
