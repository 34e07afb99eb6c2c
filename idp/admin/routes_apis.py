"""``/admin/v1/apis``: an agency's APIs (RFC 8707 resources). Thin routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request

from idp.admin.deps import (
    CtxDep,
    Cursor,
    IdempotencyKey,
    IfMatch,
    IfMatchOptional,
    Limit,
    idempotent,
    respond,
)
from idp.admin.schemas import Page, dump
from idp.admin.schemas_apis import ApiCreate, ApiOut, ApiPatch, ApiSecret, ApiWithSecret
from idp.agencies.models import Agency
from idp.authz.context import etag
from idp.resources import manage as svc
from idp.resources import registration
from idp.resources import service as resources
from idp.resources.models import ApiResource

router = APIRouter(prefix="/apis", tags=["apis"])


def api_body(ctx, api: ApiResource) -> dict:
    agency = ctx.db.get(Agency, api.agency_id)
    return dump(
        ApiOut,
        {
            **{k: getattr(api, k) for k in ApiOut.model_fields if hasattr(api, k)},
            "agency": {"id": agency.id, "code": agency.code},
            "scopes": resources.scopes_of(ctx.db, api),
            "introspection_client_id": api.client_id,
        },
    )


@router.get("", response_model=Page[ApiOut], summary="APIs of your subtree")
def list_apis(
    ctx: CtxDep,
    status: Annotated[str | None, Query(pattern="^(active|disabled)$")] = None,
    agency: Annotated[str | None, Query(max_length=64, pattern=r"^[^\x00-\x1f\x7f]*$")] = None,
    sort: Annotated[str, Query(pattern=r"^-?(identifier|created_at)$")] = "identifier",
    cursor: Cursor = None,
    limit: Limit = 50,
):
    page = svc.list_apis(ctx, status=status, agency=agency, sort=sort, cursor=cursor, limit=limit)
    items = [api_body(ctx, a) for a in page.items]
    return respond(200, {"items": items, "next_cursor": page.next_cursor})


@router.post("", response_model=ApiWithSecret, status_code=201, summary="Register an API")
def create_api(request: Request, ctx: CtxDep, body: ApiCreate, key: IdempotencyKey = None):
    def run():
        api, secret = svc.create(
            ctx,
            registration.NewApi(
                agency_code=body.agency,
                identifier=body.identifier,
                name_th=body.name_th,
                name_en=body.name_en,
                scopes=tuple(body.scopes),
                shared_with=body.shared_with,
                introspection=body.introspection,
            ),
        )
        out = {**api_body(ctx, api), "introspection_client_secret": secret}
        return respond(
            201,
            dump(ApiWithSecret, out),
            etag=etag(api.version),
            location=f"{request.scope.get('root_path', '')}/apis/{api.id}",
        )

    return idempotent(request, ctx, key, body, run)


@router.get("/{api_id}", response_model=ApiOut, summary="Read an API")
def get_api(ctx: CtxDep, api_id: uuid.UUID):
    api = svc.get(ctx, api_id)
    return respond(200, api_body(ctx, api), etag=etag(api.version))


@router.patch("/{api_id}", response_model=ApiWithSecret, summary="Change an API")
def patch_api(ctx: CtxDep, api_id: uuid.UUID, body: ApiPatch, if_match: IfMatch):
    data = body.model_dump(exclude_unset=True)
    changes = registration.ApiChanges(**{k: v for k, v in data.items() if v is not None})
    api, secret = svc.update(ctx, api_id, changes, if_match)
    out = {**api_body(ctx, api), "introspection_client_secret": secret}
    return respond(200, dump(ApiWithSecret, out), etag=etag(api.version))


@router.post(
    "/{api_id}/secret",
    response_model=ApiSecret,
    summary="Rotate its introspection secret (shown once)",
)
def rotate_secret(
    request: Request, ctx: CtxDep, api_id: uuid.UUID, if_match: IfMatch, key: IdempotencyKey = None
):
    def run():
        api, secret = svc.rotate_secret(ctx, api_id, if_match)
        body = {"api": api_body(ctx, api), "introspection_client_secret": secret}
        return respond(200, body, etag=etag(api.version))

    return idempotent(request, ctx, key, None, run)


@router.delete("/{api_id}", response_model=ApiOut, summary="Disable an API")
def delete_api(ctx: CtxDep, api_id: uuid.UUID, if_match: IfMatch):
    api = svc.set_status(ctx, api_id, "disabled", if_match)
    return respond(200, api_body(ctx, api), etag=etag(api.version))


@router.post("/{api_id}/enable", response_model=ApiOut, summary="Enable a disabled API")
def enable_api(
    request: Request,
    ctx: CtxDep,
    api_id: uuid.UUID,
    if_match: IfMatchOptional = None,
    key: IdempotencyKey = None,
):
    def run():
        api = svc.set_status(ctx, api_id, "active", if_match)
        return respond(200, api_body(ctx, api), etag=etag(api.version))

    return idempotent(request, ctx, key, None, run)
