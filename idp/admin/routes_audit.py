"""``/admin/v1/audit``: auditor access to the log, on ``idp.auditing.query`` and
``idp.auditing.export``. Scoped to the caller's subtree (auditors, agency admins, operators,
and machines with ``admin:audit``)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Path, Query
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from idp.admin.deps import CtxDep, Cursor, respond
from idp.admin.schemas import In, Instant, Text
from idp.agencies.models import Agency
from idp.auditing import export as audit_export
from idp.auditing import query, verification
from idp.authz.caller import agency_code_in_scope
from idp.authz.context import Ctx
from idp.authz.scope import Scope
from idp.errors import InvalidCursor, InvalidInput
from idp.paging import check_cursor_text

router = APIRouter(prefix="/audit", tags=["audit"])
_PRINTABLE = r"^[^\x00-\x1f\x7f]*$"


class AuditEventOut(BaseModel):
    seq: int
    at: str
    type: str
    outcome: str
    actor: str | None
    agency_id: str | None
    subject: str | None
    client_id: str | None
    session_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict[str, Any]
    prev_hash: str
    hash: str


class AuditPage(BaseModel):
    items: list[AuditEventOut]
    next_cursor: str | None
    limit: int


class ExportRequest(In):
    format: Literal["csv", "ndjson"] = "csv"
    bom: bool = Field(False, description="UTF-8 byte-order mark so Excel shows Thai text")
    agency: Text | None = Field(None, description="Agency code (its subtree)")
    since: Instant | None = None
    until: Instant | None = None
    types: list[Text] = Field(default_factory=list, max_length=50)
    account: Text | None = None
    client_id: Text | None = None
    outcome: Literal["success", "failure", "denied", "refused", "error"] | None = None


def _scope_and_agency(ctx: Ctx, agency_code: str | None) -> tuple[Agency | None, Agency | None]:
    """(scope agency for the query functions, filter agency). The query layer takes one
    scope agency; a caller with several roots names one with ``agency``."""
    scope: Scope = ctx.scope("audit:read")
    agency = agency_code_in_scope(ctx.db, scope, agency_code) if agency_code else None
    if scope.roots is None:
        return None, agency
    if agency is not None:
        root = next(r for r in scope.roots if agency.path.startswith(r.path))
        return root, agency
    if len(scope.roots) == 1:
        return scope.roots[0], None
    raise InvalidInput(
        "you hold roles over several agencies: choose one with ?agency=", field="agency"
    )


def _filters(agency, since, until, types, account, client_id, outcome) -> query.EventFilter:
    return query.EventFilter(
        agency=agency,
        since=since,
        until=until,
        types=tuple(types or ()),
        account=account,
        client_id=client_id,
        outcome=outcome,
    )


Str = Annotated[str | None, Query(max_length=255, pattern=_PRINTABLE)]


@router.get("/events", response_model=AuditPage, summary="Audit events of your subtree")
def list_events(
    ctx: CtxDep,
    agency: Str = None,
    since: Instant | None = None,
    until: Instant | None = None,
    types: Annotated[list[str] | None, Query(max_length=50)] = None,
    account: Str = None,
    client_id: Str = None,
    outcome: Annotated[
        str | None, Query(pattern="^(success|failure|denied|refused|error)$")
    ] = None,
    order: Annotated[str, Query(pattern="^(asc|desc)$")] = "desc",
    cursor: Cursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
):
    scope, filter_agency = _scope_and_agency(ctx, agency)
    if cursor:
        check_cursor_text(cursor)
        if not 0 <= query.decode_cursor(cursor, order) < 2**63:
            raise InvalidCursor()
    if types and any(not t or len(t) > 100 for t in types):
        raise InvalidInput("bad event type", field="types")
    page = query.list_events(
        ctx.db,
        _filters(filter_agency, since, until, types, account, client_id, outcome),
        scope=scope,
        cursor=cursor,
        limit=limit,
        order=order,
    )
    return respond(200, page.to_dict())


@router.post(
    "/exports",
    summary="Stream a CSV or NDJSON export (audited; manifest signed)",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The file, streamed; X-Export-Id names its manifest",
            "content": {"text/csv": {}, "application/x-ndjson": {}},
        }
    },
)
def create_export(ctx: CtxDep, body: ExportRequest):
    scope, filter_agency = _scope_and_agency(ctx, body.agency)
    export = audit_export.Export(
        _filters(
            filter_agency, body.since, body.until, body.types, body.account, body.client_id,
            body.outcome,
        ),
        body.format,
        bom=body.bom,
        scope=scope,
        actor=ctx.actor,
        export_id=str(uuid.uuid4()),
    )  # fmt: skip
    services = ctx.services
    headers = {
        "Content-Disposition": f'attachment; filename="{export.filename}"',
        "X-Export-Id": export.export_id,
        "Link": f'<exports/{export.export_id}/manifest>; rel="describedby"',
    }
    # Streams from its own read transaction after this request's transaction has ended;
    # the export is recorded (audit.export.created) when the stream ends, even early.
    return StreamingResponse(
        audit_export.stream_and_record(services.sessions, services.keys, export),
        media_type=export.media_type,
        headers=headers,
    )


@router.get("/exports/{export_id}/manifest", summary="The signed manifest of an export")
def manifest(
    ctx: CtxDep,
    export_id: Annotated[str, Path(max_length=64, pattern=r"^[0-9a-f-]+$")],
):
    scope, _ = _scope_and_agency(ctx, None)
    return respond(
        200, audit_export.manifest_for(ctx.db, ctx.services.keys, export_id, scope=scope)
    )


class ChainCheckpoint(BaseModel):
    at: dt.datetime
    seq: int
    reason: str


class ChainVerification(BaseModel):
    at: dt.datetime
    ok: bool
    kind: str | None = Field(description="full | range | new_events (housekeeping)")
    by: str | None = Field(description="cli, system (housekeeping) or an account id")
    first_seq: int | None
    last_seq: int | None
    checked_events: int
    independent_keys: bool = Field(description="checked with keys kept off the database")
    first_bad_seq: int | None
    problem: str | None
    seq: int = Field(description="the audit.chain.verified event recording it")


class ChainStatus(BaseModel):
    last_seq: int | None
    last_checkpoint: ChainCheckpoint | None
    last_verification: ChainVerification | None
    last_full_verification: ChainVerification | None
    unresolved_failure: ChainVerification | None = Field(
        description="the newest failed verification no full verification has cleared since"
    )


@router.get(
    "/chain",
    response_model=ChainStatus,
    summary="The chain's head, newest signed checkpoint and verifications (audit:read)",
)
def chain_status(ctx: CtxDep):
    ctx.scope("audit:read")  # the whole log's state: any caller who may read audit events
    return respond(200, ChainStatus(**verification.status(ctx.db)).model_dump(mode="json"))
