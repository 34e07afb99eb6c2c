"""Fault tests (issue 21): GovID served by a real ``idp serve`` on PostgreSQL clusters and
Redis servers of the test's own (tests/faults/clusters.py), which the test then stops,
freezes, restarts or fails over. Each test is bounded in time; everything it started is
stopped at its end."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import psycopg
import pytest
from joserfc.jwk import RSAKey

from idp import migrate
from idp.clients import service as clients
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings, service_missing
from tests.faults.clusters import Fleet, _children, pg_bindir
from tests.protocol.conftest import BackchannelReceiver, World, seed
from tests.server import IDP, base_env, free_port, run_cli, serve
from tests.waiting import wait_until


@pytest.fixture
def fleet() -> Iterator[Fleet]:
    if pg_bindir() is None:
        service_missing("no PostgreSQL server binaries under /usr/lib/postgresql/*/bin")
    if shutil.which("redis-server") is None:
        service_missing("no redis-server on PATH")
    f = Fleet()
    try:
        yield f
    finally:
        f.close()


# Short limits so a frozen service shows within a test's time; the defaults are in
# idp/config/__init__.py and docs/operations.md.
FAST_LIMITS = {
    "IDP_DB_CONNECT_TIMEOUT_SECONDS": "2",
    "IDP_DB_STATEMENT_TIMEOUT_MS": "3000",
    "IDP_DB_LOCK_TIMEOUT_MS": "2000",
    "IDP_DB_CLIENT_TIMEOUT_SECONDS": "3",
    "IDP_DB_POOL_TIMEOUT_SECONDS": "2",
    "IDP_READYZ_TIMEOUT_SECONDS": "1",
    "IDP_REDIS_TIMEOUT_SECONDS": "0.5",
    "IDP_REDIS_RETRY_SECONDS": "2",
}


@contextmanager
def deployed(
    url: str, *, migrate_url: str | None = None, workers: int = 1, **env: str
) -> Iterator[World]:
    """GovID migrated and seeded at ``url`` (protocol tests' seed plus an HR system with
    the ``scim`` scope), served by ``idp serve`` with ``env``."""
    migrate.upgrade(migrate_url or url)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    services = Services(make_settings(url, issuer=issuer), timeouts=False)
    receiver = BackchannelReceiver()
    try:
        u = secrets.token_hex(3)
        world = seed(services, u, receiver, RSAKey.generate_key(2048, parameters={"kid": "rp-f"}))
        with services.sessions.begin() as db:
            c, secret = clients.create(
                db,
                clients.NewClient(
                    agency_code=f"d-{u}",
                    name_th="ระบบบุคลากร",
                    name_en="HR system",
                    client_id=f"hr-{u}",
                    grant_types=("client_credentials",),
                    scopes=("scim", "admin:accounts"),
                ),
            )
            world.clients["hr"] = {"client_id": c.client_id, "secret": secret}
        services.close()
        server_env = base_env(
            IDP_DATABASE_URL=url,
            IDP_ENV="test",
            IDP_SECRET_KEY=TEST_SECRET_KEY,
            IDP_DATA_KEY=TEST_DATA_KEY,
            IDP_ISSUER=issuer,
            IDP_ARGON2_MEMORY_KIB="8192",
            IDP_ARGON2_TIME_COST="1",
            IDP_LOGIN_FAILURE_FLOOR_MS="0",
            IDP_RATE_LIMITS="false",
            **{**FAST_LIMITS, **env},
        )
        if workers > 1:
            server = serve_workers(server_env, workers, port)
        else:
            server = serve(server_env, timeout=120, port=port)  # a loaded CI machine
        with server as base:
            world.base = base
            yield world
    finally:
        receiver.close()


class Served(str):
    """The base URL of ``idp serve --workers N``, with the server's process id."""

    pid: int


@contextmanager
def serve_workers(env: dict[str, str], workers: int, port: int) -> Iterator[Served]:
    """``idp serve --workers N`` (tests.server.serve runs one worker); log to a file."""
    env = {**env, "IDP_PORT": str(port), "IDP_HOST": "127.0.0.1"}
    log = tempfile.NamedTemporaryFile("w+", prefix="idp-serve-", suffix=".log")  # noqa: SIM115
    proc = subprocess.Popen(
        [IDP, "serve", "--workers", str(workers)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = Served(f"http://127.0.0.1:{port}")
    base.pid = proc.pid

    def started() -> bool:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"idp serve --workers exited:\n{log.read()[-3000:]}")
        return len(worker_pids(proc.pid)) >= workers and _answers(base)

    try:
        wait_until(started, 120, f"idp serve --workers {workers} to answer", every=0.2)
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            for pid in worker_pids(proc.pid):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            proc.kill()
            proc.wait()
        log.close()


def _answers(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=1.0).status_code == 200
    except httpx.TransportError:
        return False


def worker_pids(server_pid: int) -> list[int]:
    """uvicorn's worker processes under ``server_pid`` (multiprocessing spawn children)."""
    out = []
    for pid in _children(server_pid):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmd = f.read()
        except OSError:
            continue
        if b"spawn_main" in cmd:
            out.append(pid)
    return out


def machine_token(world: World, name: str = "machine", scope: str | None = None) -> httpx.Response:
    c = world.client(name)
    data = {"grant_type": "client_credentials"}
    if scope:
        data["scope"] = scope
    return httpx.post(
        f"{world.base}/token", data=data, auth=(c["client_id"], c["secret"]), timeout=30
    )


@dataclass
class Load:
    """Client-credentials tokens asked for in a loop by ``threads`` threads while a fault
    happens: every answer is recorded (sent, answered, status, the 200's access token)."""

    world: World
    threads: int = 4
    answers: list[tuple[float, float, int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        c = self.world.client("machine")
        with httpx.Client(base_url=self.world.base, timeout=30) as http:
            while not self.stop.is_set():
                t = time.monotonic()
                try:
                    r = http.post(
                        "/token",
                        data={"grant_type": "client_credentials"},
                        auth=(c["client_id"], c["secret"]),
                    )
                    token = r.json().get("access_token") if r.status_code == 200 else None
                    self.answers.append((t, time.monotonic(), r.status_code, token))
                    if r.status_code != 200:
                        self.stop.wait(0.05)  # back off a little, as a client would
                except httpx.TransportError:
                    self.answers.append((t, time.monotonic(), 0, None))
                    self.stop.wait(0.05)

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            th = threading.Thread(target=self._run, daemon=True)
            th.start()
            self._workers.append(th)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for th in self._workers:
            th.join(60)

    def running(self, tokens: int = 20) -> None:
        """Wait until the load has been answered ``tokens`` tokens (before a fault)."""
        wait_until(
            lambda: self.statuses().get(200, 0) >= tokens,
            60,
            lambda: f"{tokens} tokens before the fault, saw {self.statuses()}",
        )

    def answered_again(self, since: float, tokens: int = 20, timeout: float = 40) -> None:
        """Wait until ``tokens`` requests sent after ``since`` were answered 200."""
        wait_until(
            lambda: self.statuses(since=since).get(200, 0) >= tokens,
            timeout,
            lambda: f"{tokens} tokens after the fault, saw {self.statuses(since=since)}",
        )

    def ok_tokens(self) -> list[str]:
        return [tok for *_, status, tok in self.answers if status == 200 and tok]

    def statuses(self, since: float = 0.0) -> dict[int, int]:
        out: dict[int, int] = {}
        for sent, _done, status, _tok in self.answers:
            if sent >= since:
                out[status] = out.get(status, 0) + 1
        return out

    def recovery(self, fault_at: float) -> tuple[float | None, dict[int, int]]:
        """Seconds from the fault to the first 200 answered after every failure it caused
        (a 200 sent after the last non-200), and the failures seen meanwhile."""
        after = sorted(a for a in self.answers if a[1] >= fault_at)
        failures = [a for a in after if a[2] != 200]
        if not failures:
            first_ok = next((a for a in after if a[2] == 200), None)
            return (first_ok[1] - fault_at if first_ok else None), {}
        last_fail = max(a[1] for a in failures)
        ok = [a for a in after if a[2] == 200 and a[0] >= last_fail]
        counts: dict[int, int] = {}
        for a in failures:
            counts[a[2]] = counts.get(a[2], 0) + 1
        return (min(a[1] for a in ok) - fault_at if ok else None), counts


class AccountWriter:
    """Accounts created through ``POST /admin/v1/accounts`` in a loop while a fault happens
    (an ORM transaction with its audit event, not the group commit): the emails answered
    201 are recorded."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.domain = world.users["alice"].split("@", 1)[1]
        self.agency = "d-" + self.domain.split(".", 1)[0]
        self.created: list[str] = []
        self.statuses: dict[int, int] = {}
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        token = machine_token(self.world, scope="admin:accounts").json()["access_token"]
        n = 0
        with httpx.Client(base_url=self.world.base, timeout=30) as http:
            while not self.stop.is_set():
                n += 1
                email = f"load{n}-{secrets.token_hex(3)}@{self.domain}"
                try:
                    r = http.post(
                        "/admin/v1/accounts",
                        json={"email": email, "agency": self.agency, "given_name_en": "Load"},
                        headers={"authorization": f"Bearer {token}"},
                    )
                    status = r.status_code
                except httpx.TransportError:
                    status = 0
                self.statuses[status] = self.statuses.get(status, 0) + 1
                if status == 201:
                    self.created.append(email)
                else:
                    self.stop.wait(0.05)  # back off a little, as a client would

    def __enter__(self) -> AccountWriter:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(60)

    def missing_in(self, dsn: str) -> set[str]:
        """Emails answered 201 that are not accounts (with their audit event) at ``dsn``."""
        with psycopg.connect(dsn, connect_timeout=10) as conn:
            rows = conn.execute(
                "SELECT a.email FROM account a WHERE a.email = ANY(%s) AND EXISTS ("
                " SELECT 1 FROM audit_event e WHERE e.type = 'admin.account.created'"
                " AND e.subject = a.id::text)",
                (self.created,),
            ).fetchall()
        return set(self.created) - {r[0] for r in rows}


class SignIns:
    """Whole code flows (sign-in page, password, code, token exchange) in a loop while a
    fault happens; the refresh token of every flow that completed is kept, to be used
    after the fault: a sign-in the person saw succeed must still be there."""

    def __init__(self, world: World) -> None:
        from tests.protocol.rp import login  # the protocol tests' relying party

        self._login = login
        self.world = world
        self.refresh_tokens: list[str] = []
        self.failed = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        users = ["bob", "carol", "dave", "erin"]
        n = 0
        while not self.stop.is_set():
            n += 1
            try:
                done = self._login(self.world, users[n % len(users)])
                self.refresh_tokens.append(done.token["refresh_token"])
            except Exception:  # a 503 anywhere in the flow: the person starts again
                self.failed += 1
                self.stop.wait(0.1)

    def __enter__(self) -> SignIns:
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        self.thread.join(90)

    def refresh_all(self) -> dict[int, int]:
        """Use every kept refresh token once: statuses."""
        c = self.world.client("web")
        out: dict[int, int] = {}
        with httpx.Client(base_url=self.world.base, timeout=30) as http:
            for rt in self.refresh_tokens:
                r = http.post(
                    "/token",
                    data={"grant_type": "refresh_token", "refresh_token": rt},
                    auth=(c["client_id"], c["secret"]),
                )
                out[r.status_code] = out.get(r.status_code, 0) + 1
        return out


def jti_of(token: str) -> str:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))["jti"]


def audited_jtis(dsn: str) -> set[str]:
    """The ``jti`` of every token the audit log says was issued."""
    with psycopg.connect(dsn, connect_timeout=10) as conn:
        rows = conn.execute(
            "SELECT details->>'jti' FROM audit_event WHERE type = 'oidc.token.issued'"
        ).fetchall()
    return {r[0] for r in rows if r[0]}


def audit_verify(world: World, url: str) -> subprocess.CompletedProcess:
    env = base_env(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
        IDP_ISSUER=world.base,
    )
    return run_cli(env, "audit", "verify")
