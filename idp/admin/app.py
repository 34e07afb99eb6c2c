"""The admin API (``/admin/v1``) and SCIM (``/scim/v2``) as sub-applications, each with
its own OpenAPI document and problem+json error handling."""

from __future__ import annotations

from typing import Any, cast

from fastapi import APIRouter, FastAPI
from fastapi.telemetry import TelemetryConfig

from idp import outage
from idp.admin import problems
from idp.admin.schemas import Problem
from idp.config import fastapi_telemetry
from idp.services import Services

PROBLEM_CONTENT = {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}
COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {"description": desc, "content": PROBLEM_CONTENT}
    for code, desc in (
        (400, "Unusable cursor (invalid-cursor) or an unparsable body (bad-request)"),
        (401, "No valid GovID access token, or a person's token below level 2"),
        (403, "Not allowed for this caller (role, scope or assurance level)"),
        (404, "Not found, or outside your agency subtree (the two look the same)"),
        (409, "Conflict with existing data"),
        (412, "If-Match does not match the current ETag"),
        (422, "Invalid input; `errors` lists every bad field"),
        (428, "If-Match is required"),
    )
}

DESCRIPTION = """\
Delegated administration of GovID for agency admins, auditors, operators and automation.

* **Auth**: `Authorization: Bearer <GovID access token>`. People: a token issued at level
  2 (`acr` = second factor); authority comes from their role grants, read on every
  request. Machines: a client_credentials token with `admin:accounts`, `admin:clients`
  or `admin:audit`, acting over the subtree of the client's agency.
* **Scoping**: everything is limited to your agency subtree; objects elsewhere are 404.
* **Errors**: RFC 9457 `application/problem+json`, stable `type` URIs (`urn:govid:problem:*`).
* **Lists**: `?cursor=&limit=` (max 500), `next_cursor` in each page; allowed `sort` only.
* **Writes**: `ETag` on every resource; `If-Match` required on PATCH and DELETE (428 when
  missing, 412 on mismatch); `Idempotency-Key` honoured on every POST.
"""


def _with_problem_schema(app: FastAPI) -> None:
    """Add the Problem schema to the generated document (referenced by every error)."""
    original = app.openapi

    def openapi() -> dict:
        if app.openapi_schema:
            return app.openapi_schema
        doc = original()
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["Problem"] = Problem.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, sub in schemas["Problem"].pop("$defs", {}).items():
            schemas.setdefault(name, sub)
        # Drop FastAPI's default 422 body (HTTPValidationError): ours is a Problem.
        for path in doc.get("paths", {}).values():
            for op in path.values():
                if isinstance(op, dict) and "422" in op.get("responses", {}):
                    op["responses"]["422"] = {
                        "description": COMMON_RESPONSES[422]["description"],
                        "content": PROBLEM_CONTENT,
                    }
        for unused in ("HTTPValidationError", "ValidationError"):
            schemas.pop(unused, None)
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def create_admin_app(services: Services) -> FastAPI:
    from idp.admin import (
        routes_accounts,
        routes_agencies,
        routes_agency_logo,
        routes_apis,
        routes_audit,
        routes_clients,
        routes_federation,
        routes_imports,
        routes_outbox,
        routes_summary,
    )

    api = FastAPI(
        title="GovID admin API",
        version="1.0.0",
        description=DESCRIPTION,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        telemetry=cast("TelemetryConfig | None", fastapi_telemetry(services.settings)),
    )
    api.state.services = services
    problems.install(api)
    root = APIRouter(responses=COMMON_RESPONSES)
    root.include_router(routes_agencies.router)
    root.include_router(routes_agencies.grants_router)
    root.include_router(routes_agency_logo.router)
    root.include_router(routes_federation.router)
    root.include_router(routes_accounts.router)
    root.include_router(routes_clients.router)
    root.include_router(routes_apis.router)
    root.include_router(routes_imports.router)
    root.include_router(routes_outbox.router)
    root.include_router(routes_audit.router)
    root.include_router(routes_summary.router)
    api.include_router(root)
    _with_problem_schema(api)
    return api


def create_scim_app(services: Services) -> FastAPI:
    from idp.admin.scim import routes as scim_routes

    api = FastAPI(
        title="GovID SCIM 2.0",
        version="2.0",
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        telemetry=cast("TelemetryConfig | None", fastapi_telemetry(services.settings)),
    )
    api.state.services = services
    scim_routes.install(api)
    return api


def mount(app: FastAPI, services: Services) -> None:
    """Called once by ``create_app``."""
    app.mount("/admin/v1", create_admin_app(services))
    app.mount("/scim/v2", create_scim_app(services))
    # An outage noticed before a request reaches them (middleware of the main app).
    outage.respond_with(app, "admin", problems.outage_problem)
    outage.respond_with(app, "scim", problems.outage_scim)
