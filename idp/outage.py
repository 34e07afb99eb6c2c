"""A backing service down, frozen or too slow: 503 with ``Retry-After`` in the format of
the surface that was called, never a text/plain 500.

- ``/token``, ``/userinfo``, ``/revoke``, ``/introspect``, discovery and JWKS: OAuth JSON
  ``{"error": "temporarily_unavailable"}`` (RFC 6749 §4.1.2.1 names the code; the same
  body at the token endpoint lets a client library read it);
- ``/admin/v1``: RFC 9457 problem+json, type ``urn:govid:problem:service-unavailable``;
- ``/scim/v2``: SCIM's own error (RFC 7644 §3.12, ``application/scim+json``, status
  "503"), as every other SCIM error;
- people's pages: the error page in their language.

Which exceptions mean an outage: the database driver's ``OperationalError`` (connection
refused or lost, no answer within IDP_DB_CLIENT_TIMEOUT_SECONDS, statement or lock
timeout, SQLite busy), SQLAlchemy's pool timeout, Redis connection errors and
``ServiceUnavailable`` raised by GovID's own code (the audit group commit).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import Counter
from sqlalchemy import exc as sa_exc

from idp import metrics
from idp.errors import ServiceUnavailable

log = logging.getLogger(__name__)

# How a surface answers an outage in its own format, given the headers to send (Retry-After,
# Cache-Control). The admin API and SCIM register theirs (``respond_with``): this module
# serves every surface and imports none of them.
Responder = Callable[[dict[str, str]], Response]

UNAVAILABLE = Counter(
    "govid_unavailable_responses",
    "503 answers because a backing service was down, frozen or too slow",
    ["surface", "cause"],
    registry=metrics.REGISTRY,
)


def cause_of(exc: BaseException) -> str:
    """``database``, ``redis`` or ``audit`` (the group commit), for the metric."""
    if isinstance(exc, ServiceUnavailable):
        return "audit"
    if type(exc).__module__.startswith("redis"):
        return "redis"
    return "database"


def outage_exceptions(with_redis: bool = True) -> tuple[type[Exception], ...]:
    kinds: list[type[Exception]] = [
        ServiceUnavailable,
        sa_exc.OperationalError,  # psycopg/sqlite OperationalError wrapped by SQLAlchemy
        sa_exc.TimeoutError,  # no pooled connection within IDP_DB_POOL_TIMEOUT_SECONDS
    ]
    try:
        import psycopg

        kinds.append(psycopg.OperationalError)  # raw psycopg (the audit group commit)
    except ImportError:  # pragma: no cover - psycopg is a dependency
        pass
    if with_redis:  # importing redis costs start-up time: only where it is used
        from redis import exceptions as redis_exc

        kinds += [redis_exc.ConnectionError, redis_exc.TimeoutError]
    return tuple(kinds)


OAUTH_PATHS = (
    "/token",
    "/userinfo",
    "/revoke",
    "/introspect",
    "/jwks",
    "/.well-known",
    "/backchannel",
)
PROBLEM_PATHS = ("/admin/v1",)
SCIM_PATHS = ("/scim/v2",)


def _under(path: str, prefixes: tuple[str, ...]) -> bool:
    return any(path == p or path.startswith(f"{p}/") for p in prefixes)


def retry_after(request: Request) -> str:
    services = getattr(request.app.state, "services", None)
    seconds = getattr(getattr(services, "settings", None), "outage_retry_after_seconds", 5)
    return str(seconds)


async def outage_response(request: Request, exc: Exception) -> Response:
    # One line, no traceback: an outage is the operator's to see in /readyz and metrics,
    # not a bug. The message names the kind of failure, never a URL or a password.
    log.warning("backing service unavailable on %s: %s", request.url.path, type(exc).__name__)
    headers = {"Retry-After": retry_after(request), "Cache-Control": "no-store"}
    path = request.scope.get("root_path", "") + request.scope.get("path", "")
    accepts_html = "text/html" in request.headers.get("accept", "")
    if _under(path, PROBLEM_PATHS):
        surface = "admin"
    elif _under(path, SCIM_PATHS):
        surface = "scim"
    elif _under(path, OAUTH_PATHS) or not accepts_html:
        surface = "oauth"
    else:
        surface = "pages"
    UNAVAILABLE.labels(surface, cause_of(exc)).inc()
    responder = (getattr(request.app.state, "outage_responders", None) or {}).get(surface)
    if responder is not None:  # the admin API's problem+json, SCIM's error (their packages)
        return responder(headers)
    if surface != "pages":  # OAuth JSON (also for a surface that registered no responder)
        return JSONResponse(
            {
                "error": "temporarily_unavailable",
                "error_description": "The service is temporarily unavailable; try again later",
            },
            status_code=503,
            headers=headers,
        )
    pg = getattr(request.app.state, "pages", None)  # the people's pages (idp/main.py)
    if pg is None:
        return JSONResponse({"error": "temporarily_unavailable"}, status_code=503, headers=headers)
    response = pg.error(request, "temporarily_unavailable", "service_unavailable", status=503)
    response.headers.update(headers)
    return response


def install(app: FastAPI) -> None:
    """After ``app.state.services`` is set (Redis errors are handled when it is used)."""
    services = getattr(app.state, "services", None)
    with_redis = bool(getattr(getattr(services, "settings", None), "redis_url", None))
    for kind in outage_exceptions(with_redis):
        app.add_exception_handler(kind, outage_response)


def respond_with(app: FastAPI, surface: str, responder: Responder) -> None:
    """``surface`` ("admin", "scim") answers outages on ``app`` with ``responder``."""
    responders = dict(getattr(app.state, "outage_responders", None) or {})
    responders[surface] = responder
    app.state.outage_responders = responders
