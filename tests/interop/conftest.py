"""Fixtures for interop tests: Node.js with `openid-client` installed from the lock file,
and an application registered on the protocol tests' real GovID server (one per backend).

``world`` and ``backchannel`` are the protocol tests' fixtures, imported so that they
apply here too (this directory gets its own server per backend)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from pathlib import Path

import pytest

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.clients import service as clients
from tests.conftest import service_missing
from tests.npm import npm_ci
from tests.protocol.conftest import REDIRECT, World, backchannel, mail_relay, world  # noqa: F401

INTEROP = Path(__file__).parent
POST_LOGOUT = "https://rp.example.go.th/interop/bye"
MIN_NODE = 20


@pytest.fixture(scope="session")
def node() -> str:
    """Path of a Node.js >= 20 with tests/interop's packages installed (`npm ci` if not)."""
    node = shutil.which("node")
    if node is None:
        service_missing("node (Node.js >= 20) is not on PATH; the openid-client test needs it")
    version = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=30)
    major = int(version.stdout.strip().lstrip("v").split(".")[0] or 0)
    if major < MIN_NODE:
        service_missing(f"Node.js >= {MIN_NODE} needed, found {version.stdout.strip()}")
    npm_ci(INTEROP)
    return node


@pytest.fixture(scope="session")
def interop_app(world: World) -> dict[str, str]:  # noqa: F811 - the imported fixture
    """A first-party confidential app (client_secret_basic) with a post-logout URI."""
    with world.services.sessions.begin() as db:
        account = db.query(Account).filter_by(email=world.users["alice"]).one()
        agency = agencies.get(db, account.agency_id)
        row, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=agency.code,
                name_th="แอปทดสอบ openid-client",
                name_en="openid-client interop",
                client_id=f"interop-{secrets.token_hex(4)}",
                redirect_uris=(REDIRECT,),
                post_logout_redirect_uris=(POST_LOGOUT,),
                first_party=True,
            ),
        )
    return {
        "client_id": row.client_id,
        "client_secret": secret,
        "redirect_uri": REDIRECT,
        "post_logout_redirect_uri": POST_LOGOUT,
        "email": world.users["alice"],
    }
