"""Provisioning throughput: N new accounts through the outbox worker into a real slapd.

    .venv/bin/python bench/ldap_provision.py [--accounts 10000] [--db sqlite|postgresql]
        [--batch 200] [--sync]

Starts its own slapd on a loopback port (as the tests do), creates the accounts through
``idp.accounts.service.create`` (which writes the outbox rows; not timed), then times one
worker draining the outbox (``idp.directory.worker.run_once``) and prints changes/s,
CPU seconds per change for the worker and slapd, and changes per CPU-second ("per core").
``--sync`` keeps slapd's fsync on every write (default: ``dbnosync``, as in the tests).
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from idp import migrate  # noqa: E402
from idp.accounts import service as accounts  # noqa: E402
from idp.agencies import service as agencies  # noqa: E402
from idp.config.ldap import DirectorySettings  # noqa: E402
from idp.db import transaction  # noqa: E402
from idp.directory import outbox, worker  # noqa: E402
from idp.directory.mail import LdapMailDirectory  # noqa: E402
from idp.services import Services  # noqa: E402
from tests.conftest import PG_ADMIN_DSN, PgServer, make_settings  # noqa: E402
from tests.ldap.slapd import Slapd  # noqa: E402


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def drain(url: str, s: DirectorySettings) -> tuple[int, float]:
    """One worker process: drain the outbox; returns (changes applied, CPU seconds)."""
    services = Services(make_settings(url))
    directory = LdapMailDirectory(s)
    cpu0 = time.process_time()
    try:
        result = worker.run_once(services.sessions, directory, s)
    finally:
        directory.close()
        services.close()
    return result.done, time.process_time() - cpu0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--accounts", type=int, default=10_000)
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--batch", type=int, default=200)
    ap.add_argument("--sync", action="store_true", help="slapd fsyncs every write")
    ap.add_argument("--workers", type=int, default=1, help="worker processes sharing the queue")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="govid-bench-"))
    pg = None
    if args.db == "postgresql":
        pg = PgServer(PG_ADMIN_DSN)
        url = pg.create_database("govid_bench")
    else:
        url = f"sqlite:///{tmp / 'bench.db'}"
    slapd = Slapd(tmp / "slapd", nosync=not args.sync).start()
    services = Services(make_settings(url))
    try:
        migrate.upgrade(url)
        slapd.add_base()
        base = f"ou=bench,{slapd.suffix}"
        for dn in (base, f"ou=people,{base}", f"ou=disabled,{base}"):
            slapd.add_ou(dn)
        s = DirectorySettings(
            urls=[slapd.url],
            start_tls=False,
            allow_plain=True,
            bind_dn=slapd.rootdn,
            bind_password=slapd.rootpw,
            people_dn=f"ou=people,{base}",
            disabled_dn=f"ou=disabled,{base}",
            batch_size=args.batch,
        )
        t0 = time.perf_counter()
        with transaction(services.sessions) as db:
            agencies.create(
                db,
                agencies.NewAgency(
                    code="bench", name_th="ทดสอบ", name_en="Bench", mail_domains=("bench.go.th",)
                ),
                actor="bench",
            )
        for start in range(0, args.accounts, 1000):
            with transaction(services.sessions) as db:
                for i in range(start, min(start + 1000, args.accounts)):
                    accounts.create(
                        db,
                        accounts.NewAccount(
                            email=f"user{i:06d}@bench.go.th",
                            agency_code="bench",
                            given_name_en=f"Given{i}",
                            family_name_en=f"Family{i}",
                            given_name_th="สมชาย",
                            family_name_th="ใจดี",
                        ),
                        hasher=services.hasher,
                        cipher=services.cipher,
                        actor="bench",
                    )
        setup = time.perf_counter() - t0

        services.engine.dispose()  # no pooled connection crosses the fork
        slapd_cpu0, t0 = cpu_seconds(slapd.pid), time.perf_counter()
        with mp.get_context("fork").Pool(args.workers) as pool:
            results = pool.starmap(drain, [(url, s)] * args.workers)
        wall = time.perf_counter() - t0
        slapd_cpu = cpu_seconds(slapd.pid) - slapd_cpu0
        n = sum(r[0] for r in results)
        cpu = sum(r[1] for r in results)

        with services.sessions() as db:
            left = outbox.counts(db)
        conn = slapd.admin()
        entries = conn.extend.standard.paged_search(
            s.people_dn, "(objectClass=inetOrgPerson)", attributes=["uid"], generator=True
        )
        in_ldap = sum(1 for e in entries if e.get("type") == "searchResEntry")
        conn.unbind()
        sync = "fsync" if args.sync else "dbnosync"
        print(f"database: {args.db}; slapd: mdb, {sync}; batch {args.batch}")
        print(f"{args.workers} worker process(es); {os.cpu_count()} CPUs")
        print(f"setup (create {args.accounts} accounts + outbox rows): {setup:.1f} s")
        print(f"applied {n} changes in {wall:.2f} s -> {n / wall:,.0f} changes/s")
        per = 1e3 / n
        print(f"CPU per change: worker {cpu * per:.3f} ms, slapd {slapd_cpu * per:.3f} ms")
        print(f"per core: {n / (cpu + slapd_cpu):,.0f} changes per CPU-second (worker + slapd)")
        print(f"check: {in_ldap} entries; outbox pending {left.pending}, parked {left.parked}")
        if in_ldap != args.accounts or left.pending or left.parked or n < args.accounts:
            sys.exit("benchmark check FAILED: the directory does not match the database")
    finally:
        services.close()
        slapd.stop()
        if pg is not None:
            pg.drop_all()


if __name__ == "__main__":
    main()
