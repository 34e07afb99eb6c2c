"""Liveness and readiness probes."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from idp import migrate
from idp.db import client_deadline
from idp.deps import ServicesDep

router = APIRouter(tags=["health"])
RETRY = {"Retry-After": "5", "Cache-Control": "no-store"}


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: the database answers within IDP_READYZ_TIMEOUT_SECONDS and its
    schema is one this code runs on. Redis's state (when configured) is in the body."""
    try:
        # A frozen database must not hang the probe: its statements get the
        # probe's own client-side limit instead of a request's.
        with client_deadline(services.settings.readyz_timeout_seconds):
            with services.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            current = migrate.current_revisions(services.engine)
            since = None
            if current != migrate.head_revisions():
                with services.engine.connect() as conn:
                    since = migrate.recorded_compatibility(conn)
    except Exception as exc:  # any driver error means "not ready"
        return JSONResponse(
            {"status": "unavailable", "reason": f"database unreachable: {type(exc).__name__}"},
            status_code=503,
            headers=RETRY,
        )
    head = migrate.head_revisions()
    if not migrate.runs_on(current, since):
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": f"database schema at {migrate.describe(current) or 'nothing'}, "
                f"expected {migrate.describe(head)}"
                + (f" (this schema needs code at {since} or later)" if since else "")
                + "; run `idp db upgrade` with the code that matches it",
            },
            status_code=503,
            headers=RETRY,
        )
    body: dict[str, Any] = {"status": "ready", "schema": migrate.describe(current)}
    if current != head:
        # A rolling upgrade: the schema is newer than this code and says this code runs
        # on it (migrate.runs_on).
        body["code"] = migrate.describe(head)
        body["schema_compatible_since"] = since
    if services.settings.redis_url:
        # Redis down is a degraded service, not an unready one: it holds only counters,
        # and the database takes over their work (idp/redis_client.py). Every instance
        # shares the same Redis, so answering 503 here would take them all out of the
        # load balancer at once for an outage they survive.
        problem = services.redis_problem()
        body["redis"] = "ok" if problem is None else f"unavailable ({problem}); using the database"
        if problem is not None:
            body["degraded"] = ["redis"]
    return JSONResponse(body)
