"""Fault tests (issue 21): GovID served by a real ``idp serve`` on PostgreSQL clusters and
Redis servers of the test's own (tests/faults/clusters.py), which the test then stops,
freezes, restarts or fails over. Each test is bounded in time; everything it started is
stopped at its end."""

from __future__ import annotations

import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest
from joserfc.jwk import RSAKey

from idp import migrate
from idp.clients import service as clients
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings, service_missing
from tests.faults.clusters import Fleet, pg_bindir
from tests.protocol.conftest import BackchannelReceiver, World, seed
from tests.server import base_env, free_port, serve


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
# idp/config.py and docs/operations.md.
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
def deployed(url: str, *, migrate_url: str | None = None, **env: str) -> Iterator[World]:
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
        with serve(server_env, timeout=120, port=port) as base:  # a loaded CI machine
            world.base = base
            yield world
    finally:
        receiver.close()


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
    happens: every answer is recorded (status, time), with each 200's access token."""

    world: World
    threads: int = 4
    answers: list[tuple[float, int, str | None]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)
    _workers: list[threading.Thread] = field(default_factory=list)

    def _run(self) -> None:
        c = self.world.client("machine")
        with httpx.Client(base_url=self.world.base, timeout=20) as http:
            while not self.stop.is_set():
                t = time.monotonic()
                try:
                    r = http.post(
                        "/token",
                        data={"grant_type": "client_credentials"},
                        auth=(c["client_id"], c["secret"]),
                    )
                    token = r.json().get("access_token") if r.status_code == 200 else None
                    self.answers.append((t, r.status_code, token))
                    if r.status_code != 200:
                        time.sleep(0.05)
                except httpx.TransportError:
                    self.answers.append((t, 0, None))
                    time.sleep(0.05)

    def __enter__(self) -> Load:
        for _ in range(self.threads):
            th = threading.Thread(target=self._run, daemon=True)
            th.start()
            self._workers.append(th)
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for th in self._workers:
            th.join(30)

    def ok_tokens(self) -> list[str]:
        return [tok for _, status, tok in self.answers if status == 200 and tok]

    def statuses(self) -> dict[int, int]:
        out: dict[int, int] = {}
        for _, status, _tok in self.answers:
            out[status] = out.get(status, 0) + 1
        return out

    def recovered_after(self, since: float) -> float | None:
        """Seconds from ``since`` to the first 200 answered for a request sent after it."""
        for t, status, _ in sorted(self.answers):
            if t >= since and status == 200:
                return t - since
        return None


def wait_until(predicate, timeout: float, every: float = 0.1):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            return value
        time.sleep(every)
