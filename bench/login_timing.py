"""Sign-in timing: unknown email vs. known email with a wrong password (issue 6).

    .venv/bin/python bench/login_timing.py [--tries 250] [--db postgresql|sqlite]

Starts `idp serve` (one worker pinned to CPU 0, production argon2id m=19 MiB t=2 p=1) on a
database of its own, seeds accounts through the CLI, then from CPU 1 times only the
POST /login of each attempt, alternating known and unknown emails so drift hits both
equally. Throttling is raised out of the way (each email is tried once) so that every
attempt does the real work. Prints medians, p90 and the relative difference.
"""

from __future__ import annotations

import argparse
import os
import re
import secrets
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psycopg

IDP = str(Path(sys.executable).parent / "idp")
PASSWORD = "a long and unguessable benchmark passphrase"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cli(env, *args, stdin=None):
    r = subprocess.run([IDP, *args], env=env, input=stdin, capture_output=True, text=True)
    if r.returncode:
        raise SystemExit(f"idp {' '.join(args)} failed: {r.stderr or r.stdout}")
    return r.stdout


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--tries", type=int, default=250)
    ap.add_argument("--db", choices=["postgresql", "sqlite"], default="postgresql")
    args = ap.parse_args()
    if os.sched_getaffinity(0) != {0, 1} and len(os.sched_getaffinity(0)) < 2:
        print("note: fewer than 2 CPUs available; figures are not per core")
    tmp = tempfile.mkdtemp(prefix="govid-timing-")
    dbname = f"govid_timing_{secrets.token_hex(4)}"
    if args.db == "postgresql":
        with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as c:
            c.execute(f'CREATE DATABASE "{dbname}"')
        url = f"postgresql://postgres@127.0.0.1/{dbname}"
    else:
        url = f"sqlite:///{tmp}/idp.db"
    port = free_port()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("IDP_")},
        "IDP_DATABASE_URL": url,
        "IDP_ISSUER": f"http://127.0.0.1:{port}",
        "IDP_PORT": str(port),
        "IDP_LOGIN_DELAY_AFTER_FAILURES": "100000",
        "IDP_LOGIN_LOCKOUT_THRESHOLD": "100",
        "IDP_IP_FAILURE_THRESHOLD": "1000000",
        "IDP_PASSKEY_OFFER": "false",  # the offer page is not part of the sign-in timed
    }
    server = None
    try:
        cli(env, "db", "upgrade")
        cli(
            env,
            "agencies",
            "create",
            "--code",
            "bench",
            "--name-th",
            "ทดสอบ",
            "--name-en",
            "Bench",
            "--domain",
            "bench.go.th",
        )
        cli(
            env,
            "clients",
            "create",
            "--agency",
            "bench",
            "--name-en",
            "Bench",
            "--client-id",
            "bench-rp",
            "--redirect-uri",
            "https://rp.bench.go.th/cb",
            "--first-party",
            "--json",
        )
        known = [f"user{i}@bench.go.th" for i in range(args.tries)]
        for email in known:
            cli(
                env,
                "accounts",
                "create",
                "--email",
                email,
                "--agency",
                "bench",
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
        server = subprocess.Popen(
            ["taskset", "-c", "0", IDP, "serve"],
            env=env,
            stdout=open(f"{tmp}/serve.log", "w"),  # noqa: SIM115 - lives as long as the server
            stderr=subprocess.STDOUT,
        )
        os.sched_setaffinity(0, {1})
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        auth = (
            f"{base}/authorize?response_type=code&client_id=bench-rp&scope=openid"
            "&redirect_uri=https%3A%2F%2Frp.bench.go.th%2Fcb&state=s"
            "&code_challenge=" + "A" * 43 + "&code_challenge_method=S256"
        )

        def attempt(email: str) -> float:
            with httpx.Client(base_url=base, follow_redirects=True, timeout=30) as c:
                page = c.get(auth)
                fields = dict(re.findall(r'name="([^"]+)" value="([^"]*)"', page.text))
                data = {
                    "csrf_token": fields["csrf_token"],
                    "i": fields["i"],
                    "email": email,
                    "password": "definitely not the password",
                }
                t0 = time.perf_counter()
                r = c.post("/login", data=data, follow_redirects=False)
                dt = time.perf_counter() - t0
                assert r.status_code == 401, r.status_code
                return dt

        for w in range(5):  # warm up
            attempt(f"warm{w}@nowhere.go.th")
        times: dict[str, list[float]] = {"known": [], "unknown": []}
        for i in range(args.tries):
            times["known"].append(attempt(known[i]))
            times["unknown"].append(attempt(f"nobody{i}-{secrets.token_hex(3)}@bench.go.th"))
        print(
            f"login timing, {args.tries} tries each, {args.db}, argon2id "
            "m=19456 KiB t=2 p=1, server pinned to CPU 0, client on CPU 1"
        )
        med = {}
        for kind, vals in times.items():
            vals.sort()
            med[kind] = statistics.median(vals)
            print(
                f"  {kind:8s} median {med[kind] * 1000:7.2f} ms   p90 "
                f"{vals[int(len(vals) * 0.9)] * 1000:7.2f} ms"
            )
        diff = abs(med["known"] - med["unknown"]) / med["known"] * 100
        print(f"  difference of medians: {diff:.2f} % (target < 5 %)")
    finally:
        if server:
            server.terminate()
            server.wait(10)
        if args.db == "postgresql":
            with psycopg.connect("postgresql://postgres@127.0.0.1/postgres", autocommit=True) as c:
                c.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')


if __name__ == "__main__":
    main()
