"""UserInfo endpoint (OIDC Core §5.3), bearer token per RFC 6750 §2.1 and §2.2.

A read (decision 0016): the token's own claims are checked here
(``tokens.liveness.check``), then ONE row says whether its grant, account, deny-list
entry and client are still live and holds the account's claims. On PostgreSQL the row
is read on the event loop (``idp.pg_reads``: no thread, no ORM); a claim that needs
more of the database (``agency_path``, ``roles``), a client not in the cache, and SQLite
take the thread path: the same checks through an autocommit session (no BEGIN, no
COMMIT). A plain Starlette route, without FastAPI's dependency solving."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from idp.oidc import claims as oidc_claims
from idp.oidc.context import NeedsDatabase, OidcContext
from idp.oidc.reads import read_session
from idp.oidc.routes.forms import form_pairs, make_ctx
from idp.services import Services
from idp.tokens import liveness
from idp.tokens.liveness import LiveToken, NeedsSession, TokenError, WrongAudience

router = APIRouter()


def _error(status: int, error: str, description: str) -> JSONResponse:
    # RFC 6750 §3: errors go in WWW-Authenticate.
    header = f'Bearer error="{error}", error_description="{description}"'
    return JSONResponse(
        {"error": error, "error_description": description},
        status_code=status,
        headers={"WWW-Authenticate": header, "Cache-Control": "no-store"},
    )


def _bearer(request: Request, form: list[tuple[str, str]]) -> tuple[str | None, int]:
    found = []
    auth = request.headers.get("authorization", "")
    if auth:
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            found.append(value.strip())
    found += [v for k, v in form if k == "access_token"]
    if request.query_params.get("access_token"):
        found.append("query")  # RFC 9700 §2.4: not accepted in the query string
    return (found[0] if len(found) == 1 and found[0] != "query" else None), len(found)


async def userinfo(request: Request) -> Response:
    services: Services = request.app.state.services
    form = await form_pairs(request)
    token, count = _bearer(request, form)
    if token is None:
        if count > 1:
            return _error(400, "invalid_request", "Send the access token in exactly one place")
        if count:
            return _error(400, "invalid_request", "Access tokens are not accepted in the URL")
        return JSONResponse(
            {"error": "invalid_request"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="GovID"'},
        )
    reader = services.pg_reader
    if reader is not None:
        ctx = make_ctx(request, None, services)  # no session: NeedsDatabase if one is needed
        try:
            checked = _check(ctx, token)
            # The govid scope's agency_path and roles are read with a session: go there
            # at once rather than read the row twice.
            if "govid" not in str(checked.claims.get("scope", "")).split():
                row = await reader.one(checked.statement(with_claims=True), checked.params)
                return _answer(ctx, liveness.decide(checked, row, with_claims=True))
        except TokenError as exc:
            return _refusal(exc)
        except (NeedsDatabase, NeedsSession):
            pass  # nothing was written: the thread path answers, with a session
    return await run_in_threadpool(_userinfo, request, services, token)


def _userinfo(request: Request, services: Services, token: str) -> Response:
    with read_session(services) as db:
        ctx = make_ctx(request, db, services)
        try:
            checked = _check(ctx, token)
            return _answer(ctx, liveness.read(db, checked, with_claims=True))
        except TokenError as exc:
            return _refusal(exc)


def _check(ctx: OidcContext, token: str) -> liveness.Checked:
    # OIDC Core §5.3 wants the token issued for userinfo: one for an API (its `aud`,
    # RFC 8707) is refused, even with `openid` (docs/decisions/0011-api-resources.md).
    return liveness.check(
        ctx.keys, token, issuer=ctx.issuer, now=ctx.services.clock.time(), audience=ctx.issuer
    )


def _refusal(exc: TokenError) -> Response:
    if isinstance(exc, WrongAudience):
        return _error(
            401,
            "invalid_token",
            "The access token is for another resource (aud); use one requested without 'resource'",
        )
    return _error(401, "invalid_token", "The access token is invalid, expired or revoked")


def _answer(ctx: OidcContext, live: LiveToken) -> Response:
    session = (lambda: ctx.db) if ctx.has_db else None
    client = liveness.active_client(ctx.services.client_cache, live.client_id, session)
    scope = live.claims.get("scope", "")
    if live.account is None or "openid" not in scope.split():
        return _error(403, "insufficient_scope", "The access token has no openid scope")
    acr = live.claims.get("acr")
    body = oidc_claims.userinfo(
        ctx,
        account=live.account,
        client=client,
        scope=scope,
        acr=acr,
        claims_request=live.claims_request,
    )
    if acr:
        # The level actually achieved for this token (RFC 9470 semantics), so a resource
        # server or app can decide whether to ask for a step-up.
        body["acr"] = acr
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


router.add_route("/userinfo", userinfo, methods=["GET", "POST"], include_in_schema=False)
