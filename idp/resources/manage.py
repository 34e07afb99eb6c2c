"""API resource (RFC 8707) administration within the caller's subtree: the caller's
authority over the API's agency, then ``idp.resources.service`` for what an API may be.
APIs are managed like apps (``clients:read`` / ``clients:write``, scope
``admin:clients``). No web framework here."""

from __future__ import annotations

import uuid

from idp.agencies.models import Agency
from idp.authz.caller import agency_code_in_scope
from idp.authz.context import Ctx, check_version
from idp.authz.listing import list_registered
from idp.errors import NotFound, OutsideScope
from idp.paging import Page
from idp.resources import registration
from idp.resources import service as resources
from idp.resources.models import ApiResource

SORT_FIELDS = {"identifier": ApiResource.identifier, "created_at": ApiResource.created_at}


def get(ctx: Ctx, api_id: uuid.UUID | str, permission: str = "clients:read") -> ApiResource:
    """An API of the caller's subtree; one elsewhere is not found, like a missing one."""
    scope = ctx.scope(permission)
    try:
        api = resources.get(ctx.db, api_id)
    except NotFound:
        raise NotFound("no such API", field="api") from None
    if not scope.covers(ctx.db.get_one(Agency, api.agency_id)):
        raise OutsideScope("no such API", field="api")  # answered alike, audited
    return api


def list_apis(
    ctx: Ctx, *, status: str | None, agency: str | None, sort: str, cursor: str | None, limit: int
) -> Page:
    return list_registered(
        ctx,
        ApiResource,
        sort_fields=SORT_FIELDS,
        status=status,
        agency=agency,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


def create(ctx: Ctx, data: registration.NewApi) -> tuple[ApiResource, str | None]:
    agency_code_in_scope(ctx.db, ctx.scope("clients:write"), data.agency_code)
    return registration.create(ctx.db, data, issuer=ctx.issuer, actor=ctx.actor)


def update(
    ctx: Ctx, api_id: uuid.UUID, changes: registration.ApiChanges, expected
) -> tuple[ApiResource, str | None]:
    api = get(ctx, api_id, "clients:write")
    check_version(api.version, expected)
    _changed, secret = registration.update(ctx.db, api, changes, actor=ctx.actor)
    return api, secret


def rotate_secret(ctx: Ctx, api_id: uuid.UUID, expected) -> tuple[ApiResource, str]:
    api = get(ctx, api_id, "clients:write")
    check_version(api.version, expected)
    return api, registration.rotate_secret(ctx.db, api, actor=ctx.actor)


def set_status(ctx: Ctx, api_id: uuid.UUID, status: str, expected) -> ApiResource:
    api = get(ctx, api_id, "clients:write")
    check_version(api.version, expected)
    registration.set_status(ctx.db, api, status, actor=ctx.actor)
    return api
