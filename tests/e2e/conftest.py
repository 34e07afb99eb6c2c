"""Real headless Chromium (Debian's package, never a downloaded browser) driven by
Playwright, against a real GovID server whose issuer is http://localhost:PORT
(WebAuthn refuses IP addresses as relying-party IDs)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess

import pytest
from joserfc.jwk import RSAKey

from idp import migrate
from idp.services import Services
from tests.conftest import IN_CI, TEST_DATA_KEY, TEST_SECRET_KEY, make_settings, service_missing
from tests.protocol.conftest import BackchannelReceiver, seed
from tests.server import base_env, free_port, serve

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--host-resolver-rules=MAP localhost 127.0.0.1",
]


def ensure_chromium() -> str:
    if shutil.which("chromium") or os.path.exists(CHROMIUM):
        return CHROMIUM
    if os.geteuid() == 0:
        r = subprocess.run(
            ["apt-get", "install", "-y", "chromium"],
            capture_output=True,
            text=True,
            timeout=900,
            env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
        )
        if r.returncode != 0 and IN_CI:
            subprocess.run(["apt-get", "update"], capture_output=True, timeout=600)
            r = subprocess.run(
                ["apt-get", "install", "-y", "chromium"],
                capture_output=True,
                text=True,
                timeout=900,
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
            )
    if not os.path.exists(CHROMIUM):
        service_missing("Chromium is not installed (apt-get install -y chromium)")
    return CHROMIUM


# One Playwright and one Chromium per test process. Modules elsewhere (tests/interop)
# import this fixture, which gives each its own session fixture; Playwright's sync API
# cannot start twice in one thread ("using Playwright Sync API inside the asyncio loop"),
# so they all share this one, closed when the last user is torn down.
_CHROMIUM: dict = {"users": 0}


@pytest.fixture(scope="session")
def browser():
    if _CHROMIUM["users"] == 0:
        path = ensure_chromium()
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            _CHROMIUM["browser"] = pw.chromium.launch(
                executable_path=path, headless=True, args=CHROMIUM_ARGS
            )
        except Exception:
            pw.stop()
            raise
        _CHROMIUM["playwright"] = pw
    _CHROMIUM["users"] += 1
    try:
        yield _CHROMIUM["browser"]
    finally:
        _CHROMIUM["users"] -= 1
        if _CHROMIUM["users"] == 0:
            _CHROMIUM.pop("browser").close()
            _CHROMIUM.pop("playwright").stop()


@pytest.fixture(scope="session")
def e2e_world(tmp_path_factory):
    url = f"sqlite:///{tmp_path_factory.mktemp('e2e')}/idp.db"
    migrate.upgrade(url)
    port = free_port()
    issuer = f"http://localhost:{port}"
    services = Services(make_settings(url, issuer=issuer))
    receiver = BackchannelReceiver()
    rp_key = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "alg": "RS256"})
    w = seed(services, secrets.token_hex(3), receiver, rp_key)
    env = base_env(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
        IDP_ISSUER=issuer,
        IDP_PORT=str(port),
        IDP_ARGON2_MEMORY_KIB="8192",
        IDP_ARGON2_TIME_COST="1",
        # These tests change rows behind the server's back (an agency's logo, a client)
        # and look at the next page at once; the per-process caches of clients and of
        # how an agency is shown would show the old row for their lifetime (the protocol
        # world moves its clock past it instead: tests/protocol/test_token_fast_path.py).
        IDP_CLIENT_CACHE_SECONDS="0",
    )
    ctx = serve(env, port=port)
    base = ctx.__enter__()
    w.base = base.replace("127.0.0.1", "localhost")
    yield w
    ctx.__exit__(None, None, None)
    receiver.close()
    services.close()
