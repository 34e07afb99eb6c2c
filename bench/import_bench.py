"""The import figure: 240,000 pre-hashed accounts into PostgreSQL with ``idp accounts import``.

    python bench/gen_import.py --out /tmp/govid-import
    python bench/import_bench.py --dir /tmp/govid-import

Creates a fresh PostgreSQL database (``GOVID_BENCH_PG``, default the local server),
migrates it, creates the 2,500 agencies through the agency service, then times the real
CLI (``idp accounts import accounts.csv --json``, all-or-nothing, one transaction) and
prints the figure. Target: under 120 s on the 2-core project machine.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path

import psycopg

from idp import migrate
from idp.agencies import service as agencies
from idp.config import Settings
from idp.db import make_engine, make_session_factory, transaction

ADMIN = os.environ.get("GOVID_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
IDP = str(Path(sys.executable).parent / "idp")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--dir", type=Path, default=Path("/tmp/govid-import"))
    p.add_argument("--keep", action="store_true", help="Keep the database afterwards")
    args = p.parse_args()
    name = f"govid_import_{secrets.token_hex(4)}"
    with psycopg.connect(ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = ADMIN.rsplit("/", 1)[0] + "/" + name
    try:
        migrate.upgrade(url)
        engine = make_engine(url)
        t0 = time.perf_counter()
        with transaction(make_session_factory(engine)) as db:
            for line in (args.dir / "agencies.jsonl").open(encoding="utf-8"):
                a = json.loads(line)
                agencies.create(
                    db,
                    agencies.NewAgency(
                        code=a["code"], name_th=a["name_th"], name_en=a["name_en"],
                        parent_code=a["parent"], mail_domains=tuple(a["mail_domains"]),
                    ),
                    actor="bench",
                )  # fmt: skip
        print(f"agencies created in {time.perf_counter() - t0:.1f}s", file=sys.stderr)
        env = {**os.environ, "IDP_DATABASE_URL": url, "IDP_ENV": "dev"}
        t0 = time.perf_counter()
        r = subprocess.run(
            [IDP, "accounts", "import", str(args.dir / "accounts.csv"), "--json"],
            env=env, capture_output=True, text=True, check=False,
        )  # fmt: skip
        wall = time.perf_counter() - t0
        if r.returncode:
            sys.exit(f"import failed ({r.returncode}): {r.stdout[-2000:]} {r.stderr[-2000:]}")
        report = json.loads(r.stdout)
        with engine.connect() as conn:
            count = conn.exec_driver_sql("SELECT count(*) FROM account").scalar()
            outbox = conn.exec_driver_sql("SELECT count(*) FROM outbox").scalar()
            events = conn.exec_driver_sql(
                "SELECT count(*) FROM audit_event WHERE type = 'admin.import.completed'"
            ).scalar()
        engine.dispose()
        settings = Settings(database_url=url)
        del settings
        print(
            json.dumps(
                {
                    "rows": report["rows"],
                    "created": report["created"],
                    "failed": report["failed"],
                    "accounts_in_db": count,
                    "outbox_rows": outbox,
                    "audit_summary_events": events,
                    "import_seconds": report["seconds"],
                    "wall_seconds_incl_startup": round(wall, 1),
                    "rows_per_second": report["rows_per_second"],
                    "cores": os.cpu_count(),
                },
                indent=2,
            )
        )
    finally:
        if not args.keep:
            with psycopg.connect(ADMIN, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    main()
