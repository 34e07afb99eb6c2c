"""In Chromium with every page's Content-Security-Policy in force, each way through the
sign-in pages ends at the app: a real HTTP server on loopback is the app's
``redirect_uri`` and ``post_logout_redirect_uri``, so a navigation the browser blocks
(``form-action`` applies to the redirects after a form submission) never reaches it.

Each test also collects the browser's console: a CSP violation there fails the test."""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pyotp
import pytest

from idp.accounts.models import Account
from idp.clients import service as clients
from idp.credentials import mfa
from tests.protocol.conftest import PASSWORD, decode_jwt
from tests.protocol.rp import authorize_url, rp_client
from tests.server import free_port

L2 = "urn:govid:acr:2"


@dataclass
class LoopbackApp:
    """The app's pages: records every request and answers a small HTML page."""

    port: int
    hits: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://localhost:{self.port}"

    def last_params(self, path: str) -> dict[str, str]:
        for url in reversed(self.hits):
            parts = urlsplit(url)
            if parts.path == path:
                return {k: v[0] for k, v in parse_qs(parts.query).items()}
        raise AssertionError(f"the app never received {path}: {self.hits}")


@pytest.fixture(scope="module")
def app() -> Iterator[LoopbackApp]:
    state = LoopbackApp(port=free_port())

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            state.hits.append(self.path)
            body = f"<!doctype html><title>app</title><h1 id=app>app {self.path}</h1>".encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield state
    httpd.shutdown()


@pytest.fixture(scope="module")
def apps(e2e_world, app) -> dict[str, dict]:
    """Clients of the e2e server whose redirect URIs are the loopback app."""
    w = e2e_world
    made = {}
    with w.services.sessions.begin() as db:
        agency_id = db.query(Account).filter_by(email=w.users["alice"]).one().agency_id
        from idp.agencies.service import get as get_agency

        code = get_agency(db, agency_id).code
        for name, kw in {
            "first": {"first_party": True},
            "consent": {"first_party": False},
            "strict": {"first_party": True, "min_acr": L2},
        }.items():
            row, secret = clients.create(
                db,
                clients.NewClient(
                    agency_code=code,
                    name_th=f"แอปวนกลับ {name}",
                    name_en=f"Loopback app {name}",
                    client_id=f"loop-{name}-{secrets.token_hex(3)}",
                    redirect_uris=(f"{app.origin}/cb",),
                    post_logout_redirect_uris=(f"{app.origin}/bye",),
                    **kw,
                ),
            )
            made[name] = {"client_id": row.client_id, "secret": secret}
    return made


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en")  # the CSP stays in force
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def _client(w, app, made: dict):
    w.clients.setdefault(made["client_id"], made)
    return rp_client(w, made["client_id"], redirect_uri=f"{app.origin}/cb")


def _start(page, w, app, made, **params) -> tuple:
    rp = _client(w, app, made)
    url, verifier, _nonce, state = authorize_url(w, rp, **params)
    page.goto(url)
    return rp, verifier, state


def _sign_in(page, email: str) -> None:
    page.wait_for_selector("#email")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")


def _arrived(page, w, app, rp, verifier, state) -> dict:
    page.wait_for_url(f"{app.origin}/cb?**", timeout=15000)
    params = app.last_params("/cb")
    assert params["state"] == state and params["iss"] == w.base
    tok = rp.fetch_token(f"{w.base}/token", code=params["code"], code_verifier=verifier)
    return decode_jwt(w.base, tok["id_token"])[1]


def test_password_sign_in_reaches_the_app(page, e2e_world, app, apps):
    w = e2e_world
    rp, verifier, state = _start(page, w, app, apps["first"])
    _sign_in(page, w.users["frank"])
    idt = _arrived(page, w, app, rp, verifier, state)
    assert idt["acr"] == "urn:govid:acr:1"


def test_wrong_password_then_right_one_reaches_the_app(page, e2e_world, app, apps):
    w = e2e_world
    rp, verifier, state = _start(page, w, app, apps["first"])
    page.wait_for_selector("#email")
    page.fill("#email", w.users["grace"])
    page.fill("#password", "not the password at all")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    _arrived(page, w, app, rp, verifier, state)


def test_consent_then_app(page, e2e_world, app, apps):
    w = e2e_world
    rp, verifier, state = _start(page, w, app, apps["consent"])
    _sign_in(page, w.users["heidi"])
    page.wait_for_selector("form[action='/consent']")
    page.click("form[action='/consent'] button[value=allow]")
    _arrived(page, w, app, rp, verifier, state)


def test_account_choice_then_app(page, e2e_world, app, apps):
    w = e2e_world
    rp, verifier, state = _start(page, w, app, apps["first"])
    _sign_in(page, w.users["ivan"])
    _arrived(page, w, app, rp, verifier, state)
    rp, verifier, state = _start(page, w, app, apps["first"], prompt="select_account")
    page.wait_for_selector("form[action='/select-account']")
    page.click("form[action='/select-account'] button[value=current]")
    _arrived(page, w, app, rp, verifier, state)


def _give_totp(w, user: str) -> str:
    with w.services.sessions.begin() as db:
        account = db.query(Account).filter_by(email=w.users[user]).one()
        cred, uri, _svg = mfa.start_totp(db, w.services.cipher, account, issuer_name="GovID")
        secret = parse_qs(urlsplit(uri).query)["secret"][0]
        assert mfa.confirm_totp(db, w.services.cipher, account, cred.id, pyotp.TOTP(secret).now())
    return secret


def test_second_factor_step_then_app(page, e2e_world, app, apps):
    w = e2e_world
    secret = _give_totp(w, "judy")
    rp, verifier, state = _start(page, w, app, apps["first"], acr_values=L2)
    _sign_in(page, w.users["judy"])
    page.wait_for_selector("form[action='/mfa'] #code")
    page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    page.click("form[action='/mfa'] [type=submit]")
    idt = _arrived(page, w, app, rp, verifier, state)
    assert idt["acr"] == L2


def test_enrolment_then_recovery_codes_then_app(page, e2e_world, app, apps):
    """The code is made when the person leaves the recovery codes page, not before: the
    Continue link goes through GovID, so reading the codes for longer than a code lives
    cannot spoil the sign-in."""
    w = e2e_world
    rp, verifier, state = _start(page, w, app, apps["strict"])
    _sign_in(page, w.users["oscar"])
    page.wait_for_selector("form[action='/mfa/enrol']")
    secret = page.locator("#totp-secret").inner_text().strip()
    page.fill("#code", pyotp.TOTP(secret).now())
    page.click("form[action='/mfa/enrol'] [type=submit]")
    page.wait_for_selector("#continue")
    href = page.locator("#continue").get_attribute("href")
    assert href.startswith("/authorize/resume?") and "code=" not in href
    # The link outlives a slow reader: the step it resumes is valid for an hour, not the
    # 10 minutes of a sign-in step (an independent check read for 615 s and got an
    # error page). Read from the signed token's own expiry rather than by waiting.
    from urllib.parse import parse_qs, urlsplit

    from idp.oidc import Interaction

    step = Interaction.load(w.services, parse_qs(urlsplit(href).query)["i"][0])
    left = step.expires_at - time.time()
    assert left > 50 * 60, left
    callbacks = [h for h in app.hits if h.startswith("/cb?")]
    assert not [h for h in callbacks if f"state={state}" in h]  # nothing sent yet
    page.click("#continue")
    idt = _arrived(page, w, app, rp, verifier, state)
    assert idt["acr"] == L2


def test_logout_confirmation_without_id_token_returns_to_the_app(page, e2e_world, app, apps):
    """RP-Initiated Logout §2: client_id and a registered post_logout_redirect_uri, no
    id_token_hint: the person confirms, then is back at the app with its state."""
    w = e2e_world
    rp, verifier, state = _start(page, w, app, apps["first"])
    _sign_in(page, w.users["peggy"])
    _arrived(page, w, app, rp, verifier, state)
    cid = apps["first"]["client_id"]
    page.goto(
        f"{w.base}/end_session?client_id={cid}"
        f"&post_logout_redirect_uri={app.origin}/bye&state=s-{state}"
    )
    page.wait_for_selector("form[action='/end_session/confirm']")
    page.click("form[action='/end_session/confirm'] button[value=yes]")
    page.wait_for_url(f"{app.origin}/bye?**", timeout=15000)
    assert app.last_params("/bye") == {"state": f"s-{state}"}
    # Signed out: the next sign-in asks for the password again.
    _start(page, w, app, apps["first"])
    page.wait_for_selector("#password")
