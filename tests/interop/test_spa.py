"""GovID through a browser single-page app: `oidc-client-ts` 3.x (a public client,
``token_endpoint_auth_method=none``, code + PKCE S256) bundled with esbuild from
tests/interop/spa's lock file, served from a loopback port with a strict CSP of its own
and driven by Playwright in Debian's Chromium with every page's CSP in force (GovID's and
the app's; the browser keeps them on).

The app is served same-site with GovID (``http://localhost:A`` and ``http://localhost:B``:
a site is scheme + registrable domain, ports do not count), as an agency serving its app
and GovID under one registrable domain would. Proven here: sign-in with redirect, the
browser's own calls to discovery, /token, /userinfo, /jwks and /revoke (CORS as Chromium
enforces it), refresh with rotation and reuse detection, silent renew with ``prompt=none``
in a hidden iframe, and RP-initiated logout back to ``post_logout_redirect_uri``. The same
app served from another site (``http://127.0.0.1:C``) shows why iframe renew is for
same-site apps only: the browser keeps GovID's SameSite=Lax cookie out of the iframe, and
``login_required`` comes back; refresh tokens renew there (docs/integration.md)."""

from __future__ import annotations

import json
import secrets
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from idp.accounts import service as accounts
from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.clients import service as clients
from tests.e2e.conftest import browser, e2e_world  # noqa: F401 - fixtures used here
from tests.interop.conftest import INTEROP
from tests.npm import npm_ci
from tests.protocol.conftest import PASSWORD, decode_jwt
from tests.server import free_port

SPA = INTEROP / "spa"
TIMEOUT_MS = 15_000


@pytest.fixture(scope="module")
def spa_bundle(node: str, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """tests/interop/spa installed from its lock file and bundled by esbuild (a
    directory of this run: nothing is built into the source tree)."""
    npm_ci(SPA)
    out = tmp_path_factory.mktemp("spa-build")
    r = subprocess.run(
        [node, str(SPA / "build.mjs"), str(out)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=SPA,
    )
    assert r.returncode == 0, r.stderr
    return out


@dataclass
class SpaServer:
    """The agency's static web server for the app: its pages, the bundle, a runtime
    config.json, each answer with the app's own strict CSP."""

    host: str
    port: int
    govid: str
    bundle: Path
    client_id: str = ""
    hits: list[str] = field(default_factory=list)

    @property
    def origin(self) -> str:
        return f"http://{self.host}:{self.port}"

    def csp(self, path: str) -> str:
        # The app talks to GovID only (connect-src), frames GovID's /authorize for silent
        # renew, and that frame then lands on our own silent.html (frame-src 'self'); only
        # silent.html may be framed, and only by the app itself.
        framed = "'self'" if path == "/silent.html" else "'none'"
        return (
            "default-src 'none'; script-src 'self'; "
            f"connect-src 'self' {self.govid}; frame-src 'self' {self.govid}; "
            "img-src 'self'; style-src 'self'; base-uri 'none'; form-action 'none'; "
            f"frame-ancestors {framed}"
        )

    def config(self) -> bytes:
        return json.dumps({"authority": self.govid, "client_id": self.client_id}).encode()


@contextmanager
def static_server(host: str, govid: str, bundle: Path) -> Iterator[SpaServer]:
    state = SpaServer(host=host, port=free_port(), govid=govid, bundle=bundle)
    pages = {p.name: p for p in (SPA / "public").glob("*.html")}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            state.hits.append(self.path)
            path = urlsplit(self.path).path
            name = "index.html" if path == "/" else path.lstrip("/")
            if name in pages:
                body, ctype = pages[name].read_bytes(), "text/html; charset=utf-8"
            elif name == "app.js":
                body, ctype = (state.bundle / "app.js").read_bytes(), "text/javascript"
            elif name == "config.json":
                body, ctype = state.config(), "application/json"
            else:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Content-Security-Policy", state.csp(path))
            self.send_header("X-Content-Type-Options", "nosniff")
            self.send_header("Referrer-Policy", "no-referrer")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", state.port), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture(scope="module")
def spa_server(spa_bundle: Path, e2e_world) -> Iterator[SpaServer]:  # noqa: F811
    """The app same-site with GovID: http://localhost:B beside GovID's http://localhost:A."""
    with static_server("localhost", e2e_world.base, spa_bundle) as server:
        yield server


@pytest.fixture(scope="module")
def cross_site_spa(spa_bundle: Path, e2e_world) -> Iterator[SpaServer]:  # noqa: F811
    """The same app on another site (http://127.0.0.1:C: an IP address is a site of its
    own), as an agency app on its own registrable domain would be (go.th is a public
    suffix: app.agency.go.th and GovID's host are different sites)."""
    with static_server("127.0.0.1", e2e_world.base, spa_bundle) as server:
        yield server


@pytest.fixture(scope="module")
def spa_client(spa_server: SpaServer, cross_site_spa: SpaServer, e2e_world) -> dict:  # noqa: F811
    """The SPA registered as agencies register one: a public client (no secret),
    first-party, its pages as the redirect and post-logout URIs (on both origins it is
    served from here); and accounts of its own for the tests to sign in with."""
    w = e2e_world
    origins = (spa_server.origin, cross_site_spa.origin)
    with w.services.sessions.begin() as db:
        alice = db.query(Account).filter_by(email=w.users["alice"]).one()
        agency = agencies.get(db, alice.agency_id)
        row, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=agency.code,
                name_th="แอปหน้าเดียวทดสอบ",
                name_en="SPA interop (oidc-client-ts)",
                client_id=f"spa-{secrets.token_hex(4)}",
                redirect_uris=tuple(
                    f"{o}/{p}.html" for o in origins for p in ("callback", "silent")
                ),
                post_logout_redirect_uris=tuple(f"{o}/logged-out.html" for o in origins),
                auth_method="none",
                first_party=True,
            ),
        )
        assert secret is None or secret == ""
        emails = []
        for n in range(4):
            email = f"spa{n}-{secrets.token_hex(3)}@{alice.email.split('@')[1]}"
            accounts.create(
                db,
                accounts.NewAccount(
                    email=email,
                    agency_code=agency.code,
                    given_name_en=f"Spa{n}",
                    family_name_en="Tester",
                    given_name_th="ทดสอบ",
                    family_name_th=f"spa{n}",
                    password=PASSWORD,
                ),
                hasher=w.services.hasher,
                cipher=w.services.cipher,
            )
            emails.append(email)
    spa_server.client_id = cross_site_spa.client_id = row.client_id
    return {"client_id": row.client_id, "emails": emails}


@pytest.fixture
def page(browser, spa_server, spa_client):  # noqa: F811
    context = browser.new_context(locale="en")  # the CSP stays in force
    context.set_default_timeout(TIMEOUT_MS)
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(f"{m.type}: {m.text}"))
    page.console = console
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def arrive(page, url: str) -> None:
    try:
        page.wait_for_url(url, timeout=TIMEOUT_MS)
    except Exception as exc:  # pragma: no cover - the reason, on failure
        raise AssertionError(
            f"never reached {url}: at {page.url}\n{page.content()[:1500]}\n"
            + "\n".join(page.console)
        ) from exc


def sign_in(page, spa: SpaServer, email: str) -> dict:
    """A person opens the app, presses the button, signs in on GovID's page and is back
    in the app, which has exchanged the code and called /userinfo itself."""
    page.goto(f"{spa.origin}/")
    page.wait_for_selector("body[data-ready='1']")
    page.click("#login")
    page.wait_for_url(f"{spa.govid}/authorize?**")
    page.fill("#email", email)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    arrive(page, f"{spa.origin}/")
    page.wait_for_selector("body[data-ready='1']")
    user = page.evaluate("() => window.spa.user()")
    assert user and user["sub"], page.inner_text("#out")
    return user


def spa_call(page, expr: str):
    return page.evaluate(f"() => window.spa.{expr}")


def test_sign_in_userinfo_and_cors(page, spa_server, spa_client, e2e_world):  # noqa: F811
    spa, base = spa_server, e2e_world.base
    email = spa_client["emails"][0]
    requests = []
    page.on("request", lambda r: requests.append(r))

    user = sign_in(page, spa, email)

    # The code came back to callback.html (with RFC 9207 iss), and the app exchanged it.
    cb = [h for h in spa.hits if h.startswith("/callback.html?")]
    assert cb and "code=" in cb[-1] and "iss=" in cb[-1]
    _, idt = decode_jwt(base, user["id_token"])
    assert idt["aud"] == spa_client["client_id"] and idt["iss"] == base
    assert idt["acr"] == "urn:govid:acr:1" and idt["sub"] == user["sub"]
    # loadUserInfo: the profile holds what /userinfo answered the browser.
    assert user["profile"]["email"] == email
    assert user["profile"]["agency"]["code"]
    assert user["refresh_token"], "a public SPA client gets a (rotating) refresh token"

    # The browser's own cross-origin calls, with the app's Origin.
    seen = [(r.method, r.url, r.all_headers().get("origin")) for r in requests]
    token_calls = [s for s in seen if s[0] == "POST" and s[1] == f"{base}/token"]
    assert token_calls and token_calls[0][2] == spa.origin
    assert any(s[1] == f"{base}/userinfo" and s[0] == "GET" for s in seen)
    assert any(s[1] == f"{base}/.well-known/openid-configuration" for s in seen)

    info = spa_call(page, "userinfo()")
    assert info["ok"] and info["status"] == 200, info
    assert info["body"]["sub"] == user["sub"] and info["body"]["email"] == email

    # CORS as the browser enforces it: the endpoints meant for browsers answer with
    # Access-Control-Allow-Origin; the others are refused to the page (a TypeError with
    # no CSP violation: the app's connect-src allows GovID's origin, CORS refuses).
    for path in ("/.well-known/openid-configuration", "/jwks"):
        r = spa_call(page, f"probe({json.dumps(base + path)})")
        assert r["ok"] and r["status"] == 200 and r["body"], (path, r)
    # An error answer is readable too, its challenge exposed (RFC 6750 §3).
    bad = spa_call(
        page, f"probe({json.dumps(base + '/userinfo')}, {{headers: {{Authorization: 'Bearer x'}}}})"
    )
    assert bad["ok"] and bad["status"] == 401, bad
    assert "invalid_token" in (bad["www_authenticate"] or ""), bad
    jwks = spa_call(page, f"probe({json.dumps(base + '/jwks')})")["body"]
    assert jwks["keys"] and all("d" not in k for k in jwks["keys"])
    introspect = spa_call(
        page,
        "probe("
        + json.dumps(base + "/introspect")
        + ", {method: 'POST', headers: {'Content-Type': 'application/x-www-form-urlencoded'},"
        " body: 'token=' + 'x'})",
    )
    assert not introspect["ok"] and "TypeError" in introspect["error"], introspect
    assert introspect["csp_violations"] == []
    refused = ("/authorize?client_id=" + spa_client["client_id"], "/end_session", "/account")
    for path in (*refused, "/healthz"):
        r = spa_call(page, f"probe({json.dumps(base + path)})")
        assert not r["ok"] and r["csp_violations"] == [], (path, r)
    # ... and the app's own CSP is in force: an origin outside connect-src is a violation.
    elsewhere = base.replace("localhost", "127.0.0.1") + "/jwks"
    r = spa_call(page, f"probe({json.dumps(elsewhere)})")
    assert not r["ok"] and r["csp_violations"], r
    assert r["csp_violations"][0]["directive"] == "connect-src"
    page.console.clear()  # that violation was ours, on purpose


def test_refresh_rotation_and_reuse(page, spa_server, spa_client, e2e_world):  # noqa: F811
    base = e2e_world.base
    first = sign_in(page, spa_server, spa_client["emails"][1])

    renewed = spa_call(page, "refresh()")  # signinSilent with a refresh token: /token
    assert not renewed.get("failed"), renewed
    assert renewed["sub"] == first["sub"]
    assert renewed["refresh_token"] and renewed["refresh_token"] != first["refresh_token"]
    assert renewed["access_token"] != first["access_token"]
    assert spa_call(page, "userinfo()")["status"] == 200

    # The old refresh token, sent again from the page, is refused (RFC 9700 §4.14.2) ...
    old = spa_call(page, f"rawRefresh({json.dumps(first['refresh_token'])})")
    assert old["ok"] and old["status"] == 400, old
    assert old["body"]["error"] == "invalid_grant"
    # ... and its reuse revoked the family: the app's current token is refused too.
    again = spa_call(page, "refresh()")
    assert again.get("failed") and again["error"] == "invalid_grant", again
    # The same from outside the browser, for the record.
    r = httpx.post(
        f"{base.replace('localhost', '127.0.0.1')}/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": renewed["refresh_token"],
            "client_id": spa_client["client_id"],
        },
        timeout=10,
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_silent_renew_in_iframe(page, spa_server, spa_client, e2e_world):  # noqa: F811
    """oidc-client-ts's iframe renew: /authorize?prompt=none&id_token_hint=... in a hidden
    iframe of the app, answered by a redirect to silent.html, which posts the answer to
    the app. Same-site, GovID's SameSite=Lax session cookie goes with the iframe's
    request; GovID's X-Frame-Options: DENY and frame-ancestors 'none' stay on every
    answer, the redirect included: a browser checks framing on the document it renders
    (here the app's own silent.html), never on a redirect, so nothing of GovID is framed."""
    base = e2e_world.base
    first = sign_in(page, spa_server, spa_client["emails"][2])
    hits_before = len(spa_server.hits)
    answers = []
    page.on("response", lambda r: answers.append(r))

    renewed = spa_call(page, "silentIframe()")
    assert not renewed.get("failed"), (renewed, page.console)
    silent = [h for h in spa_server.hits[hits_before:] if h.startswith("/silent.html?")]
    assert silent and "code=" in silent[0] and "iss=" in silent[0], spa_server.hits[hits_before:]
    framed = [r for r in answers if r.url.startswith(f"{base}/authorize?")]
    assert len(framed) == 1 and "prompt=none" in framed[0].url
    assert "id_token_hint=" in framed[0].url
    assert framed[0].frame != page.main_frame  # the hidden iframe
    headers = framed[0].all_headers()
    assert framed[0].status == 302 and headers["location"].startswith(spa_server.origin)
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]
    assert "govid_session=" in framed[0].request.all_headers().get("cookie", "")

    assert renewed["sub"] == first["sub"]
    assert renewed["id_token"] != first["id_token"]
    assert renewed["refresh_token"] and renewed["refresh_token"] != first["refresh_token"]
    _, before = decode_jwt(base, first["id_token"])
    _, after = decode_jwt(base, renewed["id_token"])
    # The same GovID session, no new sign-in (OIDC Core §3.1.2.1 prompt=none).
    assert after["sid"] == before["sid"] and after["auth_time"] == before["auth_time"]

    # Without a GovID session (its cookie gone), prompt=none answers login_required
    # through the same redirect, never a page in the iframe.
    page.context.clear_cookies()
    hits_before = len(spa_server.hits)
    nosession = spa_call(page, "silentIframe()")
    assert nosession.get("failed") and nosession["error"] == "login_required", nosession
    assert any(
        h.startswith("/silent.html?") and "error=login_required" in h
        for h in spa_server.hits[hits_before:]
    )


def test_cross_site_app_renews_with_refresh_tokens(page, cross_site_spa, spa_client):
    """The app on another site than GovID: the browser keeps GovID's SameSite=Lax
    session cookie out of the cross-site iframe (as it would any third-party cookie), so
    prompt=none answers login_required although the person is signed in. Such an app
    renews with its refresh token, which needs no cookie."""
    first = sign_in(page, cross_site_spa, spa_client["emails"][3])
    cookies = page.context.cookies()
    assert any(c["name"].endswith("govid_session") for c in cookies)  # signed in at GovID

    requests = []
    page.on("request", lambda r: requests.append(r))
    iframe = spa_call(page, "silentIframe()")
    assert iframe.get("failed") and iframe["error"] == "login_required", iframe
    framed = [r for r in requests if r.url.startswith(f"{cross_site_spa.govid}/authorize?")]
    assert len(framed) == 1 and "prompt=none" in framed[0].url
    assert "govid_session=" not in framed[0].all_headers().get("cookie", "")

    renewed = spa_call(page, "refresh()")
    assert not renewed.get("failed"), renewed
    assert renewed["sub"] == first["sub"]
    assert renewed["refresh_token"] != first["refresh_token"]


def test_sign_out_and_revoke(page, spa_server, spa_client, e2e_world):  # noqa: F811
    base = e2e_world.base
    user = sign_in(page, spa_server, spa_client["emails"][0])
    rt = user["refresh_token"]
    requests = []
    page.on("request", lambda r: requests.append(r))

    revoked = spa_call(page, "revokeRefreshToken()")  # RFC 7009, from the browser
    assert revoked == {"revoked": True}, revoked
    revokes = [r for r in requests if r.url == f"{base}/revoke" and r.method == "POST"]
    assert revokes and revokes[0].all_headers().get("origin") == spa_server.origin
    refused = spa_call(page, f"rawRefresh({json.dumps(rt)})")
    assert refused["status"] == 400 and refused["body"]["error"] == "invalid_grant"

    # RP-initiated logout with id_token_hint: straight back to post_logout_redirect_uri
    # (no confirmation page: the hint names the signed-in person, §2 and §6).
    page.click("#logout")
    arrive(page, f"{spa_server.origin}/logged-out.html?**")
    page.wait_for_selector("body[data-ready='1']")
    ends = [r for r in requests if r.url.startswith(f"{base}/end_session?")]
    assert len(ends) == 1 and "id_token_hint=" in ends[0].url
    assert ends[0].response().status == 303
    done = json.loads(page.inner_text("#out"))
    assert done.get("signed_out") and done["user"] is None, done
    assert done["state"] == {"from": "sign-out button"}  # the state came back and matched
    # The GovID session is over: a silent renew now answers login_required.
    r = spa_call(page, "silentIframe()")
    assert r.get("failed") and r["error"] == "login_required", r
