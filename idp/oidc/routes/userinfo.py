"""UserInfo endpoint (OIDC Core §5.3), bearer token per RFC 6750 §2.1 and §2.2.

A read (decision 0014): the token's signature is checked here, its grant, account, deny-list
entry and client status are read in one statement (``tokens.validate_access_token``),
with no transaction (an autocommit session: no BEGIN, no COMMIT) and one trip through
the thread pool; a plain Starlette route, without FastAPI's dependency solving."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from idp.oidc import claims as oidc_claims
from idp.oidc.reads import read_session
from idp.oidc.routes.forms import form_pairs, make_ctx
from idp.services import Services
from idp.tokens import service as tokens

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
    return await run_in_threadpool(_userinfo, request, services, form)


def _userinfo(request: Request, services: Services, form: list[tuple[str, str]]) -> Response:
    with read_session(services) as db:
        return _answer(request, db, services, form)


def _answer(
    request: Request, db: Session, services: Services, form: list[tuple[str, str]]
) -> Response:
    token, count = _bearer(request, form)
    if count > 1:
        return _error(400, "invalid_request", "Send the access token in exactly one place")
    if token is None:
        if count:
            return _error(400, "invalid_request", "Access tokens are not accepted in the URL")
        return JSONResponse(
            {"error": "invalid_request"},
            status_code=401,
            headers={"WWW-Authenticate": 'Bearer realm="GovID"'},
        )
    ctx = make_ctx(request, db, services)
    try:
        # OIDC Core §5.3 wants the token issued for userinfo: one for an API (its `aud`,
        # RFC 8707) is refused, even with `openid` (docs/decisions/0011-api-resources.md).
        valid = tokens.validate_access_token(
            db,
            services.keys,
            token,
            issuer=ctx.issuer,
            audience=ctx.issuer,
            clients=services.client_cache,
        )
    except tokens.WrongAudience:
        return _error(
            401,
            "invalid_token",
            "The access token is for another resource (aud); use one requested without 'resource'",
        )
    except tokens.TokenError:
        return _error(401, "invalid_token", "The access token is invalid, expired or revoked")
    if valid.account is None or "openid" not in valid.claims.get("scope", "").split():
        return _error(403, "insufficient_scope", "The access token has no openid scope")
    client = valid.client
    body = oidc_claims.userinfo(
        ctx,
        account=valid.account,
        client=client,
        scope=valid.claims["scope"],
        acr=valid.claims.get("acr"),
        claims_request=valid.grant.claims if valid.grant else None,
    )
    if valid.claims.get("acr"):
        # The level actually achieved for this token (RFC 9470 semantics), so a resource
        # server or app can decide whether to ask for a step-up.
        body["acr"] = valid.claims["acr"]
    return JSONResponse(body, headers={"Cache-Control": "no-store"})


router.add_route("/userinfo", userinfo, methods=["GET", "POST"], include_in_schema=False)
