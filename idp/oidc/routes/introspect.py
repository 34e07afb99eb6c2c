"""Token introspection (RFC 7662) for the APIs allowed it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idp.oidc.reads import read_session
from idp.oidc.routes.forms import form_pairs, form_problem, make_ctx, oauth_request, with_no_store
from idp.oidc.server import server_for
from idp.services import Services


async def introspect(request: Request) -> Response:
    """A read: the client is authenticated from the client cache, the token checked by
    ``validate_access_token`` (one statement) in an autocommit session (no BEGIN, no
    COMMIT), with one trip through the thread pool; a plain Starlette route in
    ``idp.oidc.routes.FIRST_ROUTES``, as resource servers call it per request."""
    services: Services = request.app.state.services
    form = await form_pairs(request)
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    return await run_in_threadpool(_introspect, request, services, form)


def _introspect(request: Request, services: Services, form) -> Response:
    if any(name == "client_assertion" for name, _ in form):
        # private_key_jwt writes the assertion's jti to the replay cache: a transaction.
        with services.sessions() as db, db.begin():
            return _introspection(request, db, services, form)
    with read_session(services) as db:
        return _introspection(request, db, services, form)


def _introspection(request: Request, db, services: Services, form) -> Response:
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return with_no_store(server.create_endpoint_response("introspection", req))
