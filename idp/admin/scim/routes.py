"""``/scim/v2``: thin routes over ``idp.admin.scim.users`` (RFC 7644)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import JSONResponse, Response

from idp import json_depth
from idp.admin import problems
from idp.admin.deps import CtxDep, parse_if_match
from idp.admin.scim import static
from idp.admin.scim import users as svc
from idp.admin.scim.parse import ScimInvalid
from idp.authz.context import Ctx
from idp.errors import InsufficientScope, NotFound

SCIM_JSON = "application/scim+json"
MAX_BODY = 1024 * 1024
router = APIRouter()


def scim_ctx(ctx: CtxDep) -> Ctx:
    # SCIM is for HR systems: the token must carry the `scim` scope.
    if "scim" not in ctx.caller.token_scopes:
        raise InsufficientScope("SCIM needs an access token with the scope `scim`", ("scim",))
    return ctx


ScimCtx = Annotated[Ctx, Depends(scim_ctx)]
Filter = Annotated[str | None, Query(max_length=2000)]
StartIndex = Annotated[int, Query(alias="startIndex", ge=-(2**31), le=2**31)]
Count = Annotated[int, Query(ge=-(2**31), le=2**31)]


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/") + request.scope.get("root_path", "")


def scim(body: Any, status: int = 200, etag: str | None = None, location: str | None = None):
    headers = {}
    if etag:
        headers["ETag"] = etag
    if location:
        headers["Location"] = location
    return JSONResponse(body, status_code=status, media_type=SCIM_JSON, headers=headers)


async def json_body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    if len(raw) > MAX_BODY:
        raise ScimInvalid("request body too large", "invalidSyntax", "body")
    try:
        body = json_depth.loads(raw or b"null")
    except json_depth.JsonTooDeep as exc:
        raise ScimInvalid(str(exc), "invalidSyntax", "body") from None
    except ValueError:
        raise ScimInvalid("the body is not JSON", "invalidSyntax", "body") from None
    if not isinstance(body, dict):
        raise ScimInvalid("the body must be a JSON object", "invalidSyntax", "body")
    return body


Body = Annotated[dict[str, Any], Depends(json_body)]


def _user(ctx: Ctx, request: Request, account, status: int = 200):
    res = svc.user_resource(ctx, account, base_url(request))
    return scim(res, status, etag=svc.scim_etag(account.version), location=res["meta"]["location"])


@router.get("/ServiceProviderConfig")
def service_provider_config(request: Request, _ctx: ScimCtx):
    return scim(static.service_provider_config(base_url(request)))


@router.get("/ResourceTypes")
def resource_types(request: Request, _ctx: ScimCtx):
    items = static.resource_types(base_url(request))
    return scim(
        {
            "schemas": [svc.LIST],
            "totalResults": len(items),
            "Resources": items,
            "startIndex": 1,
            "itemsPerPage": len(items),
        }
    )


@router.get("/Schemas")
def schemas(request: Request, _ctx: ScimCtx):
    items = static.schemas(base_url(request))
    return scim(
        {
            "schemas": [svc.LIST],
            "totalResults": len(items),
            "Resources": items,
            "startIndex": 1,
            "itemsPerPage": len(items),
        }
    )


@router.get("/Schemas/{schema_id}")
def schema(request: Request, _ctx: ScimCtx, schema_id: str):
    for item in static.schemas(base_url(request)):
        if item["id"] == schema_id:
            return scim(item)
    raise NotFound("no such schema", field="id")


@router.get("/Users")
def list_users(
    request: Request, ctx: ScimCtx, filter: Filter = None, start: StartIndex = 1, count: Count = 100
):
    return scim(svc.list_users(ctx, filter, start, count, base_url(request)))


@router.post("/Users")
def create_user(request: Request, ctx: ScimCtx, body: Body):
    created = svc.create_user(ctx, body)
    ctx.db.refresh(created.account)
    return _user(ctx, request, created.account, 201)


@router.get("/Users/{user_id}")
def get_user(request: Request, ctx: ScimCtx, user_id: str):
    return _user(ctx, request, svc.get_user(ctx, user_id))


@router.put("/Users/{user_id}")
def replace_user(request: Request, ctx: ScimCtx, user_id: str, body: Body):
    expected = parse_if_match(request.headers.get("if-match"))
    account = svc.replace_user(ctx, user_id, body, expected)
    ctx.db.refresh(account)
    return _user(ctx, request, account)


@router.patch("/Users/{user_id}")
def patch_user(request: Request, ctx: ScimCtx, user_id: str, body: Body):
    expected = parse_if_match(request.headers.get("if-match"))
    return _user(ctx, request, svc.patch_user(ctx, user_id, body, expected))


@router.delete("/Users/{user_id}", status_code=204, response_class=Response)
def delete_user(request: Request, ctx: ScimCtx, user_id: str):
    svc.delete_user(ctx, user_id, parse_if_match(request.headers.get("if-match")))
    return Response(status_code=204)


@router.get("/Groups")
def list_groups(
    request: Request, ctx: ScimCtx, filter: Filter = None, start: StartIndex = 1, count: Count = 100
):
    return scim(svc.list_groups(ctx, filter, start, count, base_url(request)))


@router.get("/Groups/{group_id}")
def get_group(request: Request, ctx: ScimCtx, group_id: str):
    return scim(svc.get_group(ctx, group_id, base_url(request)))


def install(api: FastAPI) -> None:
    problems.install_scim(api)
    api.include_router(router)
