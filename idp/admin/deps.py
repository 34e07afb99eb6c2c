"""FastAPI dependencies of the admin API: the caller (from a GovID bearer token, with
role grants loaded fresh on every request), the context, If-Match, paging, and the
Idempotency-Key helper used by every POST."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Annotated, Any

from fastapi import Depends, Header, Query, Request
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel
from sqlalchemy.exc import IntegrityError

from idp import errors
from idp.admin import denials
from idp.admin.errors import (
    IdempotencyInProgress,
    InsufficientAssurance,
    PreconditionRequired,
    Unauthenticated,
)
from idp.authz.caller import Caller, caller_for_account, caller_for_client
from idp.authz.context import ANY, Ctx
from idp.deps import COMMIT_ON_ERROR, DbDep, ServicesDep
from idp.idempotency import service as idempotency
from idp.paging import DEFAULT_LIMIT, MAX_LIMIT
from idp.sessions import service as sessions
from idp.tokens import service as tokens


def parse_if_match(value: str | None) -> frozenset[str] | str | None:
    """RFC 9110 §13.1.1. Weak tags are accepted as their strong form (our tags are strong,
    so ``W/"3"`` from an intermediary that weakened it still names version 3)."""
    if value is None:
        return None
    value = value.strip()
    if value == ANY:
        return ANY
    tags = set()
    for part in value.split(","):
        part = part.strip().removeprefix("W/")
        if part:
            tags.add(part)
    return frozenset(tags)


bearer = HTTPBearer(auto_error=False, description="A GovID access token (RFC 9068 JWT)")


def get_caller(
    db: DbDep,
    services: ServicesDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Caller:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthenticated("a bearer access token is required")
    settings = services.settings
    try:
        # Signature, typ at+jwt, issuer, audience, expiry, deny-list, grant and account.
        valid = tokens.validate_access_token(
            db,
            services.keys,
            credentials.credentials,
            issuer=settings.issuer,
            now=services.clock.time(),
            audience=settings.issuer,  # a token for an agency's API is not for us
        )
    except tokens.TokenError:
        raise Unauthenticated("the access token is invalid, expired or revoked") from None
    claims = valid.claims
    client = valid.client  # active: validate_access_token checked it
    scopes = frozenset(str(claims.get("scope") or "").split())
    if valid.account is not None:
        # People administer only after a second factor (DESIGN §6: level 2).
        if claims.get("acr") != settings.acr_level2:
            raise InsufficientAssurance(
                "the admin API needs a level-2 (second factor) sign-in",
                acr_values=settings.acr_level2,
            )
        # The level-2 session the token came from must still be live at level 2: a
        # refresh token must not keep admin power past the level-2 idle limit.
        sid = claims.get("sid") or (valid.grant.sid if valid.grant is not None else None)
        if not sessions.level2_in_use(db, settings, sid, services.clock.now()):
            raise InsufficientAssurance(
                "your level-2 sign-in has ended or lapsed; sign in again with your second factor",
                acr_values=settings.acr_level2,
            )
        return caller_for_account(db, valid.account, client, scopes, services.clock.now())
    if "client_credentials" not in (client.grant_types or []):
        raise Unauthenticated("the access token's client is not a machine client")
    return caller_for_client(db, client, scopes)


CallerDep = Annotated[Caller, Depends(get_caller)]


def get_ctx(request: Request, db: DbDep, services: ServicesDep, caller: CallerDep) -> Iterator[Ctx]:
    """The operation's context. Its work runs in a savepoint: when the caller is refused
    (a role, a scope, a protected account, an object outside its subtree), the work is
    undone and the refusal is recorded and kept (``denials``), then answered."""
    savepoint = db.begin_nested()
    try:
        yield Ctx(db=db, caller=caller, services=services)
    except errors.DomainError as exc:
        if savepoint.is_active:
            savepoint.rollback()
        if not denials.is_denial(exc):
            raise
        route = request.scope.get("route")
        params = request.scope.get("path_params") or {}
        target = next(iter(params.values()), None)
        denials.record(
            db,
            caller,
            exc,
            denials.RequestSeen(
                method=request.method,
                path=request.scope.get("root_path", "") + (route.path if route else ""),
                target=str(target) if target is not None else None,
                ip=request.client.host if request.client else None,
                user_agent=request.headers.get("user-agent"),
            ),
        )
        db.info[COMMIT_ON_ERROR] = True
        raise
    if savepoint.is_active:
        savepoint.commit()


CtxDep = Annotated[Ctx, Depends(get_ctx, scope="function")]


def if_match_required(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="The resource's ETag (or *); required",
            pattern=r"^[^\x00-\x1f\x7f]*$",
            max_length=512,
        ),
    ] = None,
) -> frozenset[str] | str:
    parsed = parse_if_match(if_match)
    if parsed is None:
        # RFC 6585 §3: we insist on conditional writes (lost-update protection).
        raise PreconditionRequired("send If-Match with the ETag you last read", field="If-Match")
    return parsed


def if_match_optional(
    if_match: Annotated[
        str | None,
        Header(
            alias="If-Match",
            description="The resource's ETag (or *); checked when sent",
            pattern=r"^[^\x00-\x1f\x7f]*$",
            max_length=512,
        ),
    ] = None,
) -> frozenset[str] | str | None:
    return parse_if_match(if_match)


IfMatch = Annotated[frozenset[str] | str, Depends(if_match_required)]
IfMatchOptional = Annotated[frozenset[str] | str | None, Depends(if_match_optional)]
IdempotencyKey = Annotated[
    str | None,
    Header(
        alias="Idempotency-Key",
        description="Makes a retried POST safe: same key and body, same result",
        max_length=255,
        pattern=r"^[\x21-\x7e]+$",
    ),
]
# Not constrained here: a cursor this API did not hand out is a 400 invalid-cursor
# problem (idp.paging), whatever is wrong with it.
Cursor = Annotated[
    str | None, Query(description="From next_cursor; anything else is 400 invalid-cursor")
]
Limit = Annotated[int, Query(ge=1, le=MAX_LIMIT, description="Page size, at most 500")]
DEFAULT_PAGE = DEFAULT_LIMIT


def respond(
    status: int, body: dict[str, Any], *, etag: str | None = None, location: str | None = None
) -> JSONResponse:
    headers = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return JSONResponse(body, status_code=status, headers=headers)


def idempotent(
    request: Request,
    ctx: Ctx,
    key: str | None,
    payload: BaseModel | dict | None,
    run: Callable[[], JSONResponse],
) -> JSONResponse:
    """Run a POST once per Idempotency-Key; replay the stored response on a retry."""
    if not key:
        return run()
    idempotency.check_key(key)
    body = payload.model_dump(mode="json") if isinstance(payload, BaseModel) else payload
    fp = idempotency.fingerprint(request.method, request.url.path, body)
    cipher = ctx.services.cipher
    now = ctx.services.clock.now()
    stored = idempotency.lookup(ctx.db, cipher, ctx.actor, key, fp, now)
    if stored is not None:
        headers = {**stored.headers, "Idempotent-Replayed": "true"}
        return JSONResponse(stored.body, status_code=stored.status_code, headers=headers)
    response = run()
    keep = {k: v for k, v in response.headers.items() if k.lower() in ("etag", "location")}
    try:
        with ctx.db.begin_nested():
            idempotency.store(
                ctx.db, cipher, ctx.actor, key, fp, response.status_code, keep,
                json.loads(bytes(response.body)), now,
            )  # fmt: skip
    except IntegrityError:
        # A twin request with this key committed first: this one is rolled back whole.
        raise IdempotencyInProgress(
            "a request with this Idempotency-Key was processed meanwhile; retry to get its result",
            field="Idempotency-Key",
        ) from None
    return response
