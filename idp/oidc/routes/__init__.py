"""The OpenID Provider's HTTP endpoints, one module per action (as node-oidc-provider's
``lib/actions``): ``authorize`` (and ``/authorize/resume``), ``token``, ``revoke``,
``introspect``, ``userinfo``, ``discovery`` (and the JWKS), ``end_session``; ``forms``
reads protocol requests. Thin: parse, call Authlib or the decisions, answer.

Pages never import these modules: they reach the flow through ``idp.oidc``."""

from __future__ import annotations

from fastapi import APIRouter
from starlette.routing import Route

from idp.oidc.routes import authorize, discovery, end_session, introspect, revoke, token, userinfo
from idp.oidc.routes.forms import MalformedForm, malformed_form_response
from idp.ratelimit.hooks import limit_token

__all__ = ["FIRST_ROUTES", "MalformedForm", "dispatch_first", "malformed_form_response", "router"]

# Plain Starlette routes placed first in the application's table (idp/main.py): the
# endpoints relying parties and resource servers call most, spared FastAPI's dependency
# solving and its scan of every route (decision 0014).
FIRST_ROUTES = [
    Route("/token", limit_token(token.token), methods=["POST"]),  # per-client rate limit
    Route("/.well-known/openid-configuration", discovery.openid_configuration, methods=["GET"]),
    # RFC 8414 §3: the same document, where OAuth clients and API gateways look.
    Route(
        "/.well-known/oauth-authorization-server",
        discovery.openid_configuration,
        methods=["GET"],
    ),
    Route("/jwks", discovery.jwks, methods=["GET"]),
    Route("/introspect", introspect.introspect, methods=["POST"]),
    *userinfo.router.routes,
]


def dispatch_first(app_router) -> None:
    """The ``FIRST_ROUTES`` found by one dictionary look-up of (path, method) before
    Starlette's router scans its table (a regular expression per route; decision 0027).
    What the router would do for them is done here: ``scope["route"]`` (the metrics'
    template), ``endpoint`` and no path parameters. Anything else — another method
    (405, or another route of that path), a ``root_path`` — goes to the router as before."""
    table = {
        (route.path, m): route
        for route in FIRST_ROUTES
        if isinstance(route, Route)
        for m in route.methods or ()
    }
    scan = app_router.middleware_stack

    async def dispatch(scope, receive, send) -> None:
        route = None
        if scope["type"] == "http" and not scope.get("root_path"):
            route = table.get((scope["path"], scope["method"]))
        if route is None:
            await scan(scope, receive, send)
            return
        scope["router"] = app_router
        scope["route"] = route
        scope["endpoint"] = route.endpoint
        scope["path_params"] = {}
        await route.app(scope, receive, send)

    app_router.middleware_stack = dispatch


router = APIRouter()
router.include_router(authorize.router)
router.include_router(revoke.router)
router.include_router(end_session.router)
