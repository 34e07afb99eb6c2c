"""Throttling and rate limits across TWO GovID servers sharing one store (issue 17 items
7 and 8, decision 0012): Redis, PostgreSQL (the database store) and, for the address
limit, SQLite. Behaviour is asserted (429, a correct password accepted), not timings.

The servers listen on 127.0.0.1 and trust 127.0.0.2 as a reverse proxy: requests sent
from 127.0.0.2 play the proxy (their X-Forwarded-For is believed), requests from
127.0.0.1 are a client that is no proxy (its X-Forwarded-For is ignored).
"""

from __future__ import annotations

import base64
import itertools
import json
import secrets
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from dataclasses import dataclass

import httpx
import pytest
from joserfc.jwk import RSAKey
from sqlalchemy import select

from idp import migrate
from idp.audit.models import AuditEvent
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings, service_missing
from tests.protocol.conftest import Browser, clock_file, seed
from tests.protocol.rp import authorize_url, rp_client
from tests.server import base_env, free_port, serve

WINDOW = 3  # seconds: short rate-limit windows, so real time rarely ends one mid-test
PROXY = "127.0.0.2"
# The address-limit servers' window: longer than the test takes even under load; the
# test moves their clock to a window's start, so its length costs no waiting.
SQLITE_WINDOW = 60


@dataclass
class Pair:
    bases: list[str]
    services: Services
    world: object

    def browser(self, n: int = 0) -> Browser:
        return Browser(self.bases[n % 2])


def _redis_ok() -> None:
    import redis

    try:
        redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
    except redis.ConnectionError as exc:
        service_missing(f"Redis unreachable on 127.0.0.1:6379: {exc}")


def start_pair(request, store: str, backchannel, **extra: str):
    if store == "sqlite":
        url = f"sqlite:///{request.getfixturevalue('tmp_path_factory').mktemp('rl')}/idp.db"
    else:
        url = request.getfixturevalue("pg_server").create_database("govid_rl")
    migrate.upgrade(url)
    ports = [free_port(), free_port()]
    issuer = f"http://127.0.0.1:{ports[0]}"  # one issuer: the second server is a replica
    offset_file = clock_file(request.getfixturevalue("tmp_path_factory"))  # one clock for both
    services = Services(make_settings(url, issuer=issuer, clock_offset_file=offset_file))
    rp_key = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "alg": "RS256"})
    world = seed(services, secrets.token_hex(3), backchannel, rp_key)
    env = base_env(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_CLOCK_OFFSET_FILE=offset_file,
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
        IDP_ISSUER=issuer,
        IDP_ARGON2_MEMORY_KIB="8192",
        IDP_ARGON2_TIME_COST="1",
        IDP_LOGIN_FAILURE_FLOOR_MS="0",
        IDP_LOGIN_DELAY_AFTER_FAILURES="3",
        IDP_LOGIN_LOCKOUT_THRESHOLD="5",
        IDP_IP_FAILURE_THRESHOLD="10",
        IDP_TRUSTED_PROXIES=f"{PROXY}/32",
        IDP_RATE_LIMIT_WINDOW_SECONDS=str(WINDOW),
    )
    env.update(extra)
    if store == "redis":
        _redis_ok()
        env["IDP_REDIS_URL"] = f"redis://127.0.0.1:6379/{1 + secrets.randbelow(14)}"
    stack = ExitStack()
    bases = [stack.enter_context(serve(env, port=p)) for p in ports]
    world.base = bases[0]
    return stack, Pair(bases, services, world)


@pytest.fixture(scope="module", params=["redis", "postgresql"])
def pair(request, backchannel):
    stack, p = start_pair(
        request,
        request.param,
        backchannel,
        IDP_RATE_LIMIT_PER_ADDRESS="100000",  # the NAT test's thousand typos
        IDP_RATE_LIMIT_TOKEN_PER_CLIENT="4",
        IDP_RATE_LIMIT_ADMIN_PER_CALLER="4",
    )
    with stack:
        yield p
    p.services.close()


def sign_in_page(pair: Pair, browser: Browser, client: str = "web") -> httpx.Response:
    url = authorize_url(pair.world, rp_client(pair.world, client))[0]
    page = browser.go(url.removeprefix(pair.world.base))  # on the browser's own server
    assert 'action="/login"' in page.text, page.text[:300]
    return page


def forget_session(browser: Browser) -> None:
    """The browser keeps its device cookies but not its SSO session (a sign-in again)."""
    for cookie in list(browser.http.cookies.jar):
        if "govid_session" in cookie.name:
            browser.http.cookies.delete(cookie.name)


def signed_in(r: httpx.Response) -> bool:
    return r.status_code in (302, 303) and "code=" in r.headers.get("location", "")


# ----------------------------------------------------------------- item 7: sign-in


def test_a_nat_address_with_a_thousand_typos_still_lets_a_correct_password_through(pair):
    # Everyone behind the NAT arrives from 127.0.0.1. A thousand failed sign-ins on
    # other accounts (mistyped emails and passwords), spread over both servers.
    others = [e for n, e in pair.world.users.items() if n not in ("alice", "bob", "carol")]

    def typos(worker: int) -> list[int]:
        b = pair.browser(worker)
        page = sign_in_page(pair, b)
        statuses = []
        for n in range(125):
            email = others[n // 10 % len(others)] if n % 10 == 0 else f"typo{worker}-{n}@x.go.th"
            r = b.login(page, email, f"wrong {n}")
            statuses.append(r.status_code)
            if r.status_code == 429:
                page = sign_in_page(pair, b)  # the person gives up on that account
        return statuses

    with ThreadPoolExecutor(8) as pool:
        statuses = list(itertools.chain.from_iterable(pool.map(typos, range(8))))
    assert len(statuses) == 1000 and statuses.count(401) > 850, statuses.count(401)

    # A correct password for an account that is not itself under attack: accepted, in a
    # browser that never signed in before (no device cookie), on either server.
    for n in (0, 1):
        b = pair.browser(n)
        assert signed_in(b.login(sign_in_page(pair, b), pair.world.users["alice"]))

    # The address is suspect now: a single typo delays that account at once (429 with
    # Retry-After) where three are needed elsewhere; a correct password is still
    # accepted once the wait is over.
    b = pair.browser(0)
    email = pair.world.users["carol"]
    assert b.login(sign_in_page(pair, b), email, "one typo").status_code == 401
    r = b.login(sign_in_page(pair, b), email)
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    pair.world.clock.advance(int(r.headers["Retry-After"]))  # the wait, to the second
    assert signed_in(b.login(sign_in_page(pair, b), email))


def test_an_attacker_on_an_account_does_not_slow_its_owners_known_browser(pair):
    email = pair.world.users["bob"]
    owner = pair.browser(0)
    r = owner.login(sign_in_page(pair, owner), email)
    assert signed_in(r)
    cookies = [c for c in r.headers.get_list("set-cookie") if c.startswith("govid_device_")]
    assert len(cookies) == 1 and "httponly" in cookies[0].lower()
    first = cookies[0].split(";")[0]

    # The attacker, a client elsewhere behind the trusted proxy, until bob is locked.
    statuses = []
    for n in range(20):
        b = Browser(pair.bases[n % 2])
        b.http = httpx.Client(
            base_url=pair.bases[n % 2],
            transport=httpx.HTTPTransport(local_address=PROXY),
            headers={"X-Forwarded-For": "198.51.100.66"},
            follow_redirects=False,
            timeout=20,
        )
        r = b.login(sign_in_page(pair, b), email, f"guess {n}")
        statuses.append(r.status_code)
        if r.status_code == 429:
            if int(r.headers["Retry-After"]) > 60:
                break  # locked
            pair.world.clock.advance(int(r.headers["Retry-After"]))  # delayed: wait, guess on
    assert statuses[-1] == 429 and 401 in statuses, statuses
    # A browser that never signed in to bob is refused even with the right password...
    stranger = pair.browser(1)
    r = stranger.login(sign_in_page(pair, stranger), email)
    assert r.status_code == 429 and r.headers["Retry-After"].isdigit()
    assert "Try again in" in r.text or "ลองใหม่ในอีก" in r.text
    # ...the owner's browser is not, on either server, and its cookie is rotated.
    for n in (1, 0):
        forget_session(owner)
        owner.base = pair.bases[n]
        owner.http.base_url = pair.bases[n]
        r = owner.login(sign_in_page(pair, owner), email)
        assert signed_in(r), (r.status_code, r.text[:300])
    rotated = [c for c in r.headers.get_list("set-cookie") if c.startswith("govid_device_")]
    assert rotated and rotated[0].split(";")[0] != first


def test_x_forwarded_for_is_ignored_from_untrusted_peers_and_honoured_from_a_proxy(pair):
    def failed_from(local: str, xff: str) -> str:
        b = Browser(pair.bases[0])
        b.http = httpx.Client(
            base_url=pair.bases[0],
            transport=httpx.HTTPTransport(local_address=local),
            headers={"X-Forwarded-For": xff},
            follow_redirects=False,
        )
        marker = f"xff-{secrets.token_hex(4)}@nowhere.go.th"
        b.login(sign_in_page(pair, b), marker, "wrong")
        with pair.services.sessions() as db:
            event = db.scalars(
                select(AuditEvent)
                .where(AuditEvent.type == "oidc.login.failed")
                .order_by(AuditEvent.seq.desc())
                .limit(1)
            ).one()
            return event.ip

    # A client that is no proxy cannot choose its address.
    assert failed_from("127.0.0.1", "203.0.113.7") == "127.0.0.1"
    # Through the trusted proxy: the right-most address the proxy did not vouch for.
    assert failed_from(PROXY, "10.9.9.9, 203.0.113.8") == "203.0.113.8"
    assert failed_from(PROXY, f"203.0.113.9, {PROXY}") == "203.0.113.9"


# --------------------------------------------------------------- item 8: rate limits


def token(base: str, client: dict, secret: str | None = None) -> httpx.Response:
    auth = base64.b64encode(f"{client['client_id']}:{secret or client['secret']}".encode())
    return httpx.post(
        f"{base}/token",
        data={"grant_type": "client_credentials", "scope": "admin:accounts"},
        headers={"Authorization": f"Basic {auth.decode()}"},
    )


def until_refused(send, most: int) -> tuple[list[int], httpx.Response]:
    statuses = []
    for n in range(most):
        r = send(n)
        if r.status_code == 429:
            return statuses, r
        statuses.append(r.status_code)
    raise AssertionError(f"never refused: {statuses}")


def test_a_clients_token_budget_is_shared_refused_with_retry_after_and_recovers(pair):
    machine = pair.world.client("machine")
    # Requests that fail client authentication do not spend the client's budget.
    assert all(token(pair.bases[n % 2], machine, "wrong").status_code == 401 for n in range(6))
    # 4 per window across both servers: refused within two windows' worth.
    ok, refused = until_refused(lambda n: token(pair.bases[n % 2], machine), 9)
    assert set(ok) == {200} and 1 <= len(ok) <= 8
    body = refused.json()
    assert body["error"] == "temporarily_unavailable"
    wait = int(refused.headers["Retry-After"])
    assert 1 <= wait <= WINDOW
    assert refused.headers["Cache-Control"] == "no-store"
    pair.world.clock.advance(wait)
    assert token(pair.bases[1], machine).status_code == 200


def test_refused_requests_naming_a_public_client_do_not_spend_its_budget(pair):
    """Found by an independent check: 20 garbage refresh requests naming a single-page
    app (no secret to prove) spent its budget, and its users' real code exchanges were
    then refused with 429. Only issued tokens spend a client's budget."""
    spa = pair.world.client("spa")
    for n in range(12):  # three times the budget of 4, within one or two windows
        r = httpx.post(
            f"{pair.bases[n % 2]}/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": f"garbage-{n}",
                "client_id": spa["client_id"],
            },
        )
        assert r.status_code == 400, (n, r.status_code, r.text)
        assert r.json()["error"] == "invalid_grant"


def test_an_admin_callers_budget_is_shared_and_a_forged_token_cannot_spend_it(pair):
    machine = pair.world.client("machine")
    r = token(pair.bases[0], machine)
    if r.status_code == 429:  # the previous test's window
        pair.world.clock.advance(int(r.headers["Retry-After"]))
        r = token(pair.bases[0], machine)
    access = r.json()["access_token"]
    head, claims, sig = access.split(".")
    forged = f"{head}.{claims}.{sig[:-4]}AAAA"

    def admin(n: int, tok: str = access) -> httpx.Response:
        return httpx.get(
            f"{pair.bases[n % 2]}/admin/v1/agencies", headers={"Authorization": f"Bearer {tok}"}
        )

    clock = pair.world.clock
    clock.advance(WINDOW - clock.time() % WINDOW + 0.05)  # start at a window's beginning
    assert all(admin(n, forged).status_code == 401 for n in range(6))
    ok, refused = until_refused(admin, 9)
    assert set(ok) == {200} and 4 <= len(ok) <= 8, ok
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["type"] == "urn:govid:problem:rate-limited"
    assert int(refused.headers["Retry-After"]) >= 1


# --------------------------------------------------------- the address limit (SQLite)


@pytest.fixture(scope="module")
def sqlite_pair(request, backchannel):
    stack, p = start_pair(
        request,
        "sqlite",
        backchannel,
        IDP_RATE_LIMIT_PER_ADDRESS="6",
        # The test's checks must fall in the window its requests spent: on a loaded
        # machine (load 15) they took longer than three seconds.
        IDP_RATE_LIMIT_WINDOW_SECONDS=str(SQLITE_WINDOW),
    )
    with stack:
        yield p
    p.services.close()


def test_unauthenticated_requests_are_limited_per_address_across_servers(sqlite_pair):
    bases = sqlite_pair.bases

    def page(n: int, local: str = "127.0.0.1", xff: str | None = None) -> httpx.Response:
        with httpx.Client(transport=httpx.HTTPTransport(local_address=local)) as c:
            headers = {"Accept": "text/html", "Accept-Language": "en"}
            if xff:
                headers["X-Forwarded-For"] = xff
            return c.get(f"{bases[n % 2]}/login?i=expired", headers=headers)

    clock = sqlite_pair.world.clock
    clock.advance(SQLITE_WINDOW - clock.time() % SQLITE_WINDOW + 0.05)  # a window's start
    ok, refused = until_refused(page, 14)
    assert 6 <= len(ok) <= 12
    assert int(refused.headers["Retry-After"]) >= 1
    assert "Try again in" in refused.text and "second" in refused.text
    # Other addresses behind the trusted proxy have budgets of their own...
    assert page(0, PROXY, "203.0.113.20").status_code != 429
    # ...and discovery, JWKS and health checks are never limited.
    for path in ("/.well-known/openid-configuration", "/jwks", "/healthz"):
        assert httpx.get(f"{bases[0]}{path}").status_code == 200
    r = httpx.get(f"{bases[1]}/userinfo")
    assert r.status_code == 429 and json.loads(r.text)["error"] == "temporarily_unavailable"
