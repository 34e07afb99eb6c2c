"""``/admin/v1/agencies`` and ``/admin/v1/role-grants``: thin routes."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from idp.accounts import manage_roles as roles
from idp.admin.deps import CtxDep, Cursor, IdempotencyKey, IfMatch, Limit, idempotent, respond
from idp.admin.schemas import (
    AgencyCreate,
    AgencyMove,
    AgencyOut,
    AgencyPatch,
    Page,
    RoleGrantCreate,
    RoleGrantOut,
    dump,
)
from idp.agencies import manage as svc
from idp.agencies.models import Agency
from idp.agencies.service import NewAgency
from idp.authz.context import etag

router = APIRouter(tags=["agencies"])
grants_router = APIRouter(prefix="/role-grants", tags=["role-grants"])


def agency_body(a: Agency) -> dict:
    return dump(AgencyOut, {k: getattr(a, k) for k in AgencyOut.model_fields})


def _agency(a: Agency, status: int = 200, location: str | None = None):
    return respond(status, agency_body(a), etag=etag(a.version), location=location)


@router.get("/agencies", response_model=Page[AgencyOut], summary="Agencies in your subtree")
def list_agencies(
    ctx: CtxDep,
    parent_id: uuid.UUID | None = None,
    code_prefix: Annotated[str | None, Query(max_length=64, pattern=r"^[A-Za-z0-9_.-]*$")] = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="Name (Thai or English, anywhere in it) or the start of a code",
        ),
    ] = None,
    top: Annotated[
        bool, Query(description="Only where your subtree starts (ministries for operators)")
    ] = False,
    sort: Annotated[str, Query(pattern=r"^-?(code|path|updated_at)$")] = "path",
    cursor: Cursor = None,
    limit: Limit = 50,
):
    page = svc.list_agencies(
        ctx,
        parent=parent_id,
        code_prefix=code_prefix,
        q=q,
        top=top,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    items = [agency_body(a) for a in page.items]
    return respond(200, {"items": items, "next_cursor": page.next_cursor})


@router.post("/agencies", response_model=AgencyOut, status_code=201, summary="Create (operators)")
def create_agency(request: Request, ctx: CtxDep, body: AgencyCreate, key: IdempotencyKey = None):
    def run():
        a = svc.create(
            ctx,
            NewAgency(
                code=body.code,
                name_th=body.name_th,
                name_en=body.name_en,
                parent_code=body.parent,
                mail_domains=tuple(body.mail_domains),
                mailbox_quota_mb=body.mailbox_quota_mb,
                attachment_limit_mb=body.attachment_limit_mb,
            ),
        )
        return _agency(a, 201, f"{request.scope.get('root_path', '')}/agencies/{a.id}")

    return idempotent(request, ctx, key, body, run)


@router.get("/agencies/{agency_id}", response_model=AgencyOut, summary="Read an agency")
def get_agency(ctx: CtxDep, agency_id: uuid.UUID):
    return _agency(svc.get(ctx, agency_id))


@router.patch("/agencies/{agency_id}", response_model=AgencyOut, summary="Rename (operators)")
def patch_agency(ctx: CtxDep, agency_id: uuid.UUID, body: AgencyPatch, if_match: IfMatch):
    changes = svc.AgencyChanges(**body.model_dump(exclude_unset=True, exclude_none=True))
    return _agency(svc.update(ctx, agency_id, changes, if_match))


@router.post("/agencies/{agency_id}/move", response_model=AgencyOut, summary="Move (operators)")
def move_agency(
    request: Request,
    ctx: CtxDep,
    agency_id: uuid.UUID,
    body: AgencyMove,
    if_match: IfMatch,
    key: IdempotencyKey = None,
):
    return idempotent(
        request, ctx, key, body, lambda: _agency(svc.move(ctx, agency_id, body.parent_id, if_match))
    )


@router.delete(
    "/agencies/{agency_id}",
    status_code=204,
    response_class=Response,
    summary="Delete an empty agency (operators)",
)
def delete_agency(ctx: CtxDep, agency_id: uuid.UUID, if_match: IfMatch):
    svc.delete(ctx, agency_id, if_match)
    return Response(status_code=204)


# -------------------------------------------------------------------------- role grants


def grant_body(ctx, g) -> dict:
    agency = ctx.db.get(Agency, g.agency_id)
    return dump(
        RoleGrantOut,
        {
            **{k: getattr(g, k) for k in RoleGrantOut.model_fields if k != "agency"},
            "agency": {"id": agency.id, "code": agency.code},
        },
    )


@grants_router.get("", response_model=Page[RoleGrantOut], summary="Role grants in your subtree")
def list_grants(
    ctx: CtxDep,
    account_id: uuid.UUID | None = None,
    role: Annotated[str | None, Query(pattern="^(operator|agency_admin|auditor)$")] = None,
    agency_id: uuid.UUID | None = None,
    cursor: Cursor = None,
    limit: Limit = 50,
):
    page = roles.list_grants(
        ctx,
        account_id=str(account_id) if account_id else None,
        role=role,
        agency_id=str(agency_id) if agency_id else None,
        cursor=cursor,
        limit=limit,
    )
    items = [grant_body(ctx, g) for g in page.items]
    return respond(200, {"items": items, "next_cursor": page.next_cursor})


@grants_router.post("", response_model=RoleGrantOut, status_code=201, summary="Grant a role")
def create_grant(request: Request, ctx: CtxDep, body: RoleGrantCreate, key: IdempotencyKey = None):
    def run():
        g = roles.create(ctx, body.account_id, body.role, body.agency_id, body.expires_at)
        return respond(
            201,
            grant_body(ctx, g),
            etag=roles.grant_etag(g),
            location=f"{request.scope.get('root_path', '')}/role-grants/{g.id}",
        )

    return idempotent(request, ctx, key, body, run)


@grants_router.get("/{grant_id}", response_model=RoleGrantOut, summary="Read a role grant")
def get_grant(ctx: CtxDep, grant_id: uuid.UUID):
    g = roles.get(ctx, grant_id)
    return respond(200, grant_body(ctx, g), etag=roles.grant_etag(g))


@grants_router.delete(
    "/{grant_id}", status_code=204, response_class=Response, summary="Revoke a role grant"
)
def delete_grant(ctx: CtxDep, grant_id: uuid.UUID, if_match: IfMatch):
    roles.revoke(ctx, grant_id, if_match)
    return Response(status_code=204)
