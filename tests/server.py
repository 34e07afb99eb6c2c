"""Start a real `idp serve` (uvicorn) in a subprocess for end-to-end tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.waiting import wait_until

IDP = str(Path(sys.executable).parent / "idp")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([IDP, *args], env=env, capture_output=True, text=True, timeout=120)


@contextmanager
def serve(env: dict[str, str], timeout: float = 120.0, port: int | None = None) -> Iterator[str]:
    port = port or free_port()
    env = {**env, "IDP_PORT": str(port), "IDP_HOST": "127.0.0.1"}
    env.setdefault("IDP_ISSUER", f"http://127.0.0.1:{port}")
    # The server's log goes to a file, never to an unread pipe (a full pipe would block
    # the server mid-test).
    log = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed in the finally below
        "w+", prefix="idp-serve-", suffix=".log", delete=False
    )
    proc = subprocess.Popen(
        [IDP, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, text=True
    )
    base = f"http://127.0.0.1:{port}"

    def answers() -> bool:
        if proc.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"idp serve exited early:\n{log.read()[-4000:]}")
        try:
            httpx.get(f"{base}/healthz", timeout=1.0)
        except httpx.TransportError:
            return False
        return True

    try:
        wait_until(answers, timeout, f"idp serve to answer {base}/healthz")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        if not os.environ.get("GOVID_KEEP_SERVER_LOG"):
            Path(log.name).unlink(missing_ok=True)


# The tests' back-channel logout receivers and relying parties live on loopback, which
# GovID refuses to send requests to outside IDP_ENV=dev unless an operator allows the
# host (idp.outbound); the test servers allow exactly these two names.
TEST_OUTBOUND_HOSTS = "127.0.0.1 localhost"


def base_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    env["IDP_OUTBOUND_ALLOWED_HOSTS"] = TEST_OUTBOUND_HOSTS
    env["IDP_PASSKEY_OFFER"] = "false"  # as in make_settings; tests that want it say so
    env.update(extra)
    return env
