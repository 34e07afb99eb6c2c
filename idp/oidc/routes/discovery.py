"""Discovery (OIDC Discovery 1.0 §4, RFC 8414 §3) and the JWKS: fetched by every relying
party and resource server, so prebuilt bytes served on the event loop as plain Starlette
routes (``idp.oidc.routes.FIRST_ROUTES``). The document itself: ``idp.oidc.discovery``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.oidc import discovery


async def openid_configuration(request: Request) -> Response:
    return Response(
        discovery.metadata_bytes(request.app.state.services.settings),
        media_type="application/json",
        headers={"Cache-Control": "public, max-age=3600"},
    )


async def jwks(request: Request) -> Response:
    # Keys are loaded at startup and re-read every 30 s (one small query).
    return Response(
        request.app.state.services.keys.jwks_bytes(),
        media_type="application/jwk-set+json",
        headers={"Cache-Control": "public, max-age=300"},
    )
