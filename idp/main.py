"""Application factory: ``create_app(settings)`` builds everything (DESIGN §2 rule 3)."""

from __future__ import annotations

from contextlib import asynccontextmanager

from fastapi import FastAPI

from idp import health
from idp.config import Settings
from idp.services import Services


def create_app(settings: Settings | None = None, services: Services | None = None) -> FastAPI:
    settings = settings or Settings()
    services = services or Services(settings)

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        yield
        services.close()

    app = FastAPI(
        title="GovID",
        version="0.1.0",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        lifespan=lifespan,
    )
    app.state.services = services
    app.include_router(health.router)
    return app
