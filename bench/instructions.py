"""Instructions per request, counted by valgrind: a benchmark that a noisy VM cannot move.

    .venv/bin/python bench/instructions.py [--only S2,S3,S3L2] [--tokens 400] [--logins 30]

`make bench` measures seconds; on a shared VM those swing by ±30 % from one run to the
next (docs/status.md), so a change worth 5 % cannot be seen there. This script runs the
same work in one process under `valgrind --tool=callgrind` with instrumentation switched
on only around the measured loop (`callgrind_control -i on|off`), and prints
instructions per token or per sign-in, which repeat to within ~1 % whatever else the
machine does. It also prints what each sign-in costs in SQL statements and transaction
round trips (BEGIN/COMMIT), and for S3 how much of it is argon2id.

* S2: `client_credentials` tokens (ES256 access tokens, the default), sent straight to
  the ASGI application (no HTTP parsing, no sockets), the audit group commit included.
* S3: whole sign-ins (`bench/oidc_bench.py: one_login`: sign-in page, password, code,
  token) through httpx's ASGI transport, one at a time, thread-pool work included; the
  httpx client's own instructions are part of the count (the same in every run).
* S3L2: the same at level 2 (password and TOTP).
* S4: refreshes with rotation (issue 22): 16 chains at once, each sending its newest
  refresh token, straight to the ASGI application like S2 (ES256 access tokens).
* S5U, S5I: userinfo with one access token (GET, Bearer), and its introspection by
  the client it was issued to (POST /introspect), straight to the ASGI application.
  S4, S5U and S5I print statements and BEGIN/COMMIT per request and, with
  ``--by-endpoint``, nothing more (they are one endpoint each).
* S1D, S1J: the discovery document and the JWKS (GET), straight to the ASGI application.
* ``--by-endpoint`` (S3, S3L2): the same sign-ins with callgrind dumping its counters as
  each request starts and ends, printed per endpoint (``GET /authorize``, ``POST /login``,
  ``POST /token``) and for the client between requests. The dump calls themselves
  (a ``callgrind_control`` subprocess each) add ~0.3 M to the label before them, so the
  sum is ~3 % above the plain count.

Each scenario gets its own PostgreSQL database (created, migrated, seeded through the CLI,
dropped) and runs with the production argon2id parameters. Needs valgrind (`apt-get
install -y valgrind`); takes 1–2 minutes per scenario.

To count an older commit with today's script: `git worktree add /tmp/old <commit>`, then
`PYTHONPATH=/tmp/old .venv/bin/python bench/instructions.py` (the server code comes from
the worktree, the benchmark client and seeding from this checkout).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))

import oidc_bench as B  # noqa: E402  (the benchmark's seeding, client and database helpers)

ARGON2_FUNCTIONS = re.compile(r"argon2|blake2|fill_segment|fill_block", re.IGNORECASE)


# ------------------------------------------------------------------- inside valgrind


def _callgrind(switch: str) -> None:
    subprocess.run(
        ["callgrind_control", "-i", switch, str(os.getpid())], capture_output=True, check=False
    )


def _count_round_trips(engine) -> collections.Counter:
    """Statements (SQLAlchemy's cursor executions) and psycopg's own BEGIN/COMMIT."""
    import psycopg._connection_base as base
    from sqlalchemy import event

    counts: collections.Counter = collections.Counter()

    @event.listens_for(engine, "before_cursor_execute")
    def _statement(*_args) -> None:
        counts["statements"] += 1

    original = base.BaseConnection._exec_command

    def _command(self, command, result_format=0):
        counts[bytes(command).split(b" ")[0].decode()] += 1
        return original(self, command, result_format)

    base.BaseConnection._exec_command = _command

    # Every statement psycopg sends, SQLAlchemy's pool pings and the audit writer's
    # included ("round trips": what the database sees besides BEGIN/COMMIT).
    import psycopg

    for cls in (psycopg.Cursor, psycopg.AsyncCursor):
        for name in ("execute", "executemany"):
            original_exec = getattr(cls, name)

            def counted(self, *a, _original=original_exec, **k):
                counts["round_trips"] += 1
                return _original(self, *a, **k)

            setattr(cls, name, counted)
    # The event loop's reads go through libpq directly (idp/pg_reads.py, decision 0027).
    from idp import pg_reads

    wire = getattr(pg_reads, "_Wire", None)
    if wire is not None:
        original_one = wire.one

        async def counted_read(self, *a, **k):
            counts["round_trips"] += 1
            return await original_one(self, *a, **k)

        wire.one = counted_read
    return counts


async def _s2(app, seeded: B.Seeded, n: int, counts: collections.Counter) -> None:
    body = f"grant_type=client_credentials&scope={seeded.machine_scope}".encode()
    machine = seeded.machine
    headers = [
        (b"host", b"127.0.0.1:9"),
        (b"authorization", B.basic_auth(machine["client_id"], machine["client_secret"]).encode()),
        (b"content-type", b"application/x-www-form-urlencoded"),
        (b"content-length", str(len(body)).encode()),
    ]

    async def one() -> None:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": "/token",
            "raw_path": b"/token",
            "root_path": "",
            "query_string": b"",
            "headers": headers,
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 9),
            "state": {},
        }
        sent: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": body, "more_body": False}

        async def send(message: dict) -> None:
            sent.append(message)

        await app(scope, receive, send)
        if sent[0]["status"] != 200:
            raise RuntimeError(f"token request failed: {sent}")

    async def client(k: int) -> None:
        for _ in range(k):
            await one()

    for _ in range(20):  # warm caches, prepared statements, the audit writer
        await one()
    counts.clear()
    _callgrind("on")
    await asyncio.gather(*(client(n // 16) for _ in range(16)))  # group commit: 16 at once
    _callgrind("off")


async def _asgi(app, method: str, path: str, headers: list, body: bytes = b"") -> tuple:
    """One request straight to the ASGI application: (status, body)."""
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"127.0.0.1:9"), *headers, (b"content-length", b"%d" % len(body))],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 9),
        "state": {},
    }
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


async def _tokens(app, seeded: B.Seeded, n: int) -> list[dict]:
    """The token responses of ``n`` sign-ins through the ASGI application."""
    import httpx

    transport = httpx.ASGITransport(app=app)
    out = []
    for i in range(n):
        got: dict = {}
        email = seeded.emails[i % len(seeded.emails)]
        await B.one_login(transport, "http://127.0.0.1:9", email, seeded, tokens_out=got)
        out.append(got)
    return out


FORM = (b"content-type", b"application/x-www-form-urlencoded")


async def _s4(app, seeded: B.Seeded, n: int, counts: collections.Counter) -> None:
    web = seeded.web
    auth = (b"authorization", B.basic_auth(web["client_id"], web["client_secret"]).encode())
    chains = [t["refresh_token"] for t in await _tokens(app, seeded, 16)]

    async def chain(k: int, rounds: int) -> None:
        for _ in range(rounds):
            body = f"grant_type=refresh_token&refresh_token={chains[k]}".encode()
            status, data = await _asgi(app, "POST", "/token", [auth, FORM], body)
            if status != 200:
                raise RuntimeError(f"refresh failed: {status} {data[:200]!r}")
            chains[k] = json.loads(data)["refresh_token"]

    await asyncio.gather(*(chain(k, 2) for k in range(16)))  # warm
    counts.clear()
    _callgrind("on")
    await asyncio.gather(*(chain(k, n // 16) for k in range(16)))
    _callgrind("off")


async def _s5(app, seeded: B.Seeded, n: int, which: str, counts: collections.Counter) -> None:
    web = seeded.web
    at = (await _tokens(app, seeded, 1))[0]["access_token"]
    if which == "S5U":
        request = ("GET", "/userinfo", [(b"authorization", f"Bearer {at}".encode())], b"")
    else:
        auth = (b"authorization", B.basic_auth(web["client_id"], web["client_secret"]).encode())
        body = f"token={at}&token_type_hint=access_token".encode()
        request = ("POST", "/introspect", [auth, FORM], body)

    async def one() -> None:
        status, data = await _asgi(app, *request)
        if status != 200 or (
            which == "S5I"
            and b'"active": true' not in data.replace(b'"active":true', b'"active": true')
        ):
            raise RuntimeError(f"{which} failed: {status} {data[:200]!r}")

    async def client(k: int) -> None:
        for _ in range(k):
            await one()

    for _ in range(20):
        await one()
    counts.clear()
    _callgrind("on")
    await asyncio.gather(*(client(n // 16) for _ in range(16)))
    _callgrind("off")


async def _s1(app, which: str, n: int, counts: collections.Counter) -> None:
    """Discovery (S1D) or the JWKS (S1J): GET with no conditions, 200 with the document."""
    path = "/.well-known/openid-configuration" if which == "S1D" else "/jwks"

    async def client(k: int) -> None:
        for _ in range(k):
            status, data = await _asgi(app, "GET", path, [])
            if status != 200 or not data:
                raise RuntimeError(f"{which} failed: {status} {data[:200]!r}")

    await client(20)
    counts.clear()
    _callgrind("on")
    await asyncio.gather(*(client(n // 16) for _ in range(16)))
    _callgrind("off")


def _by_endpoint(app):
    """An ASGI wrapper that dumps callgrind's counters when each request starts (what
    the client did since: "client") and ends (labelled by method and path)."""

    async def wrapped(scope, receive, send):
        if scope["type"] != "http":
            return await app(scope, receive, send)
        _callgrind_dump("client")
        try:
            return await app(scope, receive, send)
        finally:
            _callgrind_dump(f"{scope['method']} {scope['path']}")

    return wrapped


def _callgrind_dump(label: str) -> None:
    if os.environ.get("GOVID_INSTR_BY_ENDPOINT"):
        subprocess.run(
            ["callgrind_control", f"--dump={label}", str(os.getpid())],
            capture_output=True,
            check=False,
        )


async def _s3(app, seeded: B.Seeded, n: int, totp, counts: collections.Counter) -> None:
    import httpx

    transport = httpx.ASGITransport(app=_by_endpoint(app))
    emails = totp.emails if totp else seeded.emails
    for i in range(10):
        await B.one_login(transport, "http://127.0.0.1:9", emails[i % len(emails)], seeded, totp)
    counts.clear()
    _callgrind("on")
    for i in range(n):
        await B.one_login(transport, "http://127.0.0.1:9", emails[i % len(emails)], seeded, totp)
    _callgrind("off")


def inner(scenario: str, n: int, out: Path) -> None:
    """Run in the valgrind'ed process: database, seed, app, the measured loop."""
    # Imported before the seeding helpers put the repository on sys.path, so that
    # PYTHONPATH can point at another checkout (see the module's docstring).
    from idp.main import create_app

    with B.BenchDatabase(B.PG_ADMIN_DSN) as db:
        db_url = db.url
        # S4/S5 send more than the default per-address budget from one address.
        limits = B.RATE_LIMITS_S45 if scenario in ("S4", "S5U", "S5I") else {}
        # Under valgrind a request takes ~50x its real time, so caches that expire by
        # the clock (the client cache's 5 s, the key ring's 30 s) would be reloaded
        # ~50x as often per request as in a real run and their reloads counted into
        # every scenario (issue 22: S2 varied by 10-25 % from run to run). The longest
        # allowed client cache, and the key ring kept for the run, count what a real
        # run does: a reload every few thousand requests, i.e. nothing.
        # Likewise the rate limits' 10 s window: under valgrind a run crosses dozens of
        # windows and each new one leases its slice in a transaction through the thread
        # pool (~0.1 BEGIN per userinfo, ~20 % of its count, varying from run to run);
        # a real run leases once per window for thousands of requests.
        env = B.govid_env(
            db_url,
            9,
            IDP_CLIENT_CACHE_SECONDS="300",
            IDP_RATE_LIMIT_WINDOW_SECONDS="3600",
            **limits,
        )
        subprocess.run([B.IDP, "db", "upgrade"], env=env, check=True, capture_output=True)
        seeded = B.seed(env, 8)
        totp = B.enrol_totp(db_url, seeded, 60) if scenario == "S3L2" else None
        os.environ.update(env)
        app = create_app(start_workers=False)
        app.state.services.keys._ttl = 24 * 3600.0  # see IDP_CLIENT_CACHE_SECONDS above
        counts = _count_round_trips(app.state.services.engine)

        async def main() -> None:
            async with app.router.lifespan_context(app):
                if scenario == "S2":
                    await _s2(app, seeded, n, counts)
                elif scenario == "S4":
                    await _s4(app, seeded, n, counts)
                elif scenario in ("S5U", "S5I"):
                    await _s5(app, seeded, n, scenario, counts)
                elif scenario in ("S1D", "S1J"):
                    await _s1(app, scenario, n, counts)
                else:
                    await _s3(app, seeded, n, totp, counts)

        asyncio.run(main())
        out.write_text(json.dumps({k: v / n for k, v in counts.items()}))


# ------------------------------------------------------------------- outside


def by_endpoint(scenario: str, n: int) -> dict[str, float]:
    """Instructions per sign-in for each endpoint, and for the client between requests:
    callgrind dumps its counters at the start and end of every request (``_by_endpoint``)."""
    with tempfile.TemporaryDirectory(prefix="govid-instr-") as tmp:
        data, stats = Path(tmp) / "callgrind.out", Path(tmp) / "counts.json"
        run = subprocess.run(
            [*_valgrind(data), "--inner", scenario, "--n", str(n), "--out", str(stats)],
            capture_output=True,
            text=True,
            timeout=1800,
            env={**os.environ, "GOVID_INSTR_BY_ENDPOINT": "1"},
        )
        if run.returncode != 0 or not stats.exists():
            raise SystemExit(f"{scenario} failed under valgrind:\n{run.stderr[-3000:]}")
        per: collections.Counter = collections.Counter()
        for dump in Path(tmp).glob("callgrind.out.*"):
            text = dump.read_text(errors="replace")
            label = re.search(r"^desc: Trigger: dump (.*)$", text, re.M)
            total = re.search(r"^totals: (\d+)", text, re.M)
            if label and total:
                per[label.group(1)] += int(total.group(1))
        return {k: v / n for k, v in per.items()}


def _valgrind(data: Path) -> list[str]:
    return [
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={data}",
        sys.executable,
        __file__,
    ]


def measure(scenario: str, n: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory(prefix="govid-instr-") as tmp:
        data, stats = Path(tmp) / "callgrind.out", Path(tmp) / "counts.json"
        argv = [
            *_valgrind(data),
            "--inner",
            scenario,
            "--n",
            str(n),
            "--out",
            str(stats),
        ]
        run = subprocess.run(argv, capture_output=True, text=True, timeout=1800)
        if run.returncode != 0 or not stats.exists():
            raise SystemExit(
                f"{scenario} failed under valgrind:\n{run.stdout[-2000:]}{run.stderr[-3000:]}"
            )
        total = argon2 = 0
        for line in data.read_text(errors="replace").splitlines():
            if line.startswith("totals:"):
                total = int(line.split()[1])
        annotate = subprocess.run(
            ["callgrind_annotate", "--threshold=100", str(data)], capture_output=True, text=True
        ).stdout
        for line in annotate.splitlines():
            m = re.match(r"\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(.*)", line)
            if m and ARGON2_FUNCTIONS.search(m.group(2)) and "PROGRAM TOTALS" not in line:
                argon2 += int(m.group(1).replace(",", ""))
        result = json.loads(stats.read_text())
        result.update(instructions=total / n, argon2=argon2 / n)
        return result


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--only", default="S2,S3,S3L2")
    p.add_argument("--tokens", type=int, default=400, help="S1, S2, S4, S5 requests measured")
    p.add_argument("--logins", type=int, default=30, help="S3/S3L2 sign-ins measured")
    p.add_argument(
        "--by-endpoint",
        action="store_true",
        help="S3/S3L2: instructions per sign-in for each endpoint and for the client",
    )
    p.add_argument("--inner", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, help=argparse.SUPPRESS)
    p.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.inner:
        inner(a.inner, a.n, a.out)
        return
    if not shutil.which("valgrind") or not shutil.which("callgrind_control"):
        raise SystemExit("valgrind is not installed: apt-get install -y valgrind")
    print(f"GovID instructions per request — {B.git_describe()}, Python {sys.version.split()[0]}")
    if a.by_endpoint:
        for scenario in a.only.split(","):
            if scenario == "S2":
                continue
            per = by_endpoint(scenario, a.logins)
            print(f"{scenario}: instructions per sign-in by endpoint (argon2id included)")
            for label, count in sorted(per.items(), key=lambda kv: -kv[1]):
                print(f"  {label:<40} {count:>14,.0f}")
            print(f"  {'all':<40} {sum(per.values()):>14,.0f}")
        return
    print("(valgrind callgrind, instrumentation on only around the measured loop)")
    print(f"{'scenario':<44} {'instructions':>14} {'argon2id':>12} {'other':>12}  SQL")
    for scenario in a.only.split(","):
        n = a.tokens if scenario in ("S1D", "S1J", "S2", "S4", "S5U", "S5I") else a.logins
        r = measure(scenario, n)
        label = {
            "S2": "S2 client_credentials token (ES256)",
            "S3": "S3 sign-in, password (3 HTTP requests)",
            "S3L2": "S3L2 sign-in, password + TOTP",
            "S4": "S4 refresh with rotation (16 chains)",
            "S5U": "S5 userinfo (ES256 access token)",
            "S5I": "S5 introspection (ES256 access token)",
            "S1D": "S1 discovery document",
            "S1J": "S1 JWKS",
        }[scenario]
        sql = (
            f"{r.get('statements', 0):.1f} statements ({r.get('round_trips', 0):.1f} sent), "
            f"{r.get('BEGIN', 0):.1f} BEGIN, "
            f"{r.get('COMMIT', 0):.1f} COMMIT, {r.get('ROLLBACK', 0):.1f} ROLLBACK per "
            + ("sign-in" if scenario.startswith("S3") else "request")
            if scenario != "S2"
            else f"audit group commit: {r.get('round_trips', 0):.2f} statements sent, "
            f"{r.get('BEGIN', 0):.2f} BEGIN per token"
        )
        other = r["instructions"] - r["argon2"]
        print(
            f"{label:<44} {r['instructions']:>14,.0f} {r['argon2']:>12,.0f} {other:>12,.0f}  {sql}"
        )


if __name__ == "__main__":
    main()
