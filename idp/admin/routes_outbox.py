"""``/admin/v1/outbox``: LDAP provisioning rows, parked ones with their error, retry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from idp.admin.deps import CtxDep, respond
from idp.directory import manage_outbox as svc

router = APIRouter(prefix="/outbox", tags=["directory"])


@router.get("", summary="Directory changes of your subtree (pending, parked, done)")
def list_outbox(
    ctx: CtxDep,
    status: Annotated[str, Query(pattern="^(pending|parked|done|all)$")] = "parked",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    after: Annotated[int | None, Query(ge=0, le=2**62)] = None,
):
    return respond(200, svc.list_rows(ctx, status=status, limit=limit, after_id=after))


@router.post("/{entry_id}/retry", summary="Queue a parked change again, due now")
def retry(ctx: CtxDep, entry_id: Annotated[int, Path(ge=1, le=2**62)]):
    return respond(200, svc.retry(ctx, entry_id))
