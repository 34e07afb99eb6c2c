"""``PUT/DELETE /admin/v1/agencies/{id}/logo``: an agency's logo for the people's pages
(operators; PNG or JPEG, the image itself as the body; idp/agencies/logos.py)."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from idp.admin.deps import CtxDep, respond
from idp.agencies import logos

router = APIRouter(tags=["agencies"])

_IMAGE_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "image/png": {"schema": {"type": "string", "format": "binary"}},
            "image/jpeg": {"schema": {"type": "string", "format": "binary"}},
        },
    }
}


@router.put(
    "/agencies/{agency_id}/logo",
    summary="Upload the agency's logo (operators; PNG or JPEG, at most 100 KiB)",
    openapi_extra=_IMAGE_BODY,
)
async def put_logo(request: Request, ctx: CtxDep, agency_id: uuid.UUID):
    data = await request.body()
    row = await run_in_threadpool(
        logos.set_logo, ctx, agency_id, data, request.headers.get("content-type", "")
    )
    return respond(
        200,
        {"content_type": row.content_type, "bytes": len(row.data), "sha256": row.sha256},
    )


@router.delete(
    "/agencies/{agency_id}/logo",
    status_code=204,
    response_class=Response,
    summary="Remove the agency's logo (operators)",
)
def delete_logo(ctx: CtxDep, agency_id: uuid.UUID):
    logos.remove_logo(ctx, agency_id)
    return Response(status_code=204)
