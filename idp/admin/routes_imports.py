"""``/admin/v1/imports``: bulk account import (CSV or JSON lines in the request body)."""

from __future__ import annotations

import hashlib
import io
from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from starlette.concurrency import run_in_threadpool

from idp.accounts.importing import jobs as import_jobs
from idp.accounts.importing import service as importer
from idp.accounts.importing.rows import read_rows
from idp.admin.deps import CtxDep, IdempotencyKey, idempotent, respond
from idp.admin.schemas_clients import ImportJobOut, ImportReport
from idp.credentials.hash_bounds import HashBounds
from idp.errors import InvalidInput

router = APIRouter(prefix="/imports", tags=["imports"])


@router.post(
    "",
    response_model=ImportReport,
    summary="Import accounts (CSV or JSON lines); dry_run validates only",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "text/csv": {
                    "schema": {"type": "string"},
                    "example": "email,agency,given_name_en,family_name_en,password_hash\n"
                    "somchai@dopa.go.th,moi-dopa,Somchai,Jaidee,{SSHA}W6ph5Mm5Pz8GgiULbPgzG37mj9g=\n",
                },
                "application/x-ndjson": {"schema": {"type": "string"}},
            },
        }
    },
)
async def create_import(
    request: Request,
    ctx: CtxDep,
    dry_run: bool = False,
    mode: Annotated[str, Query(pattern="^(all_or_nothing|per_row)$")] = "all_or_nothing",
    background: Annotated[
        bool,
        Query(description="Answer 202 with a job at once; follow it with GET /imports/{job_id}"),
    ] = False,
    key: IdempotencyKey = None,
):
    data = await request.body()  # idp/body_limit.py refused a larger one before reading
    limit = ctx.services.settings.max_import_body_bytes
    if len(data) > limit:
        raise InvalidInput(f"the file is larger than {limit} bytes; use the CLI", field="file")
    ctype = request.headers.get("content-type", "")
    fmt = "jsonl" if ("json" in ctype) else "csv"
    scope = ctx.scope("accounts:write")
    body_key = {"sha256": hashlib.sha256(data).hexdigest(), "dry_run": dry_run, "mode": mode}
    if background:
        body_key["background"] = True

        def queue():
            job = import_jobs.start(ctx, data, fmt, dry_run=dry_run, mode=mode)
            return respond(
                202,
                import_jobs.read(ctx, job.id),
                location=f"{request.scope.get('root_path', '')}/imports/{job.id}",
            )

        return await run_in_threadpool(idempotent, request, ctx, key, body_key, queue)

    def run():
        result = importer.run_import(
            ctx.db,
            read_rows(io.BytesIO(data), fmt),
            cipher=ctx.services.cipher,
            scope=scope,
            actor=ctx.actor,
            dry_run=dry_run,
            mode=mode,
            bounds=HashBounds.from_settings(ctx.services.settings),
        )
        return respond(200, result.to_dict())

    # The import is CPU and database work: keep it off the event loop.
    return await run_in_threadpool(idempotent, request, ctx, key, body_key, run)


@router.get(
    "/{job_id}",
    response_model=ImportJobOut,
    summary="A background import: phase, rows done of total, status, then the report",
)
def get_import_job(
    ctx: CtxDep, job_id: Annotated[str, Path(max_length=36, pattern=r"^[0-9a-f-]+$")]
):
    return respond(200, import_jobs.read(ctx, job_id))
