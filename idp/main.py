"""Application factory: ``create_app(settings)`` builds everything (DESIGN §2 rule 3)."""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import cast

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.telemetry import TelemetryConfig
from sqlalchemy.exc import SQLAlchemyError
from starlette.exceptions import HTTPException as StarletteHTTPException

from idp import body_limit, health, metrics, outage
from idp.admin import app as admin_api
from idp.config import Settings, fastapi_telemetry
from idp.edge import Edge
from idp.oidc import routes
from idp.outbound import OutboundPolicy
from idp.services import Services
from idp.sessions.logout import LogoutWorker
from idp.web import (
    account_pages,
    frame_pages,
    mfa_pages,
    pages,
    passkey_routes,
    password_pages,
    recovery_pages,
    webauthn_routes,
)
from idp.web.render import Pages
from idp.web.sign_in_pages import SignInPages

STATIC = Path(__file__).parent / "web" / "static"
log = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None,
    services: Services | None = None,
    *,
    start_workers: bool = True,
) -> FastAPI:
    settings = settings or Settings()
    services = services or Services(settings)
    worker = LogoutWorker(services.sessions, outbound=OutboundPolicy.of(services.settings))
    https = settings.issuer.startswith("https://")

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        # Create/load signing keys now, outside any request transaction (on SQLite a
        # request holding the write lock could otherwise wait on itself).
        try:
            services.keys.jwks()
        except SQLAlchemyError as exc:  # not migrated yet: /readyz says so
            log.warning("signing keys not loaded at startup: %s", type(exc).__name__)
        # Choose the argon2id backend now (a timed probe, idp/credentials/passwords.py),
        # not during the first person's sign-in.
        services.hasher  # noqa: B018
        if start_workers:
            worker.start()
        metrics_server = metrics.serve_port(services)  # IDP_METRICS_PORT, if set
        try:
            yield
        finally:
            if metrics_server is not None:
                metrics_server.shutdown()
            worker.stop()
            if "audit_batcher" in services.__dict__:
                await services.audit_batcher.aclose()
            if services.__dict__.get("pg_reader") is not None:
                await services.pg_reader.aclose()
            services.close()

    app = FastAPI(
        title="GovID",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
        telemetry=cast("TelemetryConfig | None", fastapi_telemetry(settings)),
    )
    app.state.services = services
    app.state.pages = Pages(
        secret_key=settings.secret_key, https=https, previous_keys=settings.secret_keys[1:]
    )
    # The pages the provider asks for, rendered by the people's pages (idp.deps).
    app.state.interaction_pages = SignInPages(app.state.pages)
    app.state.logout_worker = worker
    # Request id, metrics, trusted proxies, security headers, body limit and rate limits:
    # one middleware, in that order (idp/edge.py, decision 0027).
    app.add_middleware(
        Edge,
        settings=settings,
        limiter=services.rate_limiter,
        client_address=services.client_address if settings.trusted_proxies else None,
    )
    app.add_exception_handler(routes.MalformedForm, routes.malformed_form_response)
    app.add_exception_handler(RecursionError, body_limit.nested_too_deeply)  # deep JSON
    # 404/405 pages. Starlette types every handler for Exception; it calls this one with
    # its own class only.
    app.add_exception_handler(StarletteHTTPException, pages.http_error)  # type: ignore[arg-type]
    outage.install(app)  # a backing service down: 503 + Retry-After, per surface
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    # /token first, as a plain Starlette route (see idp.oidc.routes.token); /userinfo
    # next to it: behind the included routers its match scanned ~100 routes, ~10 % of a
    # userinfo request (decision 0014).
    app.router.routes[:0] = routes.FIRST_ROUTES
    if not settings.otlp_endpoint:
        # Found by one look-up (decision 0027). Not when traced: FastAPI's telemetry names
        # a span's route (http.route) while its router matches, which the look-up skips.
        routes.dispatch_first(app.router)
    app.include_router(health.router)
    app.router.routes.append(metrics.metrics_route(services))  # IDP_METRICS_TOKEN only
    app.include_router(routes.router)  # /authorize, /revoke, /end_session
    app.include_router(pages.router)
    app.include_router(mfa_pages.router)
    app.include_router(account_pages.router)
    app.include_router(webauthn_routes.router)
    app.include_router(password_pages.router)
    app.include_router(recovery_pages.router)
    app.include_router(passkey_routes.router)
    frame_pages.install(app, settings)  # footer contact, /privacy, /accessibility
    admin_api.mount(app, services)  # /admin/v1 and /scim/v2 (own OpenAPI docs)
    return app
