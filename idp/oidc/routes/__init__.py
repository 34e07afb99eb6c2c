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

__all__ = ["FIRST_ROUTES", "MalformedForm", "malformed_form_response", "router"]

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

router = APIRouter()
router.include_router(authorize.router)
router.include_router(revoke.router)
router.include_router(end_session.router)
