"""A real GovID server (uvicorn subprocess) per database backend, seeded with agencies,
accounts and clients, plus a scripted "browser" that signs in like a person would."""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from joserfc.jwk import RSAKey

from idp import migrate
from idp.accounts import roles
from idp.accounts import service as accounts
from idp.agencies import service as agencies
from idp.clients import service as clients
from idp.clock import OffsetFileClock
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings
from tests.mail_relay import Inbox
from tests.server import base_env, free_port, serve

PASSWORD = "correct horse battery staple"
REDIRECT = "https://rp.example.go.th/callback"
PUBLIC_REDIRECT = "http://127.0.0.1:53682/cb"


class BackchannelReceiver:
    """A tiny RP endpoint that records back-channel logout tokens."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.event = threading.Event()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
                receiver.tokens.append(parse_qs(body)["logout_token"][0])
                receiver.event.set()
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.port = free_port()
        self.httpd = HTTPServer(("127.0.0.1", self.port), Handler)
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/backchannel"

    def close(self) -> None:
        self.httpd.shutdown()


@dataclass
class World:
    base: str
    services: Services
    users: dict[str, str] = field(default_factory=dict)  # name -> email
    clients: dict[str, dict] = field(default_factory=dict)  # name -> {client_id, secret, ...}
    rp_key: RSAKey | None = None
    receiver: BackchannelReceiver | None = None
    mail: Inbox | None = None  # what the server mailed to people

    def client(self, name: str) -> dict:
        return self.clients[name]

    @property
    def clock(self) -> OffsetFileClock:
        """The server's clock: ``world.clock.advance(s)`` moves its time (and this
        process's ``world.services``) ``s`` seconds on, instead of sleeping."""
        clock = self.services.clock
        assert isinstance(clock, OffsetFileClock), "start the server with clock_file()"
        return clock


def clock_file(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A new IDP_CLOCK_OFFSET_FILE: give it to the server(s) and to ``make_settings``."""
    return str(tmp_path_factory.mktemp("clock") / "offset")


def seed(services: Services, u: str, receiver: BackchannelReceiver, rp_key: RSAKey) -> World:
    world = World(base="", services=services, rp_key=rp_key, receiver=receiver)
    with services.sessions.begin() as db:
        agencies.create(
            db,
            agencies.NewAgency(
                code=f"m-{u}",
                name_th="กระทรวงทดสอบ",
                name_en="Test Ministry",
                mail_domains=(f"{u}.go.th",),
            ),
        )
        agencies.create(
            db,
            agencies.NewAgency(
                code=f"d-{u}", name_th="กรมทดสอบ", name_en="Test Department", parent_code=f"m-{u}"
            ),
        )
        for name in (
            "alice",
            "bob",
            "carol",
            "dave",
            "erin",
            "frank",
            "grace",
            "heidi",
            "ivan",
            "judy",
            "oscar",
            "peggy",
        ):
            email = f"{name}@{u}.go.th"
            acc = accounts.create(
                db,
                accounts.NewAccount(
                    email=email,
                    agency_code=f"d-{u}",
                    given_name_en=name.title(),
                    family_name_en="Tester",
                    given_name_th="ทดสอบ",
                    family_name_th=name,
                    password=PASSWORD,
                    citizen_id="1103702345679" if name == "alice" else None,
                ),
                hasher=services.hasher,
                cipher=services.cipher,
            )
            world.users[name] = email
            if name == "alice":
                roles.grant_role(db, acc, "agency_admin", agencies.get_by_code(db, f"d-{u}"))

        def reg(name: str, **kw) -> None:
            c, secret = clients.create(
                db,
                clients.NewClient(
                    agency_code=f"d-{u}",
                    name_th=f"แอป {name}",
                    name_en=f"App {name}",
                    client_id=f"{name}-{u}",
                    **kw,
                ),
            )
            world.clients[name] = {"client_id": c.client_id, "secret": secret, **kw}

        reg(
            "web",
            redirect_uris=(REDIRECT,),
            post_logout_redirect_uris=("https://rp.example.go.th/bye",),
            first_party=True,
            backchannel_logout_uri=receiver.url,
        )
        reg("thirdparty", redirect_uris=(REDIRECT,), auth_method="client_secret_post")
        reg("spa", redirect_uris=(PUBLIC_REDIRECT,), auth_method="none", first_party=True)
        reg(
            "pkjwt",
            redirect_uris=(REDIRECT,),
            auth_method="private_key_jwt",
            first_party=True,
            jwks={"keys": [rp_key.as_dict(private=False)]},
        )
        reg("machine", grant_types=("client_credentials",), scopes=("admin:accounts",))
        reg("rs", grant_types=("client_credentials",), scopes=(), extra={"resource_server": True})
        reg("strict", redirect_uris=(REDIRECT,), first_party=True, min_acr="urn:govid:acr:2")
        reg("narrow", redirect_uris=(REDIRECT,), first_party=True, scopes=("openid",))
        reg(
            "es",
            redirect_uris=(REDIRECT,),
            first_party=True,
            extra={"id_token_signed_response_alg": "ES256"},
        )
    return world


@pytest.fixture(scope="session")
def backchannel() -> BackchannelReceiver:
    r = BackchannelReceiver()
    yield r
    r.close()


@pytest.fixture(scope="session")
def mail_relay() -> Iterator[tuple[Inbox | None, int]]:
    """The SMTP relay the servers send people's notices to (idp/mail/). Without aiosmtpd
    (a venv made before it joined the test extras) the servers send no mail and only the
    test that reads the notice stops (tests.conftest.service_missing)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        yield None, 0
        return
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture(scope="session")
def world(backend: str, request: pytest.FixtureRequest, backchannel, mail_relay) -> World:
    url = (
        request.getfixturevalue("pg_server").create_database("govid_proto")
        if backend == "postgresql"
        else f"sqlite:///{request.getfixturevalue('tmp_path_factory').mktemp('proto')}/idp.db"
    )
    migrate.upgrade(url)
    port = free_port()
    issuer = f"http://127.0.0.1:{port}"
    offset_file = clock_file(request.getfixturevalue("tmp_path_factory"))
    services = Services(make_settings(url, issuer=issuer, clock_offset_file=offset_file))
    rp_key = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "alg": "RS256"})
    w = seed(services, secrets.token_hex(3), backchannel, rp_key)
    w.mail = mail_relay[0]
    env = base_env(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_CLOCK_OFFSET_FILE=offset_file,
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
        IDP_ISSUER=issuer,
        IDP_PORT=str(port),
        IDP_ARGON2_MEMORY_KIB="8192",
        IDP_ARGON2_TIME_COST="1",
        # Small numbers so lockout is testable in seconds (defaults: 5 and 20).
        IDP_LOGIN_DELAY_AFTER_FAILURES="3",
        IDP_LOGIN_LOCKOUT_THRESHOLD="5",
        # Eight refreshes of one token queue on its row; on a loaded 2-core CI machine
        # the last waited past the 5 s default and answered 503. The timeouts' own
        # behaviour is tested in tests/faults; here they would only add noise.
        IDP_DB_LOCK_TIMEOUT_MS="30000",
        IDP_SMTP_HOST="127.0.0.1" if mail_relay[0] is not None else "",
        IDP_SMTP_PORT=str(mail_relay[1]),
        IDP_SMTP_TLS="none",
    )
    ctx = serve(env, port=port)
    w.base = ctx.__enter__()
    yield w
    ctx.__exit__(None, None, None)
    services.close()


# ------------------------------------------------------------------------ the browser


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.decode().rstrip("=")


def form_fields(html: str) -> dict[str, str]:
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', html))


class Browser:
    """Follows redirects inside GovID, stops at the RP's redirect URI, submits forms."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(base_url=base, follow_redirects=False, timeout=20)

    def close(self) -> None:
        self.http.close()

    def go(self, url: str, *, method: str = "GET", data=None) -> httpx.Response:
        r = self.http.request(method, url, data=data)
        for _ in range(10):
            loc = r.headers.get("location")
            if r.status_code not in (302, 303) or not loc:
                return r
            if not loc.startswith("/") and not loc.startswith(self.base):
                return r  # leaving GovID: the RP's redirect URI
            r = self.http.get(loc)
        raise AssertionError("redirect loop")

    def submit(self, page: httpx.Response, action: str, **values: str) -> httpx.Response:
        fields = form_fields(page.text)
        data = {k: v for k, v in fields.items() if k in ("csrf_token", "i")}
        data.update(values)
        return self.go(action, method="POST", data=data)

    def login(self, page: httpx.Response, email: str, password: str = PASSWORD) -> httpx.Response:
        assert 'action="/login"' in page.text, page.text[:500]
        return self.submit(page, "/login", email=email, password=password)


def callback_params(r: httpx.Response) -> dict[str, str]:
    assert r.status_code in (302, 303), (r.status_code, r.text[:800])
    return {k: v[0] for k, v in parse_qs(urlsplit(r.headers["location"]).query).items()}


def jwks_of(base: str) -> dict:
    return httpx.get(f"{base}/jwks").json()


def decode_jwt(base: str, token: str) -> tuple[dict, dict]:
    from joserfc import jwt
    from joserfc.jwk import KeySet

    t = jwt.decode(token, KeySet.import_key_set(jwks_of(base)), algorithms=["RS256", "ES256"])
    return dict(t.header), dict(t.claims)


def json_body(r: httpx.Response) -> dict:
    try:
        return r.json()
    except json.JSONDecodeError as exc:  # pragma: no cover - shows the page on failure
        raise AssertionError(r.text[:500]) from exc
