"""``/admin/v1/clients``: thin routes."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from idp.admin import problems
from idp.admin.deps import CtxDep, Cursor, IdempotencyKey, IfMatch, Limit, idempotent, respond
from idp.admin.schemas import Page, dump
from idp.admin.schemas_clients import (
    ClientCreate,
    ClientCreated,
    ClientOut,
    ClientPatch,
    ClientSecret,
)
from idp.agencies.models import Agency
from idp.authz.context import etag
from idp.clients import manage as svc
from idp.clients.models import Client
from idp.clients.service import NewClient
from idp.errors import ScopeNotHeld

router = APIRouter(prefix="/clients", tags=["clients"])
ClientId = Annotated[str, Path(max_length=128, pattern=r"^[A-Za-z0-9._~-]+$")]


def _denials_committed(run: Callable[[], JSONResponse]) -> JSONResponse:
    """A refused scope escalation is answered, not raised: the service recorded the
    attempt (outcome ``denied``), and raising would roll that record back."""
    try:
        return run()
    except ScopeNotHeld as exc:
        return problems.from_domain(exc)


def client_body(ctx, c: Client) -> dict:
    agency = ctx.db.get(Agency, c.agency_id)
    return dump(
        ClientOut,
        {
            **{k: getattr(c, k) for k in ClientOut.model_fields if hasattr(c, k) and k != "agency"},
            "agency": {"id": agency.id, "code": agency.code},
            "auth_method": c.token_endpoint_auth_method,
        },
    )


@router.get("", response_model=Page[ClientOut], summary="Apps of your subtree")
def list_clients(
    ctx: CtxDep,
    status: Annotated[str | None, Query(pattern="^(active|disabled)$")] = None,
    agency: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")] = None,
    sort: Annotated[str, Query(pattern=r"^-?(client_id|created_at)$")] = "client_id",
    cursor: Cursor = None,
    limit: Limit = 50,
):
    page = svc.list_clients(
        ctx, status=status, agency=agency, sort=sort, cursor=cursor, limit=limit
    )
    items = [client_body(ctx, c) for c in page.items]
    return respond(200, {"items": items, "next_cursor": page.next_cursor})


@router.post("", response_model=ClientCreated, status_code=201, summary="Register an app")
def create_client(request: Request, ctx: CtxDep, body: ClientCreate, key: IdempotencyKey = None):
    def run():
        c, secret = svc.create(
            ctx,
            NewClient(
                agency_code=body.agency,
                name_th=body.name_th,
                name_en=body.name_en,
                redirect_uris=tuple(body.redirect_uris),
                post_logout_redirect_uris=tuple(body.post_logout_redirect_uris),
                auth_method=body.auth_method,
                grant_types=tuple(body.grant_types),
                scopes=tuple(body.scopes),
                backchannel_logout_uri=body.backchannel_logout_uri,
                policy_uri=body.policy_uri,
                min_acr=body.min_acr,
                first_party=body.first_party,
                jwks=body.jwks,
                id_token_signed_response_alg=body.id_token_signed_response_alg,
                access_token_ttl=body.access_token_ttl,
                refresh_token_ttl=body.refresh_token_ttl,
            ),
        )
        out = {**client_body(ctx, c), "client_secret": secret}
        return respond(
            201,
            dump(ClientCreated, out),
            etag=etag(c.version),
            location=f"{request.scope.get('root_path', '')}/clients/{c.client_id}",
        )

    return idempotent(request, ctx, key, body, lambda: _denials_committed(run))


@router.get("/{client_id}", response_model=ClientOut, summary="Read an app")
def get_client(ctx: CtxDep, client_id: ClientId):
    c = svc.get(ctx, client_id)
    return respond(200, client_body(ctx, c), etag=etag(c.version))


@router.patch("/{client_id}", response_model=ClientOut, summary="Change an app")
def patch_client(ctx: CtxDep, client_id: ClientId, body: ClientPatch, if_match: IfMatch):
    data = body.model_dump(exclude_unset=True)
    changes = svc.ClientChanges(
        **{k: v for k, v in data.items() if v is not None},
        clear_backchannel_logout_uri="backchannel_logout_uri" in data
        and data["backchannel_logout_uri"] is None,
        clear_policy_uri="policy_uri" in data and data["policy_uri"] is None,
        clear_min_acr="min_acr" in data and data["min_acr"] is None,
        clear_access_token_ttl="access_token_ttl" in data and data["access_token_ttl"] is None,
        clear_refresh_token_ttl="refresh_token_ttl" in data and data["refresh_token_ttl"] is None,
    )

    def run():
        c = svc.update(ctx, client_id, changes, if_match)
        return respond(200, client_body(ctx, c), etag=etag(c.version))

    return _denials_committed(run)


@router.post(
    "/{client_id}/secret", response_model=ClientSecret, summary="Rotate the secret (shown once)"
)
def rotate_secret(
    request: Request,
    ctx: CtxDep,
    client_id: ClientId,
    if_match: IfMatch,
    key: IdempotencyKey = None,
):
    def run():
        c, secret = svc.rotate_secret(ctx, client_id, if_match)
        return respond(
            200, {"client": client_body(ctx, c), "client_secret": secret}, etag=etag(c.version)
        )

    return idempotent(request, ctx, key, None, lambda: _denials_committed(run))


@router.delete("/{client_id}", response_model=ClientOut, summary="Disable an app")
def delete_client(ctx: CtxDep, client_id: ClientId, if_match: IfMatch):
    def run():
        c = svc.disable(ctx, client_id, if_match)
        return respond(200, client_body(ctx, c), etag=etag(c.version))

    return _denials_committed(run)
