"""GovID behind a relying party nobody here wrote: Apache httpd with mod_auth_openidc
(Debian's ``libapache2-mod-auth-openidc``), driven by Debian's Chromium with every page's
Content-Security-Policy in force (the browser keeps it on).

One Apache for the module, three virtual hosts on loopback ports, each its own GovID app:

- ``query``: response_mode query (mod_auth_openidc's default), first-party (no consent),
  back-channel logout URI = its redirect URI ``?logout=backchannel``.
- ``form_post``: ``OIDCResponseMode form_post``, third-party (the consent page once).
- ``cross_site``: form_post to ``https://127.0.0.1:PORT`` (self-signed), another site
  than GovID's ``localhost``, as agencies' apps are.

Both protect ``/protected/`` with a CGI page that prints, as JSON, what mod_auth_openidc
hands the application (``OIDC_CLAIM_*``, ``OIDC_access_token`` ..., ``REMOTE_USER``).
``/protected/level2/`` requires ``acr`` = level 2 and re-authenticates with
``acr_values`` when it is missing (step-up); ``/protected/refresh/`` makes
mod_auth_openidc refresh the access token on every visit.

GovID is the e2e server (issuer ``http://localhost:PORT``). The directives are the ones
in docs/integration.md.
"""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from types import SimpleNamespace
from urllib.parse import quote, urlsplit

import pyotp
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from sqlalchemy import select

from idp.accounts import service as accounts
from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.clients import service as clients
from idp.sessions import logout
from idp.sessions.models import LogoutDelivery, SsoSession
from tests.e2e.conftest import browser, e2e_world  # noqa: F401 - fixtures used here
from tests.interop.apache import Apache, ensure_apache
from tests.protocol.conftest import PASSWORD, World
from tests.protocol.test_assurance import enrol_totp
from tests.server import free_port
from tests.waiting import wait_until

L1, L2 = "urn:govid:acr:1", "urn:govid:acr:2"
WAIT_MS = 15_000

CLAIMS_CGI = r"""#!/usr/bin/python3
import json, os
keep = ("OIDC_", "REMOTE_USER", "REQUEST_URI", "REQUEST_METHOD")
body = {k: v for k, v in sorted(os.environ.items()) if k.startswith(keep)}
print("Content-Type: application/json; charset=utf-8")
print("Cache-Control: no-store")
print()
print(json.dumps(body, ensure_ascii=False))
"""

LOGGED_OUT = "<!doctype html><title>Signed out</title><h1 id=signed-out>Signed out</h1>\n"

# The module-wide part: a cache for sessions (shm, the default) big enough for a GovID
# session with its tokens and userinfo.
SERVER_CONF = """
OIDCCacheType shm
OIDCCacheShmEntrySizeMax 65536
OIDCHTTPTimeoutShort 10
OIDCHTTPTimeoutLong 20
ScriptAliasMatch ^/protected/ "{dir}/cgi/claims"
Alias /loggedout.html "{dir}/htdocs/loggedout.html"
"""

VHOST = """
<VirtualHost 127.0.0.1:{vport}>
    ServerName {host}:{vport}
{tls}    OIDCProviderMetadataURL {issuer}/.well-known/openid-configuration
    OIDCClientID {client_id}
    OIDCClientSecret {client_secret}
    OIDCRedirectURI {origin}/protected/redirect_uri
    OIDCCryptoPassphrase {passphrase}
    OIDCScope "openid profile email govid"
    OIDCPKCEMethod S256
    OIDCResponseMode {response_mode}
    OIDCRemoteUserClaim email
    OIDCPassClaimsAs environment
    OIDCPassIDTokenAs claims payload
    OIDCPassUserInfoAs claims json
    OIDCDefaultLoggedOutURL {origin}/loggedout.html
    OIDCInfoHook iat access_token access_token_expires id_token userinfo refresh_token session

    <Location /protected/>
        AuthType openid-connect
        Require valid-user
    </Location>
    <Location /protected/level2/>
        AuthType openid-connect
        Require claim acr:{l2}
        OIDCUnAutzAction auth
        OIDCPathAuthRequestParams acr_values={l2}
    </Location>
    <Location /protected/refresh/>
        AuthType openid-connect
        Require valid-user
        OIDCRefreshAccessTokenBeforeExpiry 86400 logout_on_error
        OIDCPassRefreshToken On
    </Location>
</VirtualHost>
"""


@dataclass
class Rp:
    """One virtual host of the Apache and the GovID app it is."""

    port: int
    client_id: str
    secret: str
    response_mode: str
    origin: str  # http://localhost:PORT, or https://127.0.0.1:PORT (another site)

    @property
    def url(self) -> str:
        return self.origin

    @property
    def redirect_uri(self) -> str:
        return f"{self.url}/protected/redirect_uri"


@dataclass
class ApacheRp:
    world: World
    httpd: Apache
    query: Rp
    form_post: Rp
    cross_site: Rp
    agency_code: str

    def user(self, name: str) -> str:
        """A fresh account of the seed's department (no test shares one)."""
        email = f"{name}-{secrets.token_hex(3)}@{self.agency_domain}"
        with self.world.services.sessions.begin() as db:
            accounts.create(
                db,
                accounts.NewAccount(
                    email=email,
                    agency_code=self.agency_code,
                    given_name_th="สมชาย",
                    family_name_th="ใจดี",
                    given_name_en=name.title(),
                    family_name_en="Apache",
                    password=PASSWORD,
                ),
                hasher=self.world.services.hasher,
                cipher=self.world.services.cipher,
            )
        return email

    @property
    def agency_domain(self) -> str:
        return self.world.users["alice"].split("@", 1)[1]


def self_signed(ip: str) -> tuple[str, str]:
    """A throw-away certificate for ``ip`` (the browser context ignores its issuer)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, ip)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode(), key_pem.decode()


def _register(
    world: World,
    agency_code: str,
    port: int,
    response_mode: str,
    *,
    first_party: bool,
    url: str | None = None,
    **kw,
) -> Rp:
    url = url or f"http://localhost:{port}"
    with world.services.sessions.begin() as db:
        row, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=agency_code,
                name_th="แอป Apache mod_auth_openidc",
                name_en="Apache mod_auth_openidc",
                client_id=f"apache-{secrets.token_hex(4)}",
                redirect_uris=(f"{url}/protected/redirect_uri",),
                post_logout_redirect_uris=(f"{url}/loggedout.html",),
                first_party=first_party,
                **kw,
            ),
        )
    return Rp(port, row.client_id, secret, response_mode, url)


@pytest.fixture(scope="module")
def apache_rp(e2e_world: World) -> Iterator[ApacheRp]:  # noqa: F811 - the imported fixture
    ensure_apache("auth_openidc")
    w = e2e_world
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == w.users["alice"])).one()
        agency_code = agencies.get(db, account.agency_id).code
    qport, fport, xport = free_port(), free_port(), free_port()
    query = _register(
        w,
        agency_code,
        qport,
        "query",
        first_party=True,
        # mod_auth_openidc's back-channel logout endpoint is its redirect URI.
        backchannel_logout_uri=f"http://localhost:{qport}/protected/redirect_uri?logout=backchannel",
    )
    form_post = _register(w, agency_code, fport, "form_post", first_party=False)
    # As agencies deploy: https, and another site than GovID (localhost vs 127.0.0.1).
    cross_site = _register(
        w, agency_code, xport, "form_post", first_party=True, url=f"https://127.0.0.1:{xport}"
    )
    cert, key = self_signed("127.0.0.1")
    tls = (
        '    SSLEngine on\n    SSLCertificateFile "{dir}/tls/cert.pem"\n'
        '    SSLCertificateKeyFile "{dir}/tls/key.pem"\n'
    )
    body = SERVER_CONF
    for rp in (query, form_post, cross_site):
        body += (
            VHOST.replace("{vport}", str(rp.port))
            .replace("{host}", urlsplit(rp.origin).hostname)
            .replace("{tls}", tls if rp.origin.startswith("https:") else "")
            .replace("{origin}", rp.origin)
            .replace("{issuer}", w.base)
            .replace("{client_id}", rp.client_id)
            .replace("{client_secret}", rp.secret)
            .replace("{passphrase}", secrets.token_urlsafe(24))
            .replace("{response_mode}", rp.response_mode)
            .replace("{l2}", L2)
        )
    httpd = Apache(
        body,
        modules=("auth_openidc", "ssl", "socache_shmcb"),
        port=qport,
        extra_ports=(fport, xport),
        files={
            "cgi/claims": (CLAIMS_CGI, 0o755),
            "htdocs/loggedout.html": (LOGGED_OUT, 0o644),
            "tls/cert.pem": (cert, 0o644),
            "tls/key.pem": (key, 0o600),
        },
        log_level=os.environ.get("GOVID_APACHE_LOG_LEVEL", "warn auth_openidc:info"),
    )
    httpd.start()
    try:
        yield ApacheRp(w, httpd, query, form_post, cross_site, agency_code)
    finally:
        httpd.stop()


# ------------------------------------------------------------------------ the browser


class Person:
    """A Chromium context (CSP in force) that records what the console said."""

    def __init__(self, browser, rp: ApacheRp) -> None:  # noqa: F811
        self.rp = rp
        # The https app's certificate is self-signed; GovID's pages keep their CSP.
        self.context = browser.new_context(locale="en", ignore_https_errors=True)
        self.context.set_default_timeout(WAIT_MS)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(f"{m.type}: {m.text}"))
        # GovID's pages and the CSP each was served with (the browser enforces it).
        self.csp: dict[str, str] = {}
        self.page.on("response", self._record_csp)

    def _record_csp(self, response) -> None:
        if response.url.startswith(self.rp.world.base):
            csp = response.headers.get("content-security-policy")
            if csp:
                self.csp[urlsplit(response.url).path] = csp

    def close(self) -> None:
        self.context.close()

    def evidence(self) -> str:
        try:
            content = self.page.content()[:1500]
        except Exception as exc:  # noqa: BLE001 - evidence only
            content = repr(exc)
        return (
            f"\nURL: {self.page.url}\nconsole: {json.dumps(self.console, indent=1)}\n"
            f"page: {content}\n{self.rp.httpd.logs()[-6000:]}"
        )

    def wait_url(self, pattern: str) -> None:
        try:
            self.page.wait_for_url(re.compile(pattern))
        except Exception as exc:  # noqa: BLE001 - re-raised with what the browser saw
            raise AssertionError(f"never reached {pattern}: {exc}{self.evidence()}") from None

    def claims(self, url: str | None = None) -> dict:
        """The protected page's JSON (going to ``url`` first if given)."""
        if url:
            self.page.goto(url)
        self.wait_url(r"/protected/")
        try:
            self.page.wait_for_selector("body pre, body")
            return json.loads(self.page.inner_text("body"))
        except Exception as exc:  # noqa: BLE001 - not JSON, or no page: show what came
            raise AssertionError(f"no claims page: {exc}{self.evidence()}") from None

    def sign_in(self, email: str) -> None:
        self.wait_url(r"/authorize")
        try:
            self.page.wait_for_selector("#email")
        except Exception as exc:  # noqa: BLE001
            raise AssertionError(f"no sign-in page: {exc}{self.evidence()}") from None
        self.page.fill("#email", email)
        self.page.fill("#password", PASSWORD)
        self.page.click("form[action='/login'] button[type=submit]")


@pytest.fixture
def person(browser, apache_rp) -> Iterator[Person]:  # noqa: F811
    p = Person(browser, apache_rp)
    yield p
    p.close()


def jwt_claims(token: str) -> dict:
    """A JWT's payload, unverified (to tell GovID's queued logout tokens apart)."""
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def csp_violations(p: Person) -> list[str]:
    return [m for m in p.console if "Content Security Policy" in m]


# ------------------------------------------------------------------------ the tests


def test_sign_in_claims_reach_the_protected_page(apache_rp, person):
    rp, email = apache_rp.query, apache_rp.user("somchai")
    person.page.goto(f"{rp.url}/protected/")
    person.sign_in(email)
    c = person.claims()
    assert not csp_violations(person), person.console
    # The sign-in page was served with its CSP; form-action names exactly this app.
    csp = person.csp["/authorize"]
    assert f"form-action 'self' {rp.url};" in csp and "*" not in csp, csp

    assert c["REMOTE_USER"] == email
    assert c["OIDC_CLAIM_iss"] == apache_rp.world.base
    assert c["OIDC_CLAIM_aud"] == rp.client_id
    assert c["OIDC_CLAIM_acr"] == L1 and c["OIDC_CLAIM_amr"] == "pwd"
    assert c["OIDC_CLAIM_sid"] and c["OIDC_CLAIM_sub"]
    # userinfo: profile, email and govid scopes, Thai names intact
    assert c["OIDC_CLAIM_email"] == email and c["OIDC_CLAIM_email_verified"] in ("1", "true")
    assert c["OIDC_CLAIM_given_name"] in ("สมชาย", "Somchai")
    userinfo = json.loads(c["OIDC_userinfo_json"])
    assert userinfo["sub"] == c["OIDC_CLAIM_sub"]
    assert userinfo["agency"]["code"] == apache_rp.agency_code
    id_token = json.loads(c["OIDC_id_token_payload"])
    assert id_token["acr"] == L1 and id_token["nonce"]
    assert c["OIDC_access_token"].count(".") == 2  # a JWT (RFC 9068)
    assert int(c["OIDC_access_token_expires"]) > time.time()
    # The same session serves the next request without GovID.
    again = person.claims(f"{rp.url}/protected/again")
    assert again["OIDC_CLAIM_sub"] == c["OIDC_CLAIM_sub"]
    assert again["REQUEST_URI"] == "/protected/again"


def signed_in(person: Person, rp: Rp, email: str) -> dict:
    person.page.goto(f"{rp.url}/protected/")
    person.sign_in(email)
    return person.claims()


def test_refresh_rotates_and_the_session_keeps_working(apache_rp, person):
    rp, email = apache_rp.query, apache_rp.user("refresh")
    first = signed_in(person, rp, email)
    # /protected/refresh/ asks for a fresh access token on every visit
    # (OIDCRefreshAccessTokenBeforeExpiry longer than GovID's 10 minutes).
    r1 = person.claims(f"{rp.url}/protected/refresh/")
    r2 = person.claims(f"{rp.url}/protected/refresh/")
    tokens = [first["OIDC_access_token"], r1["OIDC_access_token"], r2["OIDC_access_token"]]
    assert len(set(tokens)) == 3, person.evidence()
    # GovID rotates refresh tokens; a reused one would revoke the family (and with
    # logout_on_error end the Apache session): the second refresh used the rotated one.
    assert r1["OIDC_refresh_token"] != r2["OIDC_refresh_token"]
    assert r2["OIDC_CLAIM_sub"] == first["OIDC_CLAIM_sub"]
    after = person.claims(f"{rp.url}/protected/")
    assert after["OIDC_access_token"] == r2["OIDC_access_token"]
    # The refresh hook an application calls itself (redirect URI ?refresh=&access_token=).
    hook = (
        f"{rp.redirect_uri}?refresh={quote(rp.url + '/protected/hooked', safe='')}"
        f"&access_token={after['OIDC_access_token']}"
    )
    hooked = person.claims(hook)
    assert hooked["REQUEST_URI"] == "/protected/hooked", person.evidence()
    assert hooked["OIDC_access_token"] not in tokens
    assert hooked["OIDC_CLAIM_sub"] == first["OIDC_CLAIM_sub"]


def test_rp_initiated_logout_returns_to_the_app_and_ends_both_sessions(apache_rp, person):
    rp, email = apache_rp.query, apache_rp.user("logout")
    c = signed_in(person, rp, email)
    # mod_auth_openidc's logout hook: local session gone, then GovID's end_session with
    # id_token_hint and post_logout_redirect_uri, then back to the app's page.
    person.page.goto(f"{rp.url}/protected/redirect_uri?logout={rp.url}/loggedout.html")
    person.wait_url(r"/loggedout\.html")
    assert person.page.inner_text("#signed-out") == "Signed out"
    assert not csp_violations(person), person.console
    assert "/end_session" in person.csp  # through GovID, no confirmation page (hint valid)
    with apache_rp.world.services.sessions() as db:
        sso = db.scalars(select(SsoSession).where(SsoSession.sid == c["OIDC_CLAIM_sid"])).one()
    assert sso.ended_at is not None and sso.end_reason == "rp_logout", person.evidence()
    # Neither Apache nor GovID remembers the person: the sign-in page again.
    person.page.goto(f"{rp.url}/protected/")
    person.wait_url(r"/authorize")
    person.page.wait_for_selector("#email")


def test_backchannel_logout_ends_the_apache_session(apache_rp, person):
    rp, email = apache_rp.query, apache_rp.user("bcl")
    c = signed_in(person, rp, email)
    assert person.claims(f"{rp.url}/protected/")["OIDC_CLAIM_sid"] == c["OIDC_CLAIM_sid"]
    w = apache_rp.world
    # An admin ends the person's sessions (as suspension or a password reset does):
    # GovID posts a logout token to the app's back-channel URI.
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        ended = logout.end_everything(
            db,
            w.services.keys,
            issuer=w.base,
            account_id=account.id,
            reason="admin_revoke",
            now=w.services.clock.now(),
        )
    assert ended == 1

    def mine() -> list[LogoutDelivery]:
        with w.services.sessions() as db:
            rows = db.scalars(
                select(LogoutDelivery).where(LogoutDelivery.client_id == rp.client_id)
            ).all()
        return [r for r in rows if jwt_claims(r.logout_token).get("sid") == c["OIDC_CLAIM_sid"]]

    wait_until(  # GovID's worker POSTs it (with retries) after the commit
        lambda: any(r.done_at is not None for r in mine()),
        20,
        lambda: f"the logout token delivered: {[r.last_error for r in mine()]}{person.evidence()}",
        every=0.25,
    )
    assert "POST /protected/redirect_uri?logout=backchannel" in apache_rp.httpd.access_log()
    # The Apache session cookie is still in the browser, but the session behind it is gone.
    person.page.goto(f"{rp.url}/protected/")
    person.wait_url(r"/authorize")
    person.page.wait_for_selector("#email")


def test_step_up_to_level2_through_the_totp_page(apache_rp, person):
    rp, email = apache_rp.query, apache_rp.user("stepup")
    # The authenticator app is set up beforehand on the account page (no RP involved).
    only_this_user = SimpleNamespace(
        base=apache_rp.world.base, users={"p": email}, clock=apache_rp.world.services.clock
    )
    _owner, secret, _codes = enrol_totp(only_this_user, "p")
    level1 = signed_in(person, rp, email)
    assert level1["OIDC_CLAIM_acr"] == L1
    # The level-2 location refuses acr 1 and sends the person back with acr_values:
    # GovID asks only for the second factor (no password) and keeps the session.
    person.page.goto(f"{rp.url}/protected/level2/")
    person.wait_url(r"/(authorize|mfa)")
    try:
        person.page.wait_for_selector("form[action='/mfa'] #code")
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"no second-factor page: {exc}{person.evidence()}") from None
    assert person.page.locator("#password").count() == 0
    person.page.fill("#code", pyotp.TOTP(secret).at(time.time() + 30))
    person.page.click("form[action='/mfa'] button[type=submit]")
    level2 = person.claims()
    assert "/protected/level2/" in person.page.url
    assert level2["OIDC_CLAIM_acr"] == L2, person.evidence()
    assert set(level2["OIDC_CLAIM_amr"].split(",")) >= {"pwd", "otp", "mfa"}
    assert level2["OIDC_CLAIM_sub"] == level1["OIDC_CLAIM_sub"]
    assert level2["OIDC_CLAIM_sid"] == level1["OIDC_CLAIM_sid"]
    assert not csp_violations(person), person.console


def test_form_post_app_with_consent(apache_rp, person):
    rp, email = apache_rp.form_post, apache_rp.user("formpost")
    person.page.goto(f"{rp.url}/protected/")
    person.sign_in(email)
    # A third-party app: the consent page once, then the answer is POSTed to Apache.
    try:
        person.page.wait_for_selector("form[action='/consent']")
    except Exception as exc:  # noqa: BLE001
        raise AssertionError(f"no consent page: {exc}{person.evidence()}") from None
    person.page.click("button[name=decision][value=allow]")
    c = person.claims()
    assert not csp_violations(person), person.console
    assert c["REMOTE_USER"] == email and c["OIDC_CLAIM_aud"] == rp.client_id
    assert '"POST /protected/redirect_uri HTTP/1.1" 302' in apache_rp.httpd.access_log()


def test_form_post_to_an_https_app_on_another_site(apache_rp, person):
    """The agencies' case: the app is https and another site than GovID (go.th is a
    public suffix). mod_auth_openidc's state cookie is SameSite=None; Secure on https,
    so it comes with GovID's cross-site POST."""
    rp, email = apache_rp.cross_site, apache_rp.user("crosssite")
    person.page.goto(f"{rp.url}/protected/")
    person.sign_in(email)
    c = person.claims()
    assert person.page.url.startswith(rp.url)
    assert not csp_violations(person), person.console
    assert c["REMOTE_USER"] == email and c["OIDC_CLAIM_aud"] == rp.client_id
    log = apache_rp.httpd.access_log()
    assert '"POST /protected/redirect_uri HTTP/1.1" 302' in log
    # GovID's page that posts the answer allows exactly the app's origin.
    assert any(f"form-action 'self' {rp.url};" in csp for csp in person.csp.values()), person.csp
