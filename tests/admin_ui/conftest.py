"""A real GovID (`idp serve`) and a real console (uvicorn in a thread), one of each per
module that asks for them; the console's client registered through the domain service."""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import httpx
import pyotp
import pytest
import uvicorn

from admin_ui.config import ADMIN_SCOPES
from admin_ui.config import Settings as ConsoleSettings
from admin_ui.main import create_app
from idp import migrate
from idp.accounts import roles
from idp.accounts import service as accounts
from idp.agencies import service as agencies
from idp.clients import service as clients
from idp.credentials import mfa
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings
from tests.e2e import conftest as e2e
from tests.server import base_env, free_port, serve
from tests.waiting import listening, wait_until

PASSWORD = "correct horse battery staple"
L2 = "urn:govid:acr:2"


@dataclass
class ConsoleWorld:
    govid: str  # GovID's issuer (http://localhost:PORT)
    console: str  # the console (http://127.0.0.1:PORT): other host, other cookies
    services: Services
    app: object
    users: dict[str, dict] = field(default_factory=dict)  # name -> {email, id, totp}


def _person(db, services, email, agency, role=None, role_agency=None) -> dict:
    acc = accounts.create(
        db,
        accounts.NewAccount(
            email=email,
            agency_code=agency,
            given_name_th="ทดสอบ",
            family_name_th="คอนโซล",
            given_name_en=email.split("@")[0].title(),
            family_name_en="Tester",
            password=PASSWORD,
        ),
        hasher=services.hasher,
        cipher=services.cipher,
    )
    person = {"email": email, "id": str(acc.id), "totp": None}
    if role:
        roles.grant_role(db, acc, role, agencies.get_by_code(db, role_agency or agency))
        cred, uri, _svg = mfa.start_totp(db, services.cipher, acc, issuer_name="GovID")
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        assert mfa.confirm_totp(db, services.cipher, acc, cred.id, pyotp.TOTP(secret).now())
        person["totp"] = secret
    return person


@pytest.fixture(scope="module")
def browser():
    """The shared Chromium of tests/e2e (one Playwright per process), but held for this
    module only: when no other module holds it, it stops here, so the event loop of
    Playwright's sync API does not outlive these tests (asyncio.run in later tests)."""
    shared = e2e._CHROMIUM
    if shared["users"] == 0:
        path = e2e.ensure_chromium()
        from playwright.sync_api import sync_playwright

        pw = sync_playwright().start()
        try:
            shared["browser"] = pw.chromium.launch(
                executable_path=path, headless=True, args=e2e.CHROMIUM_ARGS
            )
        except Exception:
            pw.stop()
            raise
        shared["playwright"] = pw
    shared["users"] += 1
    try:
        yield shared["browser"]
    finally:
        shared["users"] -= 1
        if shared["users"] == 0:
            shared.pop("browser").close()
            shared.pop("playwright").stop()


class ThreadedUvicorn(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # not the main thread
        pass


@pytest.fixture(scope="module")
def console_world(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("admin-ui")
    url = f"sqlite:///{tmp}/idp.db"
    migrate.upgrade(url)
    gport, cport = free_port(), free_port()
    issuer = f"http://localhost:{gport}"
    console = f"http://127.0.0.1:{cport}"
    services = Services(make_settings(url, issuer=issuer))
    u = secrets.token_hex(3)
    client_secret = None
    users: dict[str, dict] = {}
    with services.sessions.begin() as db:
        for code, name, parent, domain in (
            (f"ma-{u}", "Ministry A", None, f"a{u}.go.th"),
            (f"da-{u}", "Department A", f"ma-{u}", None),
            (f"mb-{u}", "Ministry B", None, f"b{u}.go.th"),
        ):
            agencies.create(
                db,
                agencies.NewAgency(
                    code=code,
                    name_th=name,
                    name_en=name,
                    parent_code=parent,
                    mail_domains=(domain,) if domain else (),
                ),
            )
        # One admin per sign-in: a TOTP code is accepted once, so two sign-ins of one
        # person within a period would have to wait for the next one.
        for name in ("admin", "admin2", "admin3", "admin4", "admin5"):
            users[name] = _person(
                db, services, f"{name}@a{u}.go.th", f"ma-{u}", "agency_admin", f"ma-{u}"
            )
        users["target"] = _person(db, services, f"target@a{u}.go.th", f"da-{u}")
        users["other"] = _person(db, services, f"other@b{u}.go.th", f"mb-{u}")
        row, client_secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"ma-{u}",
                name_th="คอนโซลผู้ดูแล",
                name_en="Admin console",
                client_id=f"console-{u}",
                redirect_uris=(f"{console}/callback",),
                post_logout_redirect_uris=(f"{console}/signed-out",),
                backchannel_logout_uri=f"{console}/backchannel-logout",
                scopes=tuple(ADMIN_SCOPES.split()),
                min_acr=L2,
                first_party=True,
            ),
        )
        client_id = row.client_id
    env = base_env(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
        IDP_ISSUER=issuer,
        IDP_PORT=str(gport),
        IDP_ARGON2_MEMORY_KIB="8192",
        IDP_ARGON2_TIME_COST="1",
    )
    settings = ConsoleSettings(
        env="test",
        issuer=issuer,
        base_url=console,
        client_id=client_id,
        client_secret=client_secret,
        session_secret="test-console-session-secret-" + "y" * 16,
        store_url=f"sqlite:///{tmp}/console.db",
    )
    app = create_app(settings)
    server = ThreadedUvicorn(
        uvicorn.Config(app, host="127.0.0.1", port=cport, log_level="warning", lifespan="on")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    with serve(env, port=gport):
        thread.start()
        wait_until(
            listening(lambda: httpx.get(f"{console}/healthz", timeout=1.0), httpx.TransportError),
            20,
            "the console to answer /healthz",
        )
        yield ConsoleWorld(govid=issuer, console=console, services=services, app=app, users=users)
        server.should_exit = True
        thread.join(timeout=10)
    services.close()
