"""The rate limits on the app (overview in ``idp.ratelimit``): ``limit_token`` around
``/token``, ``RateLimits`` (applied by the edge, ``idp.edge``) for everything else, and
their 429 answers with ``Retry-After``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from idp.ratelimit.budget import RateLimiter
from idp.ratelimit.callers import bearer_caller, claimed_client

UNLIMITED_PATHS = ("/static", "/healthz", "/readyz", "/.well-known", "/jwks", "/favicon.ico")
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


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
    """The limits for everything but ``/token`` (see ``limit_token``), applied by the edge
    (``idp.edge``): ``surface`` says which budget a path spends; an address-limited path
    is let through or refused with ``take_address`` before the app runs, the admin API
    and SCIM by caller through ``by_caller`` around it."""

    def __init__(self, limiter: RateLimiter) -> None:
        self.limiter = limiter
        s = limiter.settings
        self.surfaces = (
            ("/admin/v1", "admin", s.rate_limit_admin_per_caller, problem_refusal),
            ("/scim/v2", "scim", s.rate_limit_scim_per_caller, scim_refusal),
        )

    def surface(self, path: str) -> tuple | str | None:
        """None: no limit here; ``"address"``: the address's budget; else the caller
        surface (prefix, name, limit, refusal) for ``by_caller``."""
        if not self.limiter.enabled or path == "/token" or path.startswith(UNLIMITED_PATHS):
            return None
        for entry in self.surfaces:
            prefix = entry[0]
            if path == prefix or path.startswith(prefix + "/"):
                return entry
        return "address"

    async def take_address(self, scope) -> Response | None:
        """The 429 to send instead of the app's answer, or None to go on."""
        limiter = self.limiter
        client = scope.get("client")
        ip = client[0] if client else None
        wait = await limiter.take("addr", str(ip), limiter.settings.rate_limit_per_address)
        return address_refusal(scope, wait) if wait else None

    async def by_caller(self, surface: tuple, app, scope, receive, send) -> None:
        """``app`` under the caller's budget of ``surface`` (the admin API, SCIM)."""
        _prefix, name, limit, refusal = surface
        limiter = self.limiter
        client = scope.get("client")
        ip = client[0] if client else None
        wait = limiter.address_exhausted(ip)
        caller = bearer_caller(scope)
        if not wait and caller is not None:
            wait = await limiter.take(name, caller, limit)
        if wait:
            return await refusal(wait)(scope, receive, send)
        status = 0

        async def watch(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await app(scope, receive, watch)
        if caller is None or status == 401:
            if caller is not None:
                limiter.give_back(name, caller)
            await limiter.charge_address(ip)
