"""The token endpoint (RFC 6749 §3.2): every grant, through Authlib."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response

from idp.oidc.context import NeedsDatabase, OidcContext
from idp.oidc.routes.forms import form_pairs, form_problem, make_ctx, oauth_request, with_no_store
from idp.oidc.routes.refresh import inline_possible, refresh_on_loop
from idp.oidc.server import server_for
from idp.services import Services


async def token(request: Request) -> Response:
    """A request that needs nothing from the database (client_credentials by a client in
    the cache authenticating with a secret) runs here on the event loop and only waits
    for its audit event's group commit (idp/audit/batch.py); on PostgreSQL so does a
    refresh, with one read and its rotation in that commit (``idp.oidc.routes.refresh``,
    decision 0026). Anything else — or anything that turns out to reach for the
    database — runs from the start in the thread pool with a transaction of its own,
    committed before the answer.

    The hottest endpoint of a provider is a plain Starlette route placed first in the
    application's table (``idp.oidc.routes.FIRST_ROUTES``): FastAPI's dependency solving
    and its scan of every route cost more than the rest of a machine token."""
    services: Services = request.app.state.services
    form = await form_pairs(request)
    problem = form_problem(request, form)
    if problem is not None:
        return problem
    if ("grant_type", "client_credentials") in form:
        ctx = make_ctx(request, None, services)
        try:
            response = _token(ctx, request, form)
        except NeedsDatabase:
            pass  # nothing was written or sent: start again with a session
        else:
            await services.audit_batcher.commit(ctx.pending_audit or [])
            return response
    elif ("grant_type", "refresh_token") in form and inline_possible(services, form):
        answered = await refresh_on_loop(request, services, form)
        if answered is not None:
            return answered
    return await run_in_threadpool(_token_in_transaction, request, services, form)


def _token_in_transaction(request: Request, services, form) -> Response:
    with services.sessions() as db, db.begin():
        return _token(make_ctx(request, db, services), request, form)


def _token(ctx: OidcContext, request: Request, form) -> Response:
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer, query=[])
    return with_no_store(server.create_token_response(req))
