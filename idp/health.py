"""Liveness and readiness probes."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from sqlalchemy import text

from idp import migrate
from idp.deps import ServicesDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
def healthz() -> dict[str, str]:
    """The process is alive (no dependencies checked)."""
    return {"status": "ok"}


@router.get("/readyz")
def readyz(services: ServicesDep) -> JSONResponse:
    """Ready to serve: the database answers and its schema is at the migrations head."""
    try:
        with services.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current = migrate.current_revisions(services.engine)
    except Exception as exc:  # any driver error means "not ready"
        return JSONResponse(
            {"status": "unavailable", "reason": f"database unreachable: {type(exc).__name__}"},
            status_code=503,
        )
    head = migrate.head_revisions()
    if current != head:
        return JSONResponse(
            {
                "status": "unavailable",
                "reason": f"database schema at {migrate.describe(current) or 'nothing'}, "
                f"expected {migrate.describe(head)}; run `idp db upgrade`",
            },
            status_code=503,
        )
    return JSONResponse({"status": "ready", "schema": migrate.describe(current)})
