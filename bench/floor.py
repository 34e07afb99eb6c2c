"""What this machine allows before GovID's own code runs (issue 5's speed targets).

    .venv/bin/python bench/floor.py [--seconds 5]

Issue 5 asks for S2 >= 3,000 tokens and S3 >= 40 sign-ins per second of one core. Part
of each request's CPU is fixed by the work the issue itself requires, whatever code
surrounds it. This script measures those parts on CPU 0 of this machine, one at a time:

* argon2id verification with the production parameters (idp/config/__init__.py defaults), in
  GovID's reusable work area (idp/credentials/argon2_memory.py);
* one RSA-2048 signature (an ID token: RS256, OIDC Core's default) and one P-256 one
  (an access token: ES256, GovID's default), with ``cryptography``;
* one PostgreSQL round trip (``SELECT 1`` through psycopg, the server's backend moved to
  CPU 1 as in ``make bench``): the CPU the client side spends per statement;
* one HTTP request through uvicorn (uvloop, httptools) to a Starlette route that
  answers fixed bytes, driven by ``wrk`` on CPU 1: the server stack's own cost.

It then adds them up as a lower bound per S3 sign-in (one verification, one RS256 and one
ES256 signature, three HTTP requests, ``SQL_ROUND_TRIPS`` round trips) and per S2 token
(one signature, one HTTP request), prints the most a core could give if GovID's own code
cost nothing, and the CPU that the targets leave for everything else. Compare the last
column with what ``make bench`` reports per request.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psycopg
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

from idp.config import Settings
from idp.credentials.argon2_memory import WorkAreas
from idp.credentials.passwords import PasswordHasher

BENCH = Path(__file__).resolve().parent
SERVER_CPU, LOAD_CPU = 0, 1
# A level-1 sign-in's statements and transaction commands on PostgreSQL, as
# `bench/instructions.py` counts them (14 statements, 2 BEGIN, 2 COMMIT).
SQL_ROUND_TRIPS = 18
S2_TARGET, S3_TARGET = 3000, 40
PG = os.environ.get("GOVID_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")


def cpu_us(fn, seconds: float) -> float:
    """Best of five: CPU microseconds per call of ``fn`` on this thread."""
    for _ in range(3):
        fn()
    n, best = 1, float("inf")
    while True:  # size a batch to ~seconds / 5
        t = time.thread_time()
        for _ in range(n):
            fn()
        if time.thread_time() - t > seconds / 50:
            break
        n *= 2
    n *= 10
    for _ in range(5):
        t = time.thread_time()
        for _ in range(n):
            fn()
        best = min(best, (time.thread_time() - t) / n)
    return best * 1e6


def argon2_us(seconds: float) -> float:
    settings = Settings()
    hasher = PasswordHasher(settings)
    stored = hasher.hash("floor: correct horse battery staple")
    areas = WorkAreas(settings.argon2_memory_kib, 1)
    with areas.slot() as area:
        return cpu_us(lambda: area.verify(stored, b"floor: correct horse battery staple"), seconds)


def signatures_us(seconds: float) -> tuple[float, float]:
    message = b"x" * 700  # about an ID token's signing input
    rsa_key = rsa.generate_private_key(65537, 2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    rs = cpu_us(lambda: rsa_key.sign(message, padding.PKCS1v15(), hashes.SHA256()), seconds)
    es = cpu_us(lambda: ec_key.sign(message, ec.ECDSA(hashes.SHA256())), seconds)
    return rs, es


def round_trip_us(seconds: float) -> float:
    with psycopg.connect(PG, autocommit=True, connect_timeout=5) as conn:
        backend = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        subprocess.run(["taskset", "-pc", str(LOAD_CPU), str(backend)], capture_output=True)
        cur = conn.cursor()

        def one() -> None:
            cur.execute("SELECT 1")
            cur.fetchone()

        return cpu_us(one, seconds)


SERVER = """
import uvicorn
from starlette.applications import Starlette
from starlette.responses import Response
from starlette.routing import Route

BODY = b'{"ok":true}'


async def ok(request):
    return Response(BODY, media_type="application/json")


app = Starlette(routes=[Route("/", ok)])
uvicorn.run(app, host="127.0.0.1", port=int(__import__("sys").argv[1]), log_level="warning",
            loop="uvloop", http="httptools", access_log=False)
"""


def http_us(seconds: float) -> tuple[float, float]:
    """Server CPU per request and requests per second of that CPU (wrk, 64 connections)."""
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = subprocess.Popen(
        ["taskset", "-c", str(SERVER_CPU), sys.executable, "-c", SERVER, str(port)]
    )
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        wrk = ["taskset", "-c", str(LOAD_CPU), "wrk", "-t1", "-c64"]
        url = f"http://127.0.0.1:{port}/"
        subprocess.run([*wrk, "-d2s", url], capture_output=True, check=True)  # warm up
        before = _cpu_seconds(server.pid)
        out = subprocess.run(
            [*wrk, f"-d{max(1, round(seconds))}s", url], capture_output=True, text=True, check=True
        ).stdout
        used = _cpu_seconds(server.pid) - before
        m = re.search(r"^\s*(\d+) requests in", out, re.M)
        requests = int(m.group(1)) if m else 0
        return used / max(requests, 1) * 1e6, requests / max(used, 1e-9)
    finally:
        server.terminate()
        server.wait(timeout=10)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--seconds", type=float, default=5, help="time per measurement")
    a = p.parse_args()
    if not shutil.which("wrk"):
        raise SystemExit("wrk not found (Debian: apt-get install -y wrk)")
    os.sched_setaffinity(0, {SERVER_CPU})

    argon2 = argon2_us(a.seconds)
    rs256, es256 = signatures_us(a.seconds)
    trip = round_trip_us(a.seconds)
    http, http_rps = http_us(a.seconds)

    rows = [
        ("argon2id verification (production parameters)", argon2),
        ("RS256 signature (RSA-2048)", rs256),
        ("ES256 signature (P-256)", es256),
        ("PostgreSQL round trip (SELECT 1, client side)", trip),
        (f"HTTP request, uvicorn + Starlette, fixed answer ({http_rps:,.0f}/s)", http),
    ]
    print(f"Fixed costs on CPU {SERVER_CPU} of this machine, CPU microseconds each")
    for label, us in rows:
        print(f"  {label:<62} {us:>10,.1f}")

    s3 = argon2 + rs256 + es256 + 3 * http + SQL_ROUND_TRIPS * trip
    s2_es, s2_rs = es256 + http, rs256 + http
    print()
    print(
        f"{'lower bound per request':<44} {'CPU µs':>9} {'at most /s':>11} {'target':>7}"
        f" {'µs left for GovID at the target':>32}"
    )
    for label, floor, target in (
        (f"S3 sign-in (argon2id, RS256+ES256, 3 HTTP, {SQL_ROUND_TRIPS} SQL)", s3, S3_TARGET),
        ("S2 token, ES256 access token, 1 HTTP", s2_es, S2_TARGET),
        ("S2 token, RS256 access token, 1 HTTP", s2_rs, S2_TARGET),
    ):
        left = 1e6 / target - floor
        print(f"{label:<44} {floor:>9,.0f} {1e6 / floor:>11,.1f} {target:>7,} {left:>32,.0f}")


if __name__ == "__main__":
    main()
