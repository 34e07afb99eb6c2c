"""Audit benchmarks on PostgreSQL (issue 8 "Figures").

1. Export of N events (default 100,000 and 1,000,000) as CSV and NDJSON: events/s, bytes/s,
   peak RSS of the exporting process (each run in a fresh process), CPU seconds of the
   client and of its PostgreSQL backend, and events per CPU-second ("per core").
2. `verify` of the whole chain: events/s.
3. Write overhead of auditing: record() throughput with the hash chain (advisory lock +
   head read + SHA-256) against record() with the chain switched off (same insert, no
   lock), 1 and 4 writer threads, one event per transaction. (The
   issue asks for S3 "login with and without the chain"; the login flow is not built
   yet, so this isolates the part of a login that the chain costs.)

Creates its own database on 127.0.0.1:5432 (user postgres) and drops it afterwards.

    .venv/bin/python bench/audit_export.py                # 100k and 1M
    .venv/bin/python bench/audit_export.py --sizes 20000  # quick
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import secrets
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from idp.audit.chain import GENESIS_HASH, format_at, hash_material  # noqa: E402

COPY_COLUMNS = (
    "seq, at, type, outcome, actor, agency_id, subject, client_id, session_id, ip, "
    "user_agent, details, prev_hash, hash"
)
TICK = os.sysconf("SC_CLK_TCK")


def _rss_kib() -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def _proc_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK  # utime + stime


def populate(url: str, start: int, count: int, prev: str) -> str:
    """Append a valid chain of login-like events with COPY; returns the new head hash."""
    agencies = [uuid.uuid4() for _ in range(60)]
    accounts = [uuid.uuid4() for _ in range(5000)]
    base = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
    sql = f"COPY audit_event ({COPY_COLUMNS}) FROM STDIN"
    with psycopg.connect(url) as conn, conn.cursor() as cur, cur.copy(sql) as copy:
        for seq in range(start, start + count):
            acc = str(accounts[seq % len(accounts)])
            ok = seq % 10 != 0
            material = {
                "seq": seq,
                "at": format_at(base + dt.timedelta(milliseconds=seq * 7)),
                "type": "oidc.login.succeeded" if ok else "oidc.login.failed",
                "outcome": "success" if ok else "failure",
                "actor": acc,
                "agency_id": str(agencies[seq % len(agencies)]),
                "subject": acc,
                "client_id": f"app-{seq % 40}",
                "session_id": secrets.token_hex(8),
                "ip": f"10.{seq % 250}.{seq % 199}.{seq % 97}",
                "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/131.0 ไทย",
                "details": {"acr": "urn:govid:acr:2", "amr": ["pwd", "otp"], "method": "pwd"}
                if ok
                else {"reason": "unknown_or_wrong_password"},
            }
            h = hash_material(prev, material)
            copy.write_row((*material.values(),)[:11] + (json.dumps(material["details"]), prev, h))
            prev = h
    return prev


def child(url: str, fmt: str) -> None:
    """One export in this process; prints its figures as JSON."""
    from sqlalchemy import text
    from sqlalchemy.orm import sessionmaker

    from idp.auditing.export import Export
    from idp.auditing.query import EventFilter
    from idp.db import make_engine

    engine = make_engine(url)
    with sessionmaker(bind=engine)() as session, tempfile.TemporaryFile() as out:
        backend = session.scalar(text("SELECT pg_backend_pid()"))
        base_rss = _rss_kib()
        cpu0, server0, t0 = time.process_time(), _proc_cpu(backend), time.perf_counter()
        job = Export(EventFilter(), fmt)
        for chunk in job.stream(session):
            out.write(chunk)
        wall = time.perf_counter() - t0
        cpu, server = time.process_time() - cpu0, _proc_cpu(backend) - server0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    n = job.stats.count
    print(json.dumps({
        "format": fmt, "events": n, "bytes": job.stats.bytes, "wall_s": wall,
        "events_per_s": n / wall, "mb_per_s": job.stats.bytes / wall / 1e6,
        "client_cpu_s": cpu, "server_cpu_s": server,
        "events_per_cpu_s": n / (cpu + server) if cpu + server else None,
        "rss_before_mib": base_rss / 1024, "peak_rss_mib": peak / 1024,
    }))  # fmt: skip


def run_child(url: str, fmt: str) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, "--child", url, fmt],
        check=True, capture_output=True, text=True, cwd=ROOT,
    )  # fmt: skip
    return json.loads(out.stdout.strip().splitlines()[-1])


def bench_verify(url: str) -> dict:
    from sqlalchemy.orm import sessionmaker

    from idp.auditing.verify import verify
    from idp.db import make_engine

    engine = make_engine(url)
    with sessionmaker(bind=engine)() as session:
        t0, c0 = time.perf_counter(), time.process_time()
        report = verify(session, None)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    engine.dispose()
    assert report.ok, report.message
    n = report.checked_events
    return {"events": n, "events_per_s": n / wall, "events_per_cpu_s": n / cpu}


def bench_record(url: str, per_thread: int) -> list[dict]:
    """record() as is, against record() with the chain switched off (no lock, no head
    read, no hash; seq from a counter): the same ORM insert, sanitising and commit."""
    import itertools
    from unittest import mock

    from sqlalchemy import func, select
    from sqlalchemy.orm import sessionmaker

    from idp.audit import service as audit
    from idp.audit.models import AuditEvent
    from idp.db import make_engine

    engine = make_engine(url, pool_size=8)
    sessions = sessionmaker(bind=engine)
    agency = uuid.uuid4()
    details = {"acr": "urn:govid:acr:2", "amr": ["pwd", "otp"], "method": "pwd"}

    def login(i: int) -> None:
        with sessions.begin() as s:
            audit.record(
                s, "oidc.login.succeeded", actor=f"acc-{i}", subject=f"acc-{i}", agency_id=agency,
                client_id="app", session_id="sid", ip="10.0.0.1", user_agent="Mozilla/5.0",
                details=details,
            )  # fmt: skip

    def unchained():
        with sessions() as s:
            counter = itertools.count((s.scalar(select(func.max(AuditEvent.seq))) or 0) + 1)
        lock = threading.Lock()

        def next_head(_session):
            with lock:
                return next(counter) - 1, GENESIS_HASH, None

        return mock.patch.multiple(
            audit, lock_head=lambda _s: None, head=next_head, compute_hash=lambda *_: "0" * 64
        )

    results = []
    for threads in (1, 4):
        for name in ("with chain", "without chain"):
            barrier = threading.Barrier(threads)

            def work(barrier=barrier) -> None:
                barrier.wait()
                for i in range(per_thread):
                    login(i)

            pool = [threading.Thread(target=work) for _ in range(threads)]
            patch = unchained() if name == "without chain" else None
            if patch:
                patch.start()
            c0, t0 = time.process_time(), time.perf_counter()
            for t in pool:
                t.start()
            for t in pool:
                t.join()
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            if patch:
                patch.stop()
            n = threads * per_thread
            results.append({
                "writer": name, "threads": threads, "events": n, "events_per_s": n / wall,
                "ms_per_event_per_thread": wall / per_thread * 1000,
                "client_cpu_ms_per_event": cpu / n * 1000,
            })  # fmt: skip
    engine.dispose()
    return results


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", default="100000,1000000", help="comma-separated event counts")
    p.add_argument("--admin-dsn", default="postgresql://postgres@127.0.0.1:5432/postgres")
    p.add_argument("--record-events", type=int, default=1500, help="per writer thread")
    args = p.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))

    from idp import migrate

    name = f"govid_bench_audit_{os.getpid()}"
    url = args.admin_dsn.rsplit("/", 1)[0] + f"/{name}"
    with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        migrate.upgrade(url)
        print(f"database {name}; {os.cpu_count()} CPU cores; PostgreSQL on the same host")
        prev, have, exports = GENESIS_HASH, 0, []
        for size in sizes:
            t0 = time.perf_counter()
            prev = populate(url, have + 1, size - have, prev)
            with psycopg.connect(url, autocommit=True) as conn:
                conn.execute("VACUUM ANALYZE audit_event")
            took = time.perf_counter() - t0
            print(f"\nloaded {size:,} events ({size - have:,} new in {took:.0f} s)")
            have = size
            for fmt in ("csv", "ndjson"):
                r = run_child(url, fmt)
                exports.append(r)
                print(
                    f"  export {fmt:6} {r['events']:>9,} events  {r['events_per_s']:>9,.0f} ev/s"
                    f"  {r['mb_per_s']:6.1f} MB/s  peak RSS {r['peak_rss_mib']:6.1f} MiB"
                    f" (at start {r['rss_before_mib']:.1f})  CPU client {r['client_cpu_s']:.2f} s"
                    f" + server {r['server_cpu_s']:.2f} s = {r['events_per_cpu_s']:,.0f} ev per"
                    " CPU-second (per core)"
                )
        v = bench_verify(url)
        print(
            f"\nverify whole chain: {v['events']:,} events, {v['events_per_s']:,.0f} ev/s"
            f" ({v['events_per_cpu_s']:,.0f} per client CPU-second)"
        )
        rec = bench_record(url, args.record_events)
        print("\nrecord() on PostgreSQL, one event per transaction:")
        for r in rec:
            print(
                f"  {r['writer']:13} {r['threads']} thread(s): {r['events_per_s']:>7,.0f} ev/s,"
                f" {r['ms_per_event_per_thread']:.2f} ms per event per thread,"
                f" client CPU {r['client_cpu_ms_per_event']:.2f} ms/event"
            )
        print(json.dumps({"cores": os.cpu_count(), "exports": exports, "verify": v, "record": rec}))
    finally:
        with psycopg.connect(args.admin_dsn, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
