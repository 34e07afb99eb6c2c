"""Rate limits (decision 0012): per client at ``/token``, per caller on
``/admin/v1`` and ``/scim/v2``, per address everywhere else a person or a program can
call without credentials.

Each limit is a budget per fixed window (``IDP_RATE_LIMIT_WINDOW_SECONDS``) shared by
every worker: a counter per window in Redis when configured, else a row of the throttle
table (``idp/credentials/throttle.py``: ``add``/``window_key``). A process does not ask
the shared store for every request: it takes a slice of the budget (1/20 of the limit)
with one atomic increment and spends it locally, on the event loop, with no
lock and no round trip. The shared counter never grants more than the limit; what a
process holds when the budget runs out is stranded until the window ends (at most one
slice per process, documented in the decision record).

Refusals are answered ``429`` with ``Retry-After`` (the seconds left in the window) and
counted (``RateLimiter.refusals``, a log summary at most once a minute), never audited
one by one: a flood must not become a flood of audit rows.

Whose budget a request spends, so that nobody can spend someone else's:
* ``/token``: the client it names, unless it is answered ``401`` (the client did not
  authenticate); then the address's.
* ``/admin/v1``, ``/scim/v2``: the caller named by the bearer token (its ``client_id`` and
  ``sub``, read before the token is verified), unless the answer is ``401``; then the
  address's. Requests without a token spend the address's.
* elsewhere (pages, ``/authorize``, ``/userinfo``, ``/revoke``, ...): the address's.
  Discovery, JWKS, static files and health checks are not limited (prebuilt answers cost
  less than the limiter would).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import math
import time
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.credentials.throttle import DbThrottleStore, RedisThrottleStore, window_key

log = logging.getLogger(__name__)

UNLIMITED_PATHS = ("/static", "/healthz", "/readyz", "/.well-known", "/jwks", "/favicon.ico")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MAX_KEY = 200


@dataclass
class _Slice:
    window: int
    available: int = 0
    exhausted: bool = False


class SharedBudget:
    """Per-process slices of budgets shared through ``lease(key, window, n, limit)``,
    which adds ``n`` to the shared counter and says how many of them fit the limit."""

    def __init__(self, lease, window_seconds: int, clock=time.time) -> None:
        self.lease = lease
        self.seconds = window_seconds
        self.clock = clock
        self.slices: dict[str, _Slice] = {}

    def _retry_after(self, window: int, now: float) -> int:
        return max(1, math.ceil((window + 1) * self.seconds - now))

    def _slice(self, key: str, window: int) -> _Slice:
        s = self.slices.get(key)
        if s is None or s.window != window:
            if s is None and len(self.slices) > 50_000:
                self.slices = {k: v for k, v in self.slices.items() if v.window >= window}
            s = self.slices[key] = _Slice(window)
        return s

    async def take(self, key: str, limit: int) -> int:
        """0 when the request may go on, else the seconds until the window ends."""
        now = self.clock()
        window = int(now // self.seconds)
        s = self._slice(key, window)
        if s.available > 0:
            s.available -= 1
            return 0
        if s.exhausted:
            return self._retry_after(window, now)
        want = max(1, min(limit // 20, 10_000))
        granted = await run_in_threadpool(self.lease, key, window, want, limit)
        s = self._slice(key, window)
        if granted <= 0:
            s.exhausted = True
            return self._retry_after(window, now)
        s.available += granted - 1
        return 0

    def give_back(self, key: str) -> None:
        s = self.slices.get(key)
        if s is not None and s.window == int(self.clock() // self.seconds):
            s.available += 1

    def exhausted(self, key: str) -> int:
        """The wait if this process already knows the key's budget is spent (no I/O)."""
        s = self.slices.get(key)
        now = self.clock()
        if s is not None and s.exhausted and s.window == int(now // self.seconds):
            return self._retry_after(s.window, now)
        return 0


class RefusalCounter:
    """Refusals per surface since start (for a /metrics exporter) and a log summary."""

    def __init__(self, every_seconds: float = 60.0) -> None:
        self.total: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self.every = every_seconds
        self._next = time.monotonic() + every_seconds

    def count(self, surface: str) -> None:
        self.total[surface] += 1
        self._pending[surface] += 1
        if time.monotonic() >= self._next:
            self.flush()

    def flush(self) -> None:
        self._next = time.monotonic() + self.every
        if self._pending:
            summary = ", ".join(f"{k}={v}" for k, v in sorted(self._pending.items()))
            log.warning("rate limits refused requests: %s", summary)
            self._pending.clear()

    def snapshot(self) -> dict[str, int]:
        return dict(self.total)


class RateLimiter:
    def __init__(self, services) -> None:
        self.services = services
        s = services.settings
        self.settings = s
        self.enabled = s.rate_limits
        self.budget = SharedBudget(self._lease, s.rate_limit_window_seconds, services.clock.time)
        self.refusals = RefusalCounter()
        self._next_purge = 0.0

    def _lease(self, key: str, window: int, n: int, limit: int) -> int:
        """Runs in the thread pool: one atomic increment in Redis or the database."""
        seconds = self.settings.rate_limit_window_seconds
        now = self.services.clock.now()
        counter, expires = window_key(f"rl:{key}", seconds, now)
        if int(now.timestamp() // seconds) != window:  # the window ended meanwhile
            return n
        try:
            total = None
            redis = self.services.redis
            if redis is not None and self.services.redis_breaker.available():
                try:
                    total = RedisThrottleStore(redis).add(counter, n, now, expires)
                except Exception as exc:  # Redis down: the database's counter
                    self.services.redis_breaker.failed(exc)
            if total is None:
                with self.services.sessions() as db, db.begin():
                    store = DbThrottleStore(db)
                    total = store.add(counter, n, now, expires)
                    if time.monotonic() >= self._next_purge:
                        self._next_purge = time.monotonic() + 60
                        store.purge(now)
        except Exception:  # the limiter must not turn an outage into refusals or 500s
            log.warning("rate limit store unavailable; allowing", exc_info=True)
            return n
        return max(0, min(n, limit - (total - n)))

    async def take(self, surface: str, key: str, limit: int) -> int:
        if not limit:
            return 0
        wait = await self.budget.take(f"{surface}:{key}"[:MAX_KEY], limit)
        if wait:
            self.refusals.count(surface)
        return wait

    def give_back(self, surface: str, key: str) -> None:
        self.budget.give_back(f"{surface}:{key}"[:MAX_KEY])

    def address_exhausted(self, ip: str | None) -> int:
        if not self.settings.rate_limit_per_address:
            return 0
        wait = self.budget.exhausted(f"addr:{ip}"[:MAX_KEY])
        if wait:
            self.refusals.count("addr")
        return wait

    async def charge_address(self, ip: str | None) -> None:
        """Spend from the address's budget after the fact (an unauthenticated answer);
        when it runs out, ``address_exhausted`` refuses the address's next requests."""
        limit = self.settings.rate_limit_per_address
        if limit:
            await self.budget.take(f"addr:{ip}"[:MAX_KEY], limit)


# ---------------------------------------------------------------------------- answers


def _retry(wait: int) -> dict[str, str]:
    return {"Retry-After": str(wait)}


def token_refusal(wait: int) -> Response:
    """RFC 6749 §5.2 has no rate-limit code; ``temporarily_unavailable`` (RFC 6749
    §4.1.2.1) says what happened, 429 and Retry-After (RFC 6585 §4, RFC 9110 §10.2.3)
    say when to come back (decision 0012)."""
    body = {
        "error": "temporarily_unavailable",
        "error_description": f"Too many requests. Retry after {wait} seconds.",
    }
    return JSONResponse(body, status_code=429, headers={**NO_STORE, **_retry(wait)})


def problem_refusal(wait: int) -> Response:
    body = {
        "type": "urn:govid:problem:rate-limited",
        "title": "Too many requests",
        "status": 429,
        "detail": f"This caller's request budget is spent. Retry after {wait} seconds.",
    }
    return JSONResponse(
        body, status_code=429, headers=_retry(wait), media_type="application/problem+json"
    )


def scim_refusal(wait: int) -> Response:
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:Error"],
        "status": "429",
        "detail": f"Too many requests. Retry after {wait} seconds.",
    }
    return JSONResponse(
        body, status_code=429, headers=_retry(wait), media_type="application/scim+json"
    )


def address_refusal(scope, wait: int) -> Response:
    request = Request(scope)
    pages = getattr(request.app.state, "pages", None) if "app" in scope else None
    if pages is not None and "text/html" in request.headers.get("accept", ""):
        locale = pages.locale(request)
        response = pages.error(
            request,
            "too_many_requests",
            "rate_limited",
            status=429,
            wait=pages.wait_text(wait, locale),
        )
        response.headers.update(_retry(wait))
        return response
    return token_refusal(wait)


# ------------------------------------------------------------------- who is asking


def _b64json(segment: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


def bearer_caller(scope) -> str | None:
    """``client_id|sub`` of the bearer token, read without verifying it: only ever used
    to choose whose budget to spend, and given back when the token is refused (401)."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() != "bearer " or text.count(".") != 2 or len(text) > 8192:
                return None
            claims = _b64json(text[7:].split(".")[1])
            cid, sub = claims.get("client_id"), claims.get("sub")
            if not isinstance(cid, str) and not isinstance(sub, str):
                return None
            return f"{cid}|{sub}"
    return None


@lru_cache(maxsize=1024)
def _basic_user(auth: str) -> str | None:
    """The user part of HTTP Basic (a client id, RFC 6749 §2.3.1), cached: a machine
    client sends the same header with every request."""
    try:
        user = base64.b64decode(auth[6:], validate=True).decode().split(":", 1)[0]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user.replace("+", " ")) or None


def claimed_client(request: Request, body: bytes) -> str | None:
    """The client a token request names (HTTP Basic, else ``client_id``, else a
    ``client_assertion``'s ``sub``), before it is authenticated."""
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        return _basic_user(auth)
    if not body:
        return None
    try:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=1000))
    except ValueError:
        return None
    if form.get("client_id"):
        return form["client_id"]
    if form.get("client_assertion", "").count(".") == 2:
        sub = _b64json(form["client_assertion"].split(".")[1]).get("sub")
        return sub if isinstance(sub, str) else None
    return None


# ------------------------------------------------------------------------- the hooks


def limit_token(endpoint):
    """Wraps the ``/token`` endpoint (``idp.oidc.routes.FIRST_ROUTES``): a local hook, the endpoint
    itself is unchanged."""

    async def token(request: Request) -> Response:
        limiter: RateLimiter = request.app.state.services.rate_limiter
        per_client = limiter.settings.rate_limit_token_per_client
        if not limiter.enabled:
            return await endpoint(request)
        ip = request.client.host if request.client else None
        wait = limiter.address_exhausted(ip)
        if wait:
            return token_refusal(wait)
        client = claimed_client(
            request, b"" if request.headers.get("authorization") else await request.body()
        )
        if client is not None:
            wait = await limiter.take("token", client, per_client)
            if wait:
                return token_refusal(wait)
        response = await endpoint(request)
        # Only an issued token spends the client's budget (decision 0012): a public client
        # cannot authenticate, and some refusals come before authentication, so anyone
        # could otherwise spend it and lock out the app's users. A refusal spends the
        # address's budget instead.
        if client is None or response.status_code >= 400:
            if client is not None:
                limiter.give_back("token", client)
            await limiter.charge_address(ip)
        return response

    return token


class RateLimits:
    """ASGI middleware for everything but ``/token`` (see ``limit_token``)."""

    def __init__(self, app, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter
        s = limiter.settings
        self.surfaces = (
            ("/admin/v1", "admin", s.rate_limit_admin_per_caller, problem_refusal),
            ("/scim/v2", "scim", s.rate_limit_scim_per_caller, scim_refusal),
        )

    async def __call__(self, scope, receive, send) -> None:
        limiter = self.limiter
        if scope["type"] != "http" or not limiter.enabled:
            return await self.app(scope, receive, send)
        path = scope["path"]
        if path == "/token" or path.startswith(UNLIMITED_PATHS):
            return await self.app(scope, receive, send)
        client = scope.get("client")
        ip = client[0] if client else None
        for prefix, surface, limit, refusal in self.surfaces:
            if path == prefix or path.startswith(prefix + "/"):
                return await self._caller(scope, receive, send, ip, surface, limit, refusal)
        wait = await limiter.take("addr", str(ip), limiter.settings.rate_limit_per_address)
        if wait:
            return await address_refusal(scope, wait)(scope, receive, send)
        await self.app(scope, receive, send)

    async def _caller(self, scope, receive, send, ip, surface, limit, refusal) -> None:
        limiter = self.limiter
        wait = limiter.address_exhausted(ip)
        caller = bearer_caller(scope)
        if not wait and caller is not None:
            wait = await limiter.take(surface, caller, limit)
        if wait:
            return await refusal(wait)(scope, receive, send)
        status = 0

        async def watch(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if caller is None or status == 401:
            if caller is not None:
                limiter.give_back(surface, caller)
            await limiter.charge_address(ip)
