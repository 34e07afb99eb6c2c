"""Prometheus metrics: ``/metrics`` in the text exposition format.

Never on the public port by default: ``IDP_METRICS_PORT`` serves them on a port of their
own (bound to ``IDP_METRICS_HOST``, loopback unless changed), and ``IDP_METRICS_TOKEN``
serves them at ``/metrics`` on the public port to a caller that sends it as a bearer
token. Neither set: no metrics are served (they are still counted; the cost is a few
dictionary look-ups per request).

What is counted where:

* requests by route template, method and status, and their latency: ``count_request``,
  called by the edge (``idp.edge``; one ``perf_counter`` pair and two label look-ups per
  request);
* sign-ins by outcome and level, tokens by grant type: from the audit events as they are
  made (``count_event``, called by ``idp.audit.service.new_event``);
* audit group-commit batch sizes and chain-lock waits: ``idp.audit.batch``;
* housekeeping: ``idp.maintenance``;
* notices sent to people and failed sends: ``idp.mail.sending``;
* read at scrape time (``StateCollector``): rate-limit refusals
  (``RateLimiter.refusals``), outbox backlog and parked rows, database pool use.

The counters live in one process's memory: with ``idp serve --workers N`` each worker
counts its own, and only the first can bind ``IDP_METRICS_PORT``. Run one worker per
process (several processes or containers behind the proxy), as compose does.
"""

from __future__ import annotations

import hmac
import logging
import time
from wsgiref.simple_server import WSGIServer

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    disable_created_metrics,
    generate_latest,
)
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from idp.metrics.state import StateCollector

log = logging.getLogger(__name__)
disable_created_metrics()  # no *_created series (Prometheus does not need them)

REGISTRY = CollectorRegistry(auto_describe=True)

REQUESTS = Counter(
    "govid_http_requests",
    "HTTP requests answered, by route template, method and status",
    ["route", "method", "status"],
    registry=REGISTRY,
)
LATENCY = Histogram(
    "govid_http_request_duration_seconds",
    "Time to the end of the answer, by route template",
    ["route"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
    registry=REGISTRY,
)
SIGNINS = Counter(
    "govid_signins",
    "Sign-in attempts by outcome (success or the audit reason) and level reached/asked",
    ["outcome", "level"],
    registry=REGISTRY,
)
TOKENS = Counter(
    "govid_tokens_issued",
    "Tokens issued at /token, by grant type",
    ["grant_type"],
    registry=REGISTRY,
)
TOKEN_REFUSALS = Counter(
    "govid_token_refusals",
    "Refused token requests, by OAuth error",
    ["error"],
    registry=REGISTRY,
)
AUDIT_BATCH = Histogram(
    "govid_audit_batch_events",
    "Events per audit group-commit batch",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
    registry=REGISTRY,
)
AUDIT_LOCK_WAIT = Histogram(
    "govid_audit_chain_lock_wait_seconds",
    "Time the audit group-commit writer waited for the chain head lock",
    buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5),
    registry=REGISTRY,
)
MAIL_SENT = Counter(
    "govid_mail_sent",
    "Notices to people handed to the SMTP relay, by kind and result (sent | failed)",
    ["kind", "result"],
    registry=REGISTRY,
)
MAINTENANCE_PURGED = Counter(
    "govid_maintenance_purged_rows",
    "Expired rows removed by housekeeping, by table",
    ["table"],
    registry=REGISTRY,
)
MAINTENANCE_RUNS = Counter(
    "govid_maintenance_runs",
    "Housekeeping runs by result (completed | skipped | failed)",
    ["result"],
    registry=REGISTRY,
)

_LEVEL1_ACR_SUFFIX = ":1"


def count_event(event_type: str, outcome: str, details: dict | None) -> None:
    """Sign-ins and tokens from the audit event describing them (never its values beyond
    a bounded label: a reason, a level, a grant type)."""
    if not event_type.startswith("oidc."):
        return
    d = details or {}
    if event_type == "oidc.login.succeeded":
        child(SIGNINS, "success", _level(d.get("acr"))).inc()
    elif event_type == "oidc.login.stepped_up":
        child(SIGNINS, "success", "2").inc()
    elif event_type == "oidc.login.failed":
        child(SIGNINS, _bounded(d.get("reason")), "1").inc()
    elif event_type == "oidc.mfa.failed":
        child(SIGNINS, _bounded(d.get("reason") or "mfa_failed"), "2").inc()
    elif event_type == "oidc.token.issued":
        child(TOKENS, _bounded(d.get("grant_type"))).inc()
    elif event_type == "oidc.token.refused":
        child(TOKEN_REFUSALS, _bounded(d.get("error"))).inc()


_CHILDREN: dict[tuple, object] = {}


def child(metric, *labels: str):
    """``metric.labels(*labels)``, remembered: ``labels`` validates, locks and builds a
    key on every call, ~2 % of a machine token (decision 0014). Children are never removed
    from these metrics, so a remembered one stays the one exported. Bounded: label
    values that vary without limit (none should) are looked up each time."""
    key = (metric, labels)
    found = _CHILDREN.get(key)
    if found is None:
        found = metric.labels(*labels)
        if len(_CHILDREN) < 4096:
            _CHILDREN[key] = found
    return found


def _level(acr: object) -> str:
    return "2" if isinstance(acr, str) and acr.endswith(":2") else "1"


def _bounded(value: object) -> str:
    """A label value from a fixed vocabulary; anything odd is 'other' (no label explosion)."""
    if isinstance(value, str) and 0 < len(value) <= 48 and value.replace("_", "").isalnum():
        return value
    if isinstance(value, str) and value.startswith("urn:ietf:params:oauth:grant-type:"):
        return value.rsplit(":", 1)[1][:48]
    return "other"


class _Both:
    """The process's counters and one app's scrape-time values as one registry."""

    def __init__(self, state: StateCollector) -> None:
        self.state = state

    def collect(self):
        yield from REGISTRY.collect()
        yield from self.state.collect()


def exposition(services) -> bytes:
    return generate_latest(_Both(StateCollector(services)))


def bearer_ok(header: str | None, token: str) -> bool:
    if not token or not header or not header.lower().startswith("bearer "):
        return False
    return hmac.compare_digest(header[7:].strip().encode(), token.encode())


def metrics_route(services):
    """``GET /metrics`` on the public port, for ``IDP_METRICS_TOKEN`` only (else 404)."""
    from starlette.responses import PlainTextResponse, Response
    from starlette.routing import Route

    token = services.settings.metrics_token

    def endpoint(request) -> Response:
        if not token:
            return PlainTextResponse("Not Found", status_code=404)
        if not bearer_ok(request.headers.get("authorization"), token):
            return PlainTextResponse(
                "Unauthorized", status_code=401, headers={"WWW-Authenticate": "Bearer"}
            )
        return Response(exposition(services), media_type=CONTENT_TYPE_LATEST)

    return Route("/metrics", endpoint, methods=["GET"], include_in_schema=False)


def serve_port(services) -> WSGIServer | None:
    """Start the separate metrics port (``IDP_METRICS_PORT``) in a daemon thread."""
    from prometheus_client import start_http_server

    s = services.settings
    if not s.metrics_port:
        return None
    try:
        server, _thread = start_http_server(
            s.metrics_port, addr=s.metrics_host, registry=_Both(StateCollector(services))
        )
    except OSError as exc:  # another worker of this host has it
        log.warning("metrics port %s:%s not bound: %s", s.metrics_host, s.metrics_port, exc)
        return None
    log.info("metrics on http://%s:%s/metrics", s.metrics_host, s.metrics_port)
    return server


def count_request(scope, status: int, started: float) -> None:
    """One HTTP answer, counted by route template, method and status, and its latency
    since ``started`` (``time.perf_counter``); called by the edge (``idp.edge``) when the
    answer is over. The route template is what the router matched (``scope['route']``,
    filled in by Starlette as the request passes), so ``/admin/v1/accounts/{id}`` is one
    series, not one per account; unmatched paths are ``unmatched``."""
    route = _route_of(scope)
    child(REQUESTS, route, scope["method"], str(status)).inc()
    child(LATENCY, route).observe(time.perf_counter() - started)


def _route_of(scope) -> str:
    route = scope.get("route")
    if route is None:
        # Some dispatchers (idp.oidc.routes' fast path, a mount's app) set only the
        # endpoint: its route's template from the app's table (built once per app).
        endpoint = scope.get("endpoint")
        app = scope.get("app")
        if endpoint is None or app is None:
            return "unmatched"
        table = getattr(app.state, "metrics_routes", None)
        if table is None:
            table = app.state.metrics_routes = _route_table(app)
        return table.get(id(endpoint), "other")
    path: str = getattr(route, "path_format", None) or getattr(route, "path", None) or ""
    if not hasattr(route, "endpoint"):  # a Mount: one series for all it serves
        return path
    return (scope.get("root_path") or "") + path


def _route_table(app) -> dict[int, str]:
    table: dict[int, str] = {}
    for route in app.router.routes:
        path: str = getattr(route, "path_format", None) or getattr(route, "path", None) or ""
        if getattr(route, "endpoint", None) is not None:
            table[id(route.endpoint)] = path
        elif getattr(route, "app", None) is not None:  # a Mount: path_format ends /{path}
            table[id(route.app)] = path
    return table


__all__ = ["CONTENT_TYPE_LATEST", "REGISTRY", "count_event", "count_request", "exposition"]
