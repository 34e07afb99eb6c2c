"""Token introspection (RFC 7662) for the APIs allowed it."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idp.keys.service import InvalidToken
from idp.oidc.context import NeedsDatabase, OidcContext, ReadAhead
from idp.oidc.reads import read_session
from idp.oidc.routes.forms import form_pairs, form_problem, make_ctx, oauth_request, with_no_store
from idp.oidc.server import server_for
from idp.services import Services
from idp.tokens import liveness
from idp.tokens.liveness import NeedsSession


async def introspect(request: Request) -> Response:
    """A read (decision 0016): on PostgreSQL an access token's liveness is read
    on the event loop (``read_ahead``, one statement, no thread) and Authlib's endpoint
    runs there too, the client from the client cache; anything that needs a session (a
    client not in the cache, a refresh token, an API's permission, ``private_key_jwt``'s
    replay cache) runs from the start in the thread pool, the token checked by one
    statement in an autocommit session (no BEGIN, no COMMIT). A plain Starlette route in
    ``idp.oidc.routes.FIRST_ROUTES``, as resource servers call it per request."""
    services: Services = request.app.state.services
    form = await form_pairs(request)
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    if services.pg_reader is not None and not any(k == "client_assertion" for k, _ in form):
        ctx = make_ctx(request, None, services)
        ctx.read_ahead = await read_ahead(services, ctx.issuer, form)
        try:
            return _introspection(request, ctx, form)
        except (NeedsDatabase, NeedsSession):
            pass  # nothing was written or sent: start again with a session
    return await run_in_threadpool(_introspect, request, services, form)


async def read_ahead(services: Services, issuer: str, form) -> ReadAhead | None:
    """The liveness of the access token in ``form`` (``token``), read on the event loop;
    None for anything else (Authlib then finds no token or asks for a session)."""
    value = next((v for k, v in form if k == "token"), "")
    if value.count(".") != 2 or len(value) > 8192:
        return None
    try:
        verified = services.keys.verify(value)
    except InvalidToken:
        return ReadAhead(value, None, False)
    try:
        checked = liveness.check(
            services.keys, value, issuer=issuer, now=services.clock.time(), verified=verified
        )
        liveness.decide(checked, await services.pg_reader.one(checked.statement(), checked.params))
    except liveness.TokenError:
        return ReadAhead(value, verified[1], False)
    return ReadAhead(value, verified[1], True)


def _introspect(request: Request, services: Services, form) -> Response:
    if any(name == "client_assertion" for name, _ in form):
        # private_key_jwt writes the assertion's jti to the replay cache: a transaction.
        with services.sessions() as db, db.begin():
            return _introspection(request, make_ctx(request, db, services), form)
    with read_session(services) as db:
        return _introspection(request, make_ctx(request, db, services), form)


def _introspection(request: Request, ctx: OidcContext, form) -> Response:
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return with_no_store(server.create_endpoint_response("introspection", req))
