"""`make run`: GovID on :8000 and the admin console on :8001, two processes, Ctrl-C stops
both. Migrates, bootstraps the demo data once and prints how to sign in as each demo
role. Development only: the demo credentials are kept in var/demo-credentials.json (mode
0600) so later runs can print them again."""

# ruff: noqa: S603 - runs this installation's own idp and uvicorn with fixed arguments

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyotp

BIN = Path(sys.executable).parent
IDP = str(BIN / "idp")
VAR = Path("var")
SAVED = VAR / "demo-credentials.json"
CONSOLE_ID = "govid-admin-console"
ROLE_NAMES = {"operator": "operator", "agency_admin": "agency admin", "auditor": "auditor"}


def _idp_json(*args: str) -> dict:
    r = subprocess.run([IDP, *args, "--json"], capture_output=True, text=True, check=False)
    if r.returncode != 0:
        sys.exit(f"idp {' '.join(args)} failed:\n{r.stderr or r.stdout}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def _save(data: dict) -> None:
    VAR.mkdir(exist_ok=True)
    fd = os.open(SAVED, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(data, f, indent=2)


def prepare() -> dict:
    VAR.mkdir(exist_ok=True)
    if subprocess.run([IDP, "db", "upgrade"], check=False).returncode != 0:
        sys.exit("idp db upgrade failed")
    saved = json.loads(SAVED.read_text()) if SAVED.exists() else {}
    result = _idp_json("bootstrap")
    if result["created"]:
        saved = {"accounts": result["accounts"], "client": result["client"]}
    if result.get("console"):
        saved["console"] = result["console"]
    if not saved.get("console"):
        # Bootstrapped before this script kept credentials: a new console secret.
        rotated = _idp_json("clients", "rotate-secret", CONSOLE_ID)
        saved["console"] = {"client_id": CONSOLE_ID, "client_secret": rotated["client_secret"]}
    _save(saved)
    return saved


def instructions(saved: dict) -> str:
    lines = [
        "",
        "GovID            http://127.0.0.1:8000",
        "Admin console    http://127.0.0.1:8001   (sign in at level 2: password, then the",
        "                 6-digit code of an authenticator app holding the secret below)",
        "",
    ]
    accounts = saved.get("accounts") or []
    if not accounts:
        lines.append(
            "The demo accounts' passwords were shown by the first `idp bootstrap` "
            "(delete var/ to start again)."
        )
    for a in accounts:
        lines += [
            f"  {ROLE_NAMES.get(a['role'], a['role']):13} {a['email']}",
            f"                password     {a['password']}",
        ]
        if a.get("totp_secret"):
            code = pyotp.TOTP(a["totp_secret"]).now()
            lines += [
                f"                TOTP secret  {a['totp_secret']}  (code now: {code})",
                f"                otpauth URI  {a['otpauth_uri']}",
            ]
    lines += ["", f"Credentials kept for development in {SAVED} (mode 0600).", ""]
    return "\n".join(lines)


def _wait_ready(procs, timeout: float = 30.0) -> None:
    """Print the instructions after both have started, below their start-up logs."""
    import httpx

    deadline = time.monotonic() + timeout
    for url in ("http://127.0.0.1:8000/healthz", "http://127.0.0.1:8001/healthz"):
        while time.monotonic() < deadline and all(p.poll() is None for p in procs):
            try:
                httpx.get(url, timeout=1.0)
                break
            except httpx.TransportError:
                time.sleep(0.2)


def main() -> int:
    saved = prepare()
    env = {
        **os.environ,
        "ADMIN_UI_ISSUER": os.environ.get("ADMIN_UI_ISSUER", "http://127.0.0.1:8000"),
        "ADMIN_UI_CLIENT_ID": saved["console"]["client_id"],
        "ADMIN_UI_CLIENT_SECRET": saved["console"]["client_secret"],
        "ADMIN_UI_STORE_URL": os.environ.get("ADMIN_UI_STORE_URL", "sqlite:///var/admin_ui.db"),
    }
    procs = [
        subprocess.Popen([IDP, "serve", "--with-worker"], env=env),
        subprocess.Popen(
            [str(BIN / "uvicorn"), "admin_ui.main:create_app", "--factory",
             "--host", "127.0.0.1", "--port", "8001"],
            env=env,
        ),
    ]  # fmt: skip
    _wait_ready(procs)
    print(instructions(saved), flush=True)

    def stop(*_args) -> None:
        for p in procs:
            if p.poll() is None:
                p.terminate()

    signal.signal(signal.SIGTERM, stop)
    try:
        while all(p.poll() is None for p in procs):
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    stop()
    for p in procs:
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
    return 0


if __name__ == "__main__":
    sys.exit(main())
