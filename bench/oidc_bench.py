"""OIDC benchmarks (DESIGN §10, issue 22): S1 discovery + JWKS, S2 client_credentials,
S3 full authorization-code sign-in with PKCE (password), S4 refresh with rotation, S5
userinfo and introspection, against `idp serve` on PostgreSQL and against
node-oidc-provider 9 (bench/node_side.py) in the same run, then S6, a mixed soak against
GovID (bench/soak.py); printed as one table with ratios (bench/summary.py).

    .venv/bin/python bench/oidc_bench.py [--runs 3] [--duration 15] [--warmup 3]
        [--connections 64] [--s3-concurrency 4] [--s4-chains 16]
        [--only S1,S2,S2ES,S3,S3L2,S4,S5,S6] [--govid-only] [--s6-duration 600]
        [--scale-out 1,2,4] [--profile DIR] [--json FILE]

(`make bench` runs it; `make bench-scale-out` with --scale-out, bench/scaleout.py.) What
it does, and stops again, by itself:

* creates its own database on the local PostgreSQL (127.0.0.1:5432, user postgres),
  migrates it with `idp db upgrade`, seeds an agency, accounts and two clients through
  the CLI (`idp agencies create`, `idp accounts create --password-stdin`,
  `idp clients create --json`), and drops it at the end;
* runs `idp serve` with ONE uvicorn worker (--workers) pinned to CPU 0 (`taskset -c 0`)
  with the production argon2id parameters (idp/config/__init__.py: m=19 MiB, t=2, p=1);
* drives it from CPU 1: `wrk` (one thread) for S1/S2/S5, an asyncio/httpx client for S3
  (a fresh cookie jar per sign-in), raw keep-alive connections for S4 and S6;
* S1 and S3 run against the default configuration; S2 runs with
  IDP_ACCESS_TOKEN_ALG=RS256 and =ES256 (a server each), S4/S5 with ES256;
* starts node-oidc-provider (bench/node-oidc-provider: in-memory adapter, one process,
  pinned to CPU 0, JWT access tokens, an argon2id sign-in) for its side of S1-S5;
* repeats S1-S5 --runs times, GovID first in odd runs and node-oidc-provider first in
  even ones, and reports each scenario's median run (per core) with the range.

"rps" is what one pinned server core achieved; the CPU columns say how busy the server,
PostgreSQL (its backends for the bench database are moved to CPU 1 when a measurement
starts, so only the server runs on CPU 0) and the load generator were meanwhile.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import concurrent.futures
import contextlib
import dataclasses
import hashlib
import json
import math
import os
import re
import resource
import secrets
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg

REPO = Path(__file__).resolve().parents[1]
BENCH = Path(__file__).resolve().parent
IDP = str(Path(sys.executable).parent / "idp")
WRK_SCRIPT = BENCH / "wrk" / "http.lua"
NODE_OP = BENCH / "node-oidc-provider"
PG_ADMIN_DSN = os.environ.get("GOVID_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
SERVER_CPU, LOAD_CPU = 0, 1
PASSWORD = "bench: correct horse battery staple"
REDIRECT = "http://127.0.0.1:9/bench/callback"  # never contacted: the flow stops there
DISCOVERY = "/.well-known/openid-configuration"
CLK_TCK = os.sysconf("SC_CLK_TCK")


T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[bench {time.monotonic() - T0:6.1f}s] {msg}", file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def pinned(cpu: int, argv: list[str]) -> list[str]:
    return ["taskset", "-c", str(cpu), *argv] if shutil.which("taskset") else argv


# --------------------------------------------------------------------------- CPU meter


def _proc_ticks(pid: int) -> tuple[str, int, int]:
    """(comm, ppid, utime+stime ticks) from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        raw = f.read()
    comm = raw[raw.index("(") + 1 : raw.rindex(")")]
    fields = raw[raw.rindex(")") + 2 :].split()
    return comm, int(fields[1]), int(fields[11]) + int(fields[12])


def _all_procs() -> dict[int, tuple[str, int, int]]:
    out = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError, ValueError, IndexError):
                out[int(entry)] = _proc_ticks(int(entry))
    return out


def _cpu_busy() -> dict[int, tuple[int, int]]:
    """Per CPU: (busy ticks, all ticks) from /proc/stat."""
    out = {}
    with open("/proc/stat") as f:
        for line in f:
            name, *ticks = line.split()
            if name.startswith("cpu") and name != "cpu":
                t = [int(x) for x in ticks]
                idle = t[3] + t[4]  # idle + iowait
                out[int(name[3:])] = (sum(t[:8]) - idle, sum(t[:8]))
    return out


def _pg_backends(db_name: str) -> set[int]:
    """PostgreSQL backends serving ``db_name`` (their process title names the database)."""
    out = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    title = f.read().decode(errors="replace")
                if title.startswith("postgres:") and f" {db_name} " in title:
                    out.add(int(entry))
    return out


class CpuMeter:
    """Between start() and stop(), as % of one core: CPU used by the server's process
    tree, by the PostgreSQL backends of the bench database, by the load generator (this
    process, or the children it waited for, e.g. wrk), and how busy CPU 0 and CPU 1 were
    in total (so that other work on the machine shows). Read from /proc only."""

    def __init__(self, server_pid: int, load: str = "self", db_name: str | None = None):
        self.server_pid = server_pid
        self.load = load  # "self" (S3, in this process) or "children" (wrk)
        self.db_name = db_name

    def _load_seconds(self) -> float:
        who = resource.RUSAGE_CHILDREN if self.load == "children" else resource.RUSAGE_SELF
        r = resource.getrusage(who)
        return r.ru_utime + r.ru_stime

    def _sample(self) -> dict[str, Any]:
        procs = _all_procs()
        tree, frontier = {self.server_pid}, [self.server_pid]
        while frontier:
            parent = frontier.pop()
            kids = [p for p, (_, ppid, _) in procs.items() if ppid == parent and p not in tree]
            tree.update(kids)
            frontier.extend(kids)
        pg = _pg_backends(self.db_name) if self.db_name else set()
        return {
            "server": {p: procs[p][2] for p in tree if p in procs},
            "postgres": {p: procs[p][2] for p in pg if p in procs},
            "load": self._load_seconds(),
            "cores": _cpu_busy(),
        }

    def start(self) -> None:
        self.t0, self.s0 = time.monotonic(), self._sample()
        # The bench database's backends (opened during the warm-up) share the load
        # generator's core, so nothing but the server runs on SERVER_CPU.
        for pid in self.s0["postgres"]:
            with contextlib.suppress(OSError):
                os.sched_setaffinity(pid, {LOAD_CPU})

    def stop(self) -> dict[str, float]:
        s1, dt = self._sample(), time.monotonic() - self.t0
        out = {}
        for k in ("server", "postgres"):
            ticks = sum(t - self.s0[k].get(p, 0) for p, t in s1[k].items())
            out[k] = round(100 * ticks / CLK_TCK / dt, 1)
        out["load"] = round(100 * (s1["load"] - self.s0["load"]) / dt, 1)
        for cpu in (SERVER_CPU, LOAD_CPU):
            if cpu in s1["cores"] and cpu in self.s0["cores"]:
                busy = s1["cores"][cpu][0] - self.s0["cores"][cpu][0]
                total = s1["cores"][cpu][1] - self.s0["cores"][cpu][1]
                out[f"cpu{cpu}_busy"] = round(100 * busy / max(total, 1), 1)
        return out


# --------------------------------------------------------------------------- processes


class Server:
    """A server subprocess pinned to SERVER_CPU, its output in a log file."""

    def __init__(self, name: str, argv: list[str], env: dict[str, str], cwd: Path | None = None):
        self.name = name
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in stop()
            "w+", prefix=f"bench-{name}-", suffix=".log", delete=False
        )
        self.proc = subprocess.Popen(
            pinned(SERVER_CPU, argv),
            env=env,
            cwd=cwd,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            # Ctrl-C reaches only this script, which then stops the server itself.
            start_new_session=True,
        )

    @property
    def pid(self) -> int:
        return self.proc.pid

    def wait_ready(self, url: str, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited early:\n{self.tail()}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(url, timeout=2.0).status_code == 200:
                    return
            if time.monotonic() > deadline:
                raise RuntimeError(f"{self.name} not ready after {timeout}s:\n{self.tail()}")
            time.sleep(0.2)

    def tail(self, n: int = 3000) -> str:
        self.log.flush()
        return Path(self.log.name).read_text(errors="replace")[-n:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)


@contextlib.contextmanager
def running(server: Server, ready_url: str) -> Iterator[Server]:
    try:
        server.wait_ready(ready_url)
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- database


class BenchDatabase:
    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.name = f"govid_bench_{os.getpid()}_{secrets.token_hex(3)}"
        self.url = f"{admin_dsn.rsplit('/', 1)[0]}/{self.name}"

    def __enter__(self) -> BenchDatabase:
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
            self.pg_version = conn.execute("SHOW server_version").fetchone()[0]
        return self

    def __exit__(self, *exc) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        log(f"dropped database {self.name}")

    def password_hash_prefix(self, email: str) -> str:
        with psycopg.connect(self.url) as conn:
            row = conn.execute("SELECT password_hash FROM account WHERE email = %s", (email,))
            value = row.fetchone()[0]
        return value.rsplit("$", 2)[0]  # $argon2id$v=19$m=...,t=...,p=... (no salt/hash)


def idp_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> dict[str, Any]:
    r = subprocess.run(
        [IDP, *args, "--json"], env=env, input=stdin, capture_output=True, text=True, timeout=300
    )
    if r.returncode != 0:
        raise RuntimeError(f"idp {' '.join(args)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return json.loads(r.stdout.strip().splitlines()[-1])


@dataclasses.dataclass
class Seeded:
    emails: list[str]
    web: dict[str, str]  # client_id, client_secret (authorization code, first party)
    machine: dict[str, str]  # client_id, client_secret (client_credentials)
    machine_scope: str


def seed(env: dict[str, str], accounts: int) -> Seeded:
    u = secrets.token_hex(3)
    code, domain = f"bench-{u}", f"bench-{u}.go.th"
    agency = ["--code", code, "--name-th", "หน่วยงานทดสอบสมรรถนะ", "--name-en", "Benchmark"]
    idp_cli(env, "agencies", "create", *agency, "--domain", domain)
    emails = [f"user{n}@{domain}" for n in range(accounts)]

    def account(n: int) -> None:
        names = ["--given-name-en", f"User{n}", "--family-name-en", "Bench"]
        account = ["--email", emails[n], "--agency", code, *names, "--password-stdin"]
        idp_cli(env, "accounts", "create", *account, stdin=PASSWORD + "\n")

    web = ["--agency", code, "--name-en", "Bench web app", "--redirect-uri", REDIRECT]
    scope = "admin:accounts"
    machine = ["--agency", code, "--name-en", "Bench machine", "--scope", scope]
    # The CLI's start-up is most of each call: a few at once.
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        web_client = pool.submit(idp_cli, env, "clients", "create", *web, "--first-party")
        machine_client = pool.submit(
            idp_cli, env, "clients", "create", *machine, "--grant-type", "client_credentials"
        )
        for done in [pool.submit(account, n) for n in range(accounts)]:
            done.result()
        return Seeded(emails, web_client.result(), machine_client.result(), scope)


# --------------------------------------------------------------------------- wrk (S1, S2)


def basic_auth(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def run_wrk(
    base: str, env: dict[str, str], duration: float, connections: int, meter: CpuMeter | None
) -> dict[str, Any]:
    argv = pinned(
        LOAD_CPU,
        [
            "wrk",
            "-t1",
            f"-c{connections}",
            f"-d{max(1, round(duration))}s",
            "--timeout",
            "10s",
            "-s",
            str(WRK_SCRIPT),
            base,
        ],
    )
    if meter:
        meter.start()
    proc = subprocess.Popen(
        argv, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        out, err = proc.communicate(timeout=duration + 60)
    finally:
        if proc.poll() is None:  # interrupted: do not leave wrk running
            proc.kill()
            proc.wait()
    cpu = meter.stop() if meter else {}
    lines = [ln for ln in out.splitlines() if ln.startswith("BENCH_JSON ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"wrk failed ({proc.returncode}): {out[-2000:]}{err[-2000:]}")
    r = json.loads(lines[-1].removeprefix("BENCH_JSON "))
    seconds = r["duration_us"] / 1e6
    errors = r["connect"] + r["read"] + r["write"] + r["status"] + r["timeout"]
    return {
        "rps": r["requests"] / seconds,
        "requests": r["requests"],
        "seconds": seconds,
        "p50_ms": r["p50_us"] / 1000,
        "p99_ms": r["p99_us"] / 1000,
        "errors": errors,
        "cpu": cpu,
    }


def wrk_scenario(
    args,
    base: str,
    env: dict[str, str],
    server_pid: int,
    profile: str | None = None,
    db_name: str | None = None,
) -> dict[str, Any]:
    if args.warmup:
        run_wrk(base, env, args.warmup, args.connections, None)
    spy = start_profile(args, server_pid, profile)
    try:
        meter = CpuMeter(server_pid, load="children", db_name=db_name)
        return run_wrk(base, env, args.duration, args.connections, meter)
    finally:
        finish_profile(spy, profile, args)


def s1_env(paths: str = f"{DISCOVERY},/jwks") -> dict[str, str]:
    return {"BENCH_MODE": "get", "BENCH_PATHS": paths}


def s1_scenarios(
    args, base: str, pid: int, side: str, db_name: str | None = None
) -> dict[str, dict[str, Any]]:
    """S1 as issue 22 lists it: discovery and JWKS, each a wrk run of its own (both
    providers publish the key set at /jwks)."""
    check_s1(base)
    out = {}
    for key, path in (("S1D", DISCOVERY), ("S1J", "/jwks")):
        log(f"S1 {side}: {path}")
        profile = key if side == "GovID" else None
        out[f"{key} {side}"] = wrk_scenario(args, base, s1_env(path), pid, profile, db_name)
    return out


def s2_env(client_id: str, secret: str, scope: str) -> dict[str, str]:
    return {
        "BENCH_MODE": "post",
        "BENCH_PATH": "/token",
        "BENCH_BODY": f"grant_type=client_credentials&scope={scope}",
        "BENCH_AUTH": basic_auth(client_id, secret),
    }


def check_s1(base: str) -> None:
    meta = httpx.get(base + DISCOVERY).raise_for_status().json()
    keys = httpx.get(meta["jwks_uri"]).raise_for_status().json()["keys"]
    assert meta["issuer"] == base and keys, (meta, keys)


def check_s2(base: str, client_id: str, secret: str, scope: str, alg: str) -> None:
    r = httpx.post(
        f"{base}/token",
        data={"grant_type": "client_credentials", "scope": scope},
        auth=(client_id, secret),
    )
    assert r.status_code == 200, r.text
    token = r.json()["access_token"]
    header = json.loads(base64.urlsafe_b64decode(token.split(".")[0] + "=="))
    assert header["alg"] == alg, header


# --------------------------------------------------------------------------- S3 (logins)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    digest = hashlib.sha256(verifier.encode()).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode().rstrip("=")


HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)"')


LEVEL2 = "urn:govid:acr:2"


class TotpPool:
    """Accounts with an authenticator app, and the next unused TOTP code of each: a code
    (time step) is accepted once, within ±1 step, so every account can sign in at level 2
    at most twice per 30 s; the pool must be large enough for the login rate."""

    def __init__(self, secrets_by_email: dict[str, str]) -> None:
        import pyotp

        self.emails = list(secrets_by_email)
        self._totp = {e: pyotp.TOTP(s) for e, s in secrets_by_email.items()}
        self._last: dict[str, int] = {}

    async def code(self, email: str) -> str:
        while True:
            now = int(time.time()) // 30
            step = max(now, self._last.get(email, -1) + 1)
            if step <= now + 1:
                self._last[email] = step
                return self._totp[email].at(step * 30)
            await asyncio.sleep(0.5)  # this account has used its window: wait a little


def enrol_totp(db_url: str, seeded: Seeded, count: int) -> TotpPool:
    """More accounts, each with a confirmed authenticator app (through the services, with
    the server's own settings, so the data key that encrypts the secrets is the same)."""
    sys.path.insert(0, str(REPO))
    from idp.accounts import service as accounts
    from idp.config import Settings
    from idp.credentials import mfa
    from idp.services import Services

    services = Services(
        Settings(
            env="test", database_url=db_url, secret_key=BENCH_SECRET_KEY, data_key=BENCH_DATA_KEY
        )
    )
    domain = seeded.emails[0].split("@")[1]
    code = domain.split(".")[0]
    out: dict[str, str] = {}
    shared_hash = services.hasher.hash(PASSWORD)  # one argon2id hash for all: seeding speed
    try:
        for n in range(count):
            with services.sessions.begin() as db:
                acc = accounts.create(
                    db,
                    accounts.NewAccount(email=f"l2user{n}@{domain}", agency_code=code),
                    hasher=services.hasher,
                    cipher=services.cipher,
                    actor="bench",
                )
                acc.password_hash = shared_hash
                cred, uri, _svg = mfa.start_totp(db, services.cipher, acc, issuer_name="GovID")
                secret = uri.split("secret=")[1].split("&")[0]
                import pyotp

                step = int(time.time()) // 30 - 1  # leave the current step for the bench
                assert mfa.confirm_totp(
                    db, services.cipher, acc, cred.id, pyotp.TOTP(secret).at(step * 30)
                )
                out[acc.email] = secret
    finally:
        services.close()
    return TotpPool(out)


class LoginFailed(Exception):
    pass


def _expect(r: httpx.Response, status: tuple[int, ...], what: str) -> None:
    if r.status_code not in status:
        raise LoginFailed(f"{what}: HTTP {r.status_code} {r.text[:200]!r}")


async def one_login(
    transport: httpx.AsyncHTTPTransport,
    base: str,
    email: str,
    seeded: Seeded,
    totp: TotpPool | None = None,
    tokens_out: dict[str, Any] | None = None,
) -> dict[str, float]:
    """GET /authorize (the sign-in page) → POST /login (→ GET /authorize/resume when the
    sign-in page sends the browser there) → code → POST /token, with a new cookie jar (a
    new browser). Returns per-step seconds."""
    sent = 0

    async def count(_request: httpx.Request) -> None:
        nonlocal sent
        sent += 1

    browser = httpx.AsyncClient(
        transport=transport, base_url=base, timeout=60, event_hooks={"request": [count]}
    )
    web = seeded.web
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(12), secrets.token_urlsafe(12)
    steps: dict[str, float] = {}
    t = time.perf_counter()

    def lap(name: str) -> None:
        nonlocal t
        now = time.perf_counter()
        steps[name] = now - t
        t = now

    r = await browser.get(
        "/authorize",
        params={
            "response_type": "code",
            "client_id": web["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid profile email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            **({"acr_values": LEVEL2} if totp else {}),
        },
    )
    # GovID answers with the sign-in page itself; an older one redirected to /login.
    if r.status_code in (302, 303):
        r = await browser.get(r.headers["location"])
    _expect(r, (200,), "login form")
    fields = dict(HIDDEN.findall(r.text))
    lap("sign_in_page")
    r = await browser.post(
        "/login",
        data={
            "csrf_token": fields.get("csrf_token", ""),
            "i": fields.get("i", ""),
            "email": email,
            "password": PASSWORD,
        },
    )
    _expect(r, (303,), "login")
    lap("login_post")
    # GovID answers the sign-in POST with the redirect to the client when nothing else is
    # needed; otherwise with the next page (second factor) or /authorize/resume.
    if r.headers["location"].startswith("/authorize/resume"):
        r = await browser.get(r.headers["location"])
        _expect(r, (302, 303), "resume")
    if totp is not None:  # level 2: the second factor page, then back to the client
        if not r.headers["location"].startswith("/mfa"):
            raise LoginFailed(f"expected the second factor page, went to {r.headers['location']}")
        r = await browser.get(r.headers["location"])
        _expect(r, (200,), "mfa form")
        fields = dict(HIDDEN.findall(r.text))
        code = await totp.code(email)
        r = await browser.post(
            "/mfa",
            data={
                "csrf_token": fields.get("csrf_token", ""),
                "i": fields.get("i", ""),
                "code": code,
            },
        )
        _expect(r, (303,), "mfa")
        if r.headers["location"].startswith("/authorize/resume"):
            r = await browser.get(r.headers["location"])
            _expect(r, (302, 303), "resume after mfa")
        lap("mfa")
    location = r.headers["location"]
    if not location.startswith(REDIRECT):
        raise LoginFailed(f"resume went to {location}")
    params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    if params.get("state") != state or "code" not in params:
        raise LoginFailed(f"bad callback {params}")
    lap("resume")
    r = await browser.post(
        "/token",
        data={
            "grant_type": "authorization_code",
            "code": params["code"],
            "redirect_uri": REDIRECT,
            "code_verifier": verifier,
        },
        auth=(web["client_id"], web["client_secret"]),
    )
    _expect(r, (200,), "token")
    if "id_token" not in r.json():
        raise LoginFailed("no id_token")
    if tokens_out is not None:  # S4/S5: the tokens of this sign-in
        tokens_out.update(r.json())
    lap("token")
    steps["_http_requests"] = sent
    return steps


async def s3_run(
    base: str,
    seeded: Seeded,
    concurrency: int,
    duration: float,
    totp: TotpPool | None = None,
    login: Any = None,
) -> tuple[list[float], list[dict[str, float]], Counter]:
    """``login(transport, base, email)``: another provider's sign-in (node-oidc-provider,
    bench/node_side.py) for accounts ``login.emails``; GovID's ``one_login`` otherwise."""
    limits = httpx.Limits(max_connections=concurrency * 2, max_keepalive_connections=concurrency)
    transport = httpx.AsyncHTTPTransport(limits=limits)
    totals: list[float] = []
    steps: list[dict[str, float]] = []
    errors: Counter = Counter()
    deadline = time.monotonic() + duration

    async def user(n: int) -> None:
        i = n
        while time.monotonic() < deadline:
            emails = login.emails if login else totp.emails if totp else seeded.emails
            email = emails[i % len(emails)]
            i += concurrency
            t0 = time.perf_counter()
            try:
                if login is not None:
                    s = await login(transport, base, email)
                else:
                    s = await one_login(transport, base, email, seeded, totp)
            except (LoginFailed, httpx.HTTPError) as exc:
                errors[type(exc).__name__ + ": " + str(exc)[:120]] += 1
                continue
            totals.append(time.perf_counter() - t0)
            steps.append(s)

    try:
        await asyncio.gather(*(user(n) for n in range(concurrency)))
    finally:
        await transport.aclose()
    return totals, steps, errors


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, math.ceil(p / 100 * len(ordered)) - 1))  # nearest rank
    return ordered[k]


def s3_scenario(
    args,
    base: str,
    seeded: Seeded | None,
    server_pid: int,
    db_name: str | None,
    totp: TotpPool | None = None,
    login: Any = None,
) -> dict[str, Any]:
    profile = None if login else "S3"
    if args.warmup:
        asyncio.run(s3_run(base, seeded, args.s3_concurrency, args.warmup, totp, login))
    spy = start_profile(args, server_pid, profile)
    meter = CpuMeter(server_pid, db_name=db_name)
    meter.start()
    t0 = time.monotonic()
    try:
        totals, steps, errors = asyncio.run(
            s3_run(base, seeded, args.s3_concurrency, args.duration, totp, login)
        )
    finally:
        finish_profile(spy, profile, args)
    seconds = time.monotonic() - t0
    cpu = meter.stop()
    step_p50 = {
        name: round(1000 * statistics.median(s[name] for s in steps), 1)
        for name in (steps[0] if steps else {})
        if not name.startswith("_")
    }
    if errors:
        log(f"S3 errors: {dict(errors.most_common(5))}")
    return {
        "rps": len(totals) / seconds,
        "requests": len(totals),
        "seconds": seconds,
        "p50_ms": 1000 * percentile(totals, 50),
        "p99_ms": 1000 * percentile(totals, 99),
        "errors": sum(errors.values()),
        "cpu": cpu,
        "step_p50_ms": step_p50,
        "http_rps": sum(s["_http_requests"] for s in steps) / seconds,
    }


# --------------------------------------------------------------------------- S4, S5


class RawHttp:
    """One keep-alive HTTP/1.1 connection, requests written by hand: the S4 load
    generator must not cost more than the servers it drives (httpx took ~0.5 ms of CPU
    per request, as much as a node-oidc-provider refresh)."""

    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        head += f"Content-Length: {len(body)}\r\n\r\n"
        self.writer.write(head.encode() + body)
        reader = self.reader
        status = int((await reader.readline()).split()[1])
        length, chunked, close = 0, False, False
        while True:
            line = await reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name, value = name.strip().lower(), value.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding":
                chunked = "chunked" in value
            elif name == "connection":
                close = "close" in value
        if chunked:
            data = b""
            while True:
                size = int((await reader.readline()).split(b";")[0], 16)
                chunk = await reader.readexactly(size + 2)
                if size == 0:
                    break
                data += chunk[:-2]
        else:
            data = await reader.readexactly(length)
        if close:
            await self.aclose()
        return status, data

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
        self.reader = self.writer = None


async def s4_run(
    base: str, auth: str, chains: list[str], duration: float
) -> tuple[list[float], Counter, list[str]]:
    """Each chain refreshes its token, takes the new one from the answer and refreshes
    again, on its own connection, until ``duration`` is over. A refused refresh ends its
    chain (its token is gone) and counts as an error. Returns the latencies, the errors
    and the live tokens (for the next run)."""
    latencies: list[float] = []
    errors: Counter = Counter()
    deadline = time.monotonic() + duration
    live: list[str] = []
    headers = {"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"}

    async def chain(token: str) -> None:
        conn = RawHttp(base)
        try:
            while time.monotonic() < deadline:
                body = f"grant_type=refresh_token&refresh_token={token}".encode()
                t0 = time.perf_counter()
                status, data = await conn.request("POST", "/token", headers, body)
                latencies.append(time.perf_counter() - t0)
                if status != 200:
                    errors[f"HTTP {status}: {data[:120]!r}"] += 1
                    return
                token = json.loads(data)["refresh_token"]
            live.append(token)
        except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
            errors[f"{type(exc).__name__}: {exc}"[:120]] += 1
        finally:
            await conn.aclose()

    await asyncio.gather(*(chain(t) for t in chains))
    return latencies, errors, live


class LockWaits:
    """Samples ``pg_stat_activity`` of the bench database every 10 ms from a thread:
    how many backends were, on average, waiting for a lock, and for an advisory lock
    (the audit chain's) in particular, and how many were in a transaction."""

    QUERY = (
        "SELECT count(*) FILTER (WHERE wait_event_type = 'Lock'),"
        " count(*) FILTER (WHERE wait_event_type = 'Lock' AND wait_event = 'advisory'),"
        " count(*) FILTER (WHERE state LIKE 'idle in transaction%%' OR state = 'active')"
        " FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()"
    )

    def __init__(self, db_url: str, db_name: str) -> None:
        self.db_url, self.db_name = db_url, db_name
        self.samples: list[tuple[int, int, int]] = []
        self._stop = False

    def __enter__(self) -> LockWaits:
        import threading

        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def _run(self) -> None:
        with psycopg.connect(self.db_url, autocommit=True) as conn:
            while not self._stop:
                self.samples.append(conn.execute(self.QUERY, (self.db_name,)).fetchone())
                time.sleep(0.01)

    def __exit__(self, *exc) -> None:
        self._stop = True
        self._thread.join(5)

    def summary(self) -> dict[str, float]:
        n = max(len(self.samples), 1)
        return {
            "lock_waiters": round(sum(s[0] for s in self.samples) / n, 2),
            "advisory_waiters": round(sum(s[1] for s in self.samples) / n, 2),
            "busy_backends": round(sum(s[2] for s in self.samples) / n, 2),
        }


def s4_scenario(
    args,
    base: str,
    auth: str,
    chains: list[str],
    server_pid: int,
    db_name: str | None = None,
    profile: str | None = None,
    db_url: str | None = None,
) -> dict[str, Any]:
    if args.warmup:
        _, errors, chains = asyncio.run(s4_run(base, auth, chains, args.warmup))
        if errors:
            log(f"S4 warm-up errors: {dict(errors.most_common(3))}")
    spy = start_profile(args, server_pid, profile)
    waits = LockWaits(db_url, db_name) if db_url and db_name else contextlib.nullcontext()
    meter = CpuMeter(server_pid, db_name=db_name)
    meter.start()
    t0 = time.monotonic()
    try:
        with waits:
            latencies, errors, _ = asyncio.run(s4_run(base, auth, chains, args.duration))
    finally:
        finish_profile(spy, profile, args)
    seconds = time.monotonic() - t0
    cpu = meter.stop()
    if errors:
        log(f"S4 errors: {dict(errors.most_common(3))}")
    return {
        "rps": len(latencies) / seconds,
        "requests": len(latencies),
        "seconds": seconds,
        "p50_ms": 1000 * percentile(latencies, 50),
        "p99_ms": 1000 * percentile(latencies, 99),
        "errors": sum(errors.values()),
        "cpu": cpu,
        **(waits.summary() if isinstance(waits, LockWaits) else {}),
    }


def s5_userinfo_env(access_token: str, path: str) -> dict[str, str]:
    return {"BENCH_MODE": "get", "BENCH_PATHS": path, "BENCH_AUTH": f"Bearer {access_token}"}


def s5_introspect_env(path: str, auth: str, token: str) -> dict[str, str]:
    return {
        "BENCH_MODE": "post",
        "BENCH_PATH": path,
        "BENCH_BODY": f"token={token}&token_type_hint=access_token",
        "BENCH_AUTH": auth,
    }


def govid_tokens(base: str, seeded: Seeded, n: int) -> list[dict[str, Any]]:
    """The token responses of ``n`` sign-ins (one per account, in turn)."""

    async def run() -> list[dict[str, Any]]:
        transport = httpx.AsyncHTTPTransport()
        out = []
        try:
            for i in range(n):
                got: dict[str, Any] = {}
                email = seeded.emails[i % len(seeded.emails)]
                await one_login(transport, base, email, seeded, tokens_out=got)
                out.append(got)
        finally:
            await transport.aclose()
        return out

    return asyncio.run(run())


def check_s5(base: str, userinfo: str, introspect: str, auth: str, at: str) -> None:
    r = httpx.get(base + userinfo, headers={"Authorization": f"Bearer {at}"})
    assert r.status_code == 200 and r.json().get("sub"), r.text
    r = httpx.post(
        base + introspect,
        content=f"token={at}&token_type_hint=access_token",
        headers={"Authorization": auth, "Content-Type": "application/x-www-form-urlencoded"},
    )
    assert r.status_code == 200 and r.json().get("active") is True, r.text


def s45_govid(args, only: set[str], db, seeded: Seeded, results: dict[str, Any]) -> None:
    """S4 and S5 against one GovID server (rate limits on, budgets beyond reach)."""
    server, base = start_govid(db.url, IDP_ACCESS_TOKEN_ALG="ES256", **RATE_LIMITS_S45)
    with running(server, f"{base}/readyz"):
        s45_on(args, only, db, seeded, results, server, base)


def s45_on(args, only, db, seeded: Seeded, results: dict[str, Any], server, base: str) -> None:
    """S4 and S5 against a running GovID server."""
    web = seeded.web
    auth = basic_auth(web["client_id"], web["client_secret"])
    log(f"S4/S5 GovID: {args.s4_chains} sign-ins for the refresh chains")
    got = govid_tokens(base, seeded, max(args.s4_chains, 1))
    at = got[0]["access_token"]
    if "S5" in only:
        check_s5(base, "/userinfo", "/introspect", auth, at)
        log("S5 GovID: userinfo, one access token")
        results["S5U GovID"] = wrk_scenario(
            args, base, s5_userinfo_env(at, "/userinfo"), server.pid, "S5-userinfo", db.name
        )
        log("S5 GovID: introspection of that access token by its client")
        results["S5I GovID"] = wrk_scenario(
            args,
            base,
            s5_introspect_env("/introspect", auth, at),
            server.pid,
            "S5-introspect",
            db.name,
        )
    if "S4" in only:
        log(f"S4 GovID: refresh with rotation, {args.s4_chains} chains")
        chains = [g["refresh_token"] for g in got]
        results["S4 GovID"] = s4_scenario(
            args, base, auth, chains, server.pid, db.name, "S4", db_url=db.url
        )


# --------------------------------------------------------------------------- profiling


def start_profile(args, pid: int, name: str | None):
    if not args.profile or not name:
        return None
    spy = shutil.which("py-spy") or args.py_spy
    if not spy:
        log("--profile needs py-spy on PATH (pip install py-spy) or --py-spy PATH")
        return None
    out = Path(args.profile) / f"{name}.collapsed"
    out.parent.mkdir(parents=True, exist_ok=True)
    argv = pinned(
        LOAD_CPU,
        [
            spy,
            "record",
            "--pid",
            str(pid),
            "--format",
            "raw",
            "--output",
            str(out),
            "--duration",
            str(max(1, round(args.duration))),
            "--rate",
            "250",
            "--nonblocking",
            # Only the thread holding the GIL: where the server's Python CPU goes.
            # gil: the thread holding the GIL; cpu: every running thread (argon2 and
            # other C work that releases the GIL included); wall: idle threads too.
            *{"gil": ["--gil"], "cpu": [], "wall": ["--idle"]}[args.profile_mode],
        ],
    )
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def finish_profile(spy, name: str | None, args) -> None:
    if spy is None:
        return
    try:
        spy.wait(timeout=args.duration + 60)
    finally:
        if spy.poll() is None:
            spy.terminate()
            spy.wait()
    path = Path(args.profile) / f"{name}.collapsed"
    if path.exists():
        print(summarise_profile(path, name), flush=True)
    else:
        log(f"py-spy wrote nothing for {name}: {spy.stderr.read()[-500:] if spy.stderr else ''}")


def summarise_profile(path: Path, name: str, top: int = 20) -> str:
    """From py-spy's collapsed stacks ("frame;frame;frame count"): the share of samples
    under each function of idp/ (inclusive), and the leaf frames (self)."""
    incl: Counter = Counter()
    leaf: Counter = Counter()
    total = 0
    for line in path.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        frames = [_short(f) for f in stack.split(";")]
        n = int(count)
        total += n
        for f in set(frames):
            incl[f] += n
        leaf[frames[-1]] += n
    if not total:
        return f"--- profile {name}: no samples ({path}) ---"
    ours = [(f, n) for f, n in incl.most_common() if " (idp/" in f and "idp/cli/" not in f]
    ours = ours[:top]
    out = [f"--- profile {name}: {total} samples ({path}) ---", "inclusive, functions in idp/:"]
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in ours]
    out.append("self (leaf frames):")
    out += [f"  {100 * n / total:5.1f}%  {f}" for f, n in leaf.most_common(top)]
    return "\n".join(out)


def _short(frame: str) -> str:
    frame = re.sub(r" \(/\S*?/(site-packages|python3\.\d+)/", " (", frame)
    return frame.replace(f" ({REPO}/", " (")


# --------------------------------------------------------------------------- main


def default(setting: str) -> Any:
    from idp.config import Settings

    return Settings.model_fields[setting].default


def git_describe() -> str:
    r = subprocess.run(
        ["git", "-C", str(REPO), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
    )
    return r.stdout.strip() or "unknown"


def wrk_version() -> str:
    r = subprocess.run(["wrk", "-v"], capture_output=True, text=True)
    return " ".join((r.stdout + r.stderr).split()[:2])  # "wrk debian/4.1.0-3+b2"


def govid_env(db_url: str, port: int, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env.update(
        IDP_ENV="test",
        IDP_DATABASE_URL=db_url,
        IDP_ISSUER=f"http://127.0.0.1:{port}",
        IDP_HOST="127.0.0.1",
        IDP_PORT=str(port),
        IDP_SECRET_KEY=BENCH_SECRET_KEY,
        IDP_DATA_KEY=BENCH_DATA_KEY,
        # The "add a passkey" page after a password sign-in is a person's choice, not
        # part of the sign-in measured here (issue 19).
        IDP_PASSKEY_OFFER="false",
    )
    env.update(extra)
    return env


# uvicorn worker processes of every GovID server (--workers; all on SERVER_CPU): the
# scale-out check of issue 22 compares per-CPU-s figures of 1, 2 and 4.
GOVID_WORKERS = 1
BENCH_SECRET_KEY = secrets.token_urlsafe(48)
BENCH_DATA_KEY = base64.b64encode(secrets.token_bytes(32)).decode()


# IDP_REDIS_URL of every GovID server (--redis-url; --scale-out sets one).
REDIS_URL: str | None = None


def start_govid(db_url: str, *, no_chain: bool = False, **extra: str) -> tuple[Server, str]:
    port = free_port()
    env = govid_env(db_url, port, **({"IDP_REDIS_URL": REDIS_URL} if REDIS_URL else {}), **extra)
    argv = [IDP, "serve", "--workers", str(GOVID_WORKERS)]
    if no_chain:  # issue 8's comparison only: see bench/serve_without_audit_chain.py
        argv = [sys.executable, str(BENCH / "serve_without_audit_chain.py")]
    server = Server("govid", argv, env)
    return server, f"http://127.0.0.1:{port}"


def preflight(args) -> None:
    problems = []
    if args.run_wrk and not shutil.which("wrk"):
        problems.append("wrk not found (`make bench-tools` installs it: apt-get install -y wrk)")
    if args.run_node:
        if not shutil.which("node"):
            problems.append("node not found (Node.js >= 20.19)")
        elif not (NODE_OP / "node_modules" / "oidc-provider").exists():
            problems.append(f"run `npm ci --prefix {NODE_OP.relative_to(REPO)}` first")
    if problems:
        sys.exit("bench: " + "; ".join(problems))
    if (os.cpu_count() or 1) < 2 or not shutil.which("taskset"):
        log("WARNING: fewer than 2 CPUs or no taskset: server and load generator not pinned")


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


GOVID_SCENARIOS = {"S1", "S2", "S2ES", "S3", "S3L2", "S3NOCHAIN", "S4", "S5", "S6"}
NODE_SCENARIOS = {"S1", "S2", "S2ES", "S3", "S4", "S5"}


def main() -> int:
    args = parse_args()
    global GOVID_WORKERS, REDIS_URL
    GOVID_WORKERS, REDIS_URL = args.workers, args.redis_url
    only = {s.strip().upper() for s in args.only.split(",")} - {"NODE"}  # "node": the default
    args.run_wrk = bool(only & {"S1", "S2", "S2ES", "S5"}) or bool(args.scale_out)
    args.run_node = bool(only & NODE_SCENARIOS) and not args.govid_only and not args.scale_out
    preflight(args)
    # bench/soak.py, node_side.py, summary.py and scaleout.py import this module by name:
    # the same one, not a second copy with other keys and settings.
    sys.modules.setdefault("oidc_bench", sys.modules[__name__])
    import node_side
    import soak
    import summary

    # SIGTERM (e.g. from make or a CI timeout) unwinds like Ctrl-C: servers stop, DB drops.
    signal.signal(signal.SIGTERM, _interrupt)
    with contextlib.suppress(OSError, AttributeError):
        os.sched_setaffinity(0, {LOAD_CPU})  # this process is the S3 load generator

    runs: list[dict[str, dict[str, Any]]] = []
    info: dict[str, Any] = {}
    with contextlib.ExitStack() as stack:
        db = seeded = pool = None
        if only & GOVID_SCENARIOS or args.scale_out:
            db = stack.enter_context(BenchDatabase(PG_ADMIN_DSN))
            seeded, pool = govid_setup(args, only, db, info)
        if args.scale_out:
            import scaleout

            table = scaleout.run(args, db, seeded)
            print(table, flush=True)
            return 0 if "NOT" not in table.rsplit("\n", 1)[-1] else 1
        # Median of --runs runs, GovID and node-oidc-provider in alternating order
        # (issue 22): whichever the machine favours first or last, each side gets both.
        for n in range(args.runs):
            results: dict[str, dict[str, Any]] = {}
            govid = only & GOVID_SCENARIOS - (set() if args.one_server else {"S6"})
            sides = [("GovID", bool(govid))]
            sides.append(("node-oidc-provider", args.run_node))
            if n % 2:
                sides.reverse()
            for side, wanted in sides:
                if not wanted:
                    continue
                log(f"run {n + 1} of {args.runs}: {side}")
                if side == "GovID":
                    run_govid(args, only, db, seeded, pool, results)
                else:
                    node_side.run(args, only, info, results)
            runs.append(results)
        merged = summary.median(runs)
        if "S6" in only and not args.one_server:
            merged["S6 GovID"] = soak.scenario(args, db, seeded)
    floor = summary.argon2_floor(args.floor_seconds) if "S3" in only else None
    if args.json:
        document = {"info": info, "results": merged, "runs": runs, "argon2_floor": floor}
        Path(args.json).write_text(json.dumps(document, indent=2))
    print(report(args, info, merged), flush=True)
    print(summary.table(args, merged, floor), flush=True)
    return 0


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--duration", type=float, default=15.0, help="seconds per scenario")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds before each scenario")
    p.add_argument(
        "--runs",
        type=int,
        default=3,
        help="runs of S1-S5, GovID and node-oidc-provider in alternating order; the "
        "table shows the median run of each scenario and the range",
    )
    p.add_argument(
        "--connections",
        type=int,
        default=64,
        help="wrk connections (S1, S2; the same for node-oidc-provider)",
    )
    p.add_argument("--s3-concurrency", type=int, default=4, help="concurrent logins (S3)")
    p.add_argument("--s3-accounts", type=int, default=4, help="accounts that log in (S3)")
    p.add_argument(
        "--only",
        default="S1,S2,S2ES,S3,S3L2,S4,S5,S6",
        help="subset to run; node-oidc-provider runs its counterpart of each (S1, S2, "
        "S2ES, S3, S4, S5) unless --govid-only",
    )
    p.add_argument("--govid-only", action="store_true", help="no node-oidc-provider")
    p.add_argument(
        "--one-server",
        action="store_true",
        help="S1, S2 (ES256 only), S3, S4, S5 and S6 against one GovID server and S1-S5 "
        "against one node-oidc-provider (ES256 JWT access tokens; budgets beyond reach): "
        "the smoke test",
    )
    p.add_argument(
        "--floor-seconds", type=float, default=2.0, help="time of the argon2id floor measurement"
    )
    p.add_argument(
        "--s6-duration",
        type=float,
        default=600.0,
        help="seconds of the S6 mixed soak (bench/soak.py); 30 for a smoke run",
    )
    p.add_argument("--s6-workers", type=int, default=16, help="S6 clients at once")
    p.add_argument(
        "--s6-warmup", type=float, default=10.0, help="seconds of S6 before RSS is first read"
    )
    p.add_argument(
        "--workers",
        type=int,
        default=1,
        help="GovID worker processes (idp serve --workers), all on the server CPU",
    )
    p.add_argument(
        "--scale-out",
        metavar="N,N,...",
        help="instead of the table: S2 (ES256) and S4 per CPU-s of GovID with N worker "
        "processes each (e.g. 1,2,4; bench/scaleout.py), with Redis (--redis-url)",
    )
    p.add_argument(
        "--redis-url",
        default=None,
        help="IDP_REDIS_URL of every GovID server (--scale-out: redis://127.0.0.1:6379/15 "
        "unless 'none')",
    )
    p.add_argument("--s4-chains", type=int, default=16, help="refresh chains at once (S4)")
    p.add_argument(
        "--s3l2-accounts",
        type=int,
        default=1200,
        help="accounts with TOTP for S3L2 (two logins each per 30 s: 1200 allow 80/s)",
    )
    p.add_argument("--profile", metavar="DIR", help="py-spy the GovID server per scenario")
    p.add_argument(
        "--profile-mode",
        choices=("gil", "cpu", "wall"),
        default="cpu",
        help="gil: the thread holding the GIL; cpu: every running thread; wall: waiting too",
    )
    p.add_argument(
        "--rate-limits",
        choices=("on", "off", "both"),
        default="on",
        help="S2/S2ES with the rate limiter on (a budget S2 cannot spend), off, or both "
        "(S2ES run twice, back to back: the limiter's cost, decision 0012)",
    )
    p.add_argument("--py-spy", default=None, help="path of py-spy if not on PATH")
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = p.parse_args()
    if args.scale_out and args.redis_url is None:
        args.redis_url = "redis://127.0.0.1:6379/15"
    if args.redis_url == "none":
        args.redis_url = None
    return args


def govid_setup(args, only: set[str], db, info: dict[str, Any]) -> tuple[Seeded, Any]:
    """Once for all runs: the schema, an agency, accounts and clients (through the CLI),
    and for S3L2 the accounts with TOTP."""
    log(f"database {db.name} (PostgreSQL {db.pg_version})")
    setup_env = govid_env(db.url, 8000)
    idp_cli(setup_env, "db", "upgrade")
    log("seeding through the CLI (argon2id hashing with the production parameters)")
    seeded = seed(setup_env, args.s3_accounts)
    info.update(
        pg=db.pg_version,
        argon2=f"argon2id m={default('argon2_memory_kib')} KiB "
        f"t={default('argon2_time_cost')} p={default('argon2_parallelism')} "
        "(idp/config/__init__.py defaults; IDP_* variables are not passed to the server)",
        stored_hash=db.password_hash_prefix(seeded.emails[0]),
    )
    pool = None
    if "S3L2" in only and not args.scale_out:
        log(f"S3 level 2: enrolling {args.s3l2_accounts} accounts with TOTP")
        pool = enrol_totp(db.url, seeded, args.s3l2_accounts)
    return seeded, pool


def run_govid(args, only: set[str], db, seeded: Seeded, pool, results: dict[str, Any]) -> None:
    mc, ms, scope = (
        seeded.machine["client_id"],
        seeded.machine["client_secret"],
        seeded.machine_scope,
    )
    if args.one_server:
        # The smoke test's shortcut: S1, S2 (ES256), S3, S4 and S5 against one server.
        server, base = start_govid(db.url, IDP_ACCESS_TOKEN_ALG="ES256", **RATE_LIMITS_S45)
        with running(server, f"{base}/readyz"):
            if "S1" in only:
                results.update(s1_scenarios(args, base, server.pid, "GovID", db.name))
            if only & {"S2", "S2ES"}:
                check_s2(base, mc, ms, scope, "ES256")
                log("S2 GovID: client_credentials, ES256 access tokens")
                results["S2 GovID ES256"] = wrk_scenario(
                    args, base, s2_env(mc, ms, scope), server.pid, "S2-ES256", db.name
                )
            if "S3" in only:
                log(f"S3 GovID: code flow + PKCE, {args.s3_concurrency} concurrent logins")
                results["S3 GovID"] = s3_scenario(args, base, seeded, server.pid, db.name)
            if only & {"S4", "S5"}:
                s45_on(args, only, db, seeded, results, server, base)
            if "S6" in only:
                import soak

                results["S6 GovID"] = soak.on_server(args, db, seeded, server, base)
        return
    # The product as configured by default (idp/config/__init__.py) for S1 and S3.
    if only & {"S1", "S3", "S3L2"}:
        server, base = start_govid(db.url)
        with running(server, f"{base}/readyz"):
            log(f"GovID on {base} (pid {server.pid}, CPU {SERVER_CPU})")
            if "S1" in only:
                results.update(s1_scenarios(args, base, server.pid, "GovID", db.name))
            if "S3" in only:
                log(f"S3 GovID: code flow + PKCE, {args.s3_concurrency} concurrent logins")
                results["S3 GovID"] = s3_scenario(args, base, seeded, server.pid, db.name)
            if "S3L2" in only:
                log(f"S3 GovID level 2: password + TOTP, {args.s3_concurrency} concurrent")
                results["S3 GovID L2"] = s3_scenario(args, base, seeded, server.pid, db.name, pool)

    if "S2" in only:
        limits = RATE_LIMITS_OFF if args.rate_limits == "off" else RATE_LIMITS_ON
        server, base = start_govid(db.url, IDP_ACCESS_TOKEN_ALG="RS256", **limits)
        with running(server, f"{base}/readyz"):
            check_s2(base, mc, ms, scope, "RS256")
            log("S2 GovID: client_credentials, RS256 access tokens")
            results["S2 GovID RS256"] = wrk_scenario(
                args, base, s2_env(mc, ms, scope), server.pid, "S2-RS256", db.name
            )

    if "S3NOCHAIN" in only:
        server, base = start_govid(db.url, no_chain=True, IDP_ACCESS_TOKEN_ALG="ES256")
        with running(server, f"{base}/readyz"):
            log("S3 GovID without the audit hash chain (cost comparison, issue 8)")
            results["S3 GovID no chain"] = s3_scenario(args, base, seeded, server.pid, db.name)
            check_s2(base, mc, ms, scope, "ES256")
            log("S2 GovID without the audit hash chain")
            results["S2 GovID no chain"] = wrk_scenario(
                args, base, s2_env(mc, ms, scope), server.pid, "S2-nochain", db.name
            )

    variants = {
        "on": [("S2 GovID ES256", RATE_LIMITS_ON)],
        "off": [("S2 GovID ES256 no limits", RATE_LIMITS_OFF)],
        "both": [
            ("S2 GovID ES256", RATE_LIMITS_ON),
            ("S2 GovID ES256 no limits", RATE_LIMITS_OFF),
        ],
    }[args.rate_limits]
    for name, limits in variants if "S2ES" in only else []:
        server, base = start_govid(db.url, IDP_ACCESS_TOKEN_ALG="ES256", **limits)
        with running(server, f"{base}/readyz"):
            check_s2(base, mc, ms, scope, "ES256")
            log(f"S2 GovID: client_credentials, ES256 access tokens ({name})")
            results[name] = wrk_scenario(
                args, base, s2_env(mc, ms, scope), server.pid, "S2-ES256", db.name
            )

    if only & {"S4", "S5"}:
        s45_govid(args, only, db, seeded, results)


LABELS = {
    "S1D GovID": ("S1 discovery", "GovID"),
    "S1D node": ("S1 discovery", "node-oidc-provider"),
    "S1J GovID": ("S1 JWKS", "GovID"),
    "S1J node": ("S1 JWKS", "node-oidc-provider"),
    "S2 GovID RS256": ("S2 client_credentials, JWT AT RS256", "GovID"),
    "S2 GovID ES256": ("S2 client_credentials, JWT AT ES256", "GovID"),
    "S2 node RS256": ("S2 client_credentials, JWT AT RS256", "node-oidc-provider"),
    "S2 node ES256": ("S2 client_credentials, JWT AT ES256", "node-oidc-provider"),
    "S2 node opaque": ("S2 client_credentials, opaque AT", "node-oidc-provider"),
    "S3 GovID": ("S3 code flow + PKCE, password", "GovID"),
    "S3 node": ("S3 code flow + PKCE, password", "node-oidc-provider"),
    "S3 GovID L2": ("S3 level 2: password + TOTP", "GovID"),
    "S3 GovID no chain": ("S3 password, audit chain OFF", "GovID (measure only)"),
    "S2 GovID no chain": ("S2 ES256, audit chain OFF", "GovID (measure only)"),
    "S2 GovID ES256 no limits": ("S2 ES256, rate limits OFF", "GovID (measure only)"),
    "S4 GovID": ("S4 refresh + rotation, JWT AT ES256", "GovID"),
    "S4 node": ("S4 refresh + rotation, JWT AT ES256", "node-oidc-provider"),
    "S5U GovID": ("S5 userinfo (JWT AT ES256)", "GovID"),
    "S5U node": ("S5 userinfo (opaque AT)", "node-oidc-provider"),
    "S5I GovID": ("S5 introspection (JWT AT ES256)", "GovID"),
    "S5I node": ("S5 introspection (opaque AT)", "node-oidc-provider"),
}

# S4/S5 (issue 22): the per-client and per-address budgets beyond reach, so every request
# pays for the limiter and none is refused (the default 1,000 per 10 s per address would
# refuse a benchmark from one address).
RATE_LIMITS_S45 = {
    "IDP_RATE_LIMIT_TOKEN_PER_CLIENT": "1000000000",
    "IDP_RATE_LIMIT_PER_ADDRESS": "1000000000",
}

# S2 is one client asking as fast as it can: with the limiter on, its budget is set
# beyond reach so that every request pays for the limiter (slices of 100, one shared
# increment per 100 tokens) and none is refused; "off" is IDP_RATE_LIMITS=false.
RATE_LIMITS_ON = {"IDP_RATE_LIMIT_TOKEN_PER_CLIENT": "1000000000"}
RATE_LIMITS_OFF = {"IDP_RATE_LIMITS": "false"}


def report(args, info: dict[str, Any], results: dict[str, dict[str, Any]]) -> str:
    out = [
        "",
        f"GovID OIDC benchmarks — {git_describe()}, Python {sys.version.split()[0]}, "
        f"{os.cpu_count()} CPUs: server on CPU {SERVER_CPU}, load generator on CPU "
        f"{LOAD_CPU}",
        f"GovID: idp serve --workers {GOVID_WORKERS}; "
        f"PostgreSQL {info.get('pg')} on 127.0.0.1 (bench backends on CPU 1); "
        f"{info.get('argon2')}; "
        f"stored hash {info.get('stored_hash')}",
        f"{args.duration:g} s per scenario after {args.warmup:g} s warm-up; "
        f"S1/S2: {wrk_version() if shutil.which('wrk') else 'wrk'}, 1 thread, "
        f"{args.connections} connections; S3: httpx, {args.s3_concurrency} concurrent "
        f"logins, new cookie jar per login; node-oidc-provider {info.get('node_op', '-')}",
        "",
        "rps: achieved on the one pinned server core; per CPU-s: requests per second of "
        "server CPU time (what a whole core would give if nothing else ran on it);",
        "srv/pg/gen: CPU of the server, of PostgreSQL, of the load generator; CPU0/CPU1: "
        "how busy each core was in total (other work on the machine shows here).",
        "",
        f"{'scenario':36} {'server':18} {'rps':>8} {'p50 ms':>8} {'p99 ms':>8} {'err':>4} "
        f"{'per CPU-s':>9} {'+pg':>7} {'ms CPU':>7} {'srv':>5} {'pg':>4} {'gen':>4} "
        f"{'CPU0':>5} {'CPU1':>5}",
    ]

    def per_cpu_s(key: str, with_pg: bool = False) -> float:
        r = results[key]
        srv = r["cpu"].get("server", 0) / 100
        if with_pg:  # the database's CPU counted with the server's (issue 22)
            srv += r["cpu"].get("postgres", 0) / 100
        return r["rps"] / srv if srv and r["rps"] else float("nan")

    for key, (scenario, server) in LABELS.items():
        r = results.get(key)
        if not r:
            continue
        unit = " (logins)" if key.startswith("S3") else ""
        cpu = r["cpu"]
        out.append(
            f"{scenario:36} {server:18} {r['rps']:8.1f} {r['p50_ms']:8.2f} {r['p99_ms']:8.2f} "
            f"{r['errors']:4d} {per_cpu_s(key):9.1f} {per_cpu_s(key, True):7.1f} "
            f"{1000 / per_cpu_s(key):7.2f} "
            f"{cpu.get('server', 0):4.0f}% {cpu.get('postgres', 0):3.0f}% "
            f"{cpu.get('load', 0):3.0f}% {cpu.get(f'cpu{SERVER_CPU}_busy', 0):4.0f}% "
            f"{cpu.get(f'cpu{LOAD_CPU}_busy', 0):4.0f}%{unit}"
        )
    s4 = results.get("S4 GovID")
    if s4 and "lock_waiters" in s4:
        out.append(
            f"S4 GovID, PostgreSQL backends sampled every 10 ms: {s4['busy_backends']} busy, "
            f"{s4['lock_waiters']} waiting for a lock, {s4['advisory_waiters']} of them for "
            "an advisory lock (the audit chain's), on average"
        )
    s3 = results.get("S3 GovID")
    if s3:
        out.append(
            f"S3 per step, p50 ms: {s3['step_p50_ms']} ({s3['http_rps']:.0f} HTTP requests/s)"
        )

    ratios = []
    for name, a, b in (
        ("S1 discovery", "S1D GovID", "S1D node"),
        ("S1 JWKS", "S1J GovID", "S1J node"),
        ("S2 RS256 JWT vs RS256 JWT", "S2 GovID RS256", "S2 node RS256"),
        ("S2 ES256 JWT vs ES256 JWT", "S2 GovID ES256", "S2 node ES256"),
        ("S2 ES256 JWT vs RS256 JWT", "S2 GovID ES256", "S2 node RS256"),
        ("S2 RS256 JWT vs opaque", "S2 GovID RS256", "S2 node opaque"),
    ):
        if a in results and b in results:
            ratios.append(
                f"  {name:28} rps {results[a]['rps'] / results[b]['rps']:5.2f}   "
                f"per CPU-s {per_cpu_s(a) / per_cpu_s(b):5.2f}"
            )
    for name, a, b in (
        (f"S4 refresh ({args.s4_chains} chains)", "S4 GovID", "S4 node"),
        ("S5 userinfo", "S5U GovID", "S5U node"),
        ("S5 introspection", "S5I GovID", "S5I node"),
    ):
        if a in results and b in results:
            ratios.append(
                f"  {name:28} rps {results[a]['rps'] / results[b]['rps']:5.2f}   "
                f"per CPU-s {per_cpu_s(a) / per_cpu_s(b):5.2f}   "
                f"per CPU-s with PostgreSQL {per_cpu_s(a, True) / per_cpu_s(b, True):5.2f}"
            )
    if ratios:
        out += ["", "GovID / node-oidc-provider:", *ratios]
    if "S2 GovID RS256" in results and "S2 GovID ES256" in results:
        es, rs = results["S2 GovID ES256"]["rps"], results["S2 GovID RS256"]["rps"]
        cpu = per_cpu_s("S2 GovID ES256") / per_cpu_s("S2 GovID RS256")
        out.append(f"GovID S2 ES256 / RS256: rps {es / rs:.2f}, per CPU-s {cpu:.2f}")
    targets = []
    for alg in ("RS256", "ES256"):
        key = f"S2 GovID {alg}"
        if key in results:
            rps, cpu = results[key]["rps"], per_cpu_s(key)
            verdict = "met" if rps >= 3000 else ("met per CPU-s" if cpu >= 3000 else "NOT met")
            targets.append(
                f"S2 {alg} >= 3000/core: {rps:.0f} rps on the core, {cpu:.0f} per CPU-s ({verdict})"
            )
    if s3:
        rps, cpu = s3["rps"], per_cpu_s("S3 GovID")
        verdict = "met" if rps >= 40 else ("met per CPU-s" if cpu >= 40 else "NOT met")
        targets.append(
            f"S3 >= 40 logins/s/core: {rps:.1f} on the core, {cpu:.1f} per CPU-s ({verdict})"
        )
    if targets:
        out.append("Targets (issue 5): " + "; ".join(targets))
    if "S6 GovID" in results:
        import soak  # bench/soak.py

        out.append(soak.report(results["S6 GovID"]))
    return "\n".join(out)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        log("interrupted; servers stopped and database dropped")
        sys.exit(130)
