"""Bulk imports in the background: ``POST /imports?background=true`` answers
202 at once with a job; the import runs in a thread of this process in a transaction of
its own (exactly ``importer.run_import``, as the synchronous call does), and records its
progress (phase, rows done of total) in ``import_job`` in short transactions of their own,
so ``GET /imports/{job_id}`` from any process shows it while the import's own transaction
is still open. A job is its caller's only: anyone else's is 404, like a missing one.

The report is stored encrypted with the data key (it may list activation links); the
links are removed from it once they were read (shown once). A job whose process died
stays ``running`` without progress; ``stale`` then says so after ``STALE_AFTER``."""

from __future__ import annotations

import datetime as dt
import io
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event, select

from idp.accounts.importing import service as importer
from idp.accounts.importing.models import ImportJob
from idp.accounts.importing.rows import read_rows
from idp.agencies.models import Agency
from idp.authz.context import Ctx
from idp.authz.scope import Scope
from idp.credentials.hash_bounds import HashBounds
from idp.db import transaction, utcnow
from idp.errors import NotFound

log = logging.getLogger(__name__)
PURPOSE = "import_job.result"
STALE_AFTER = dt.timedelta(minutes=5)
PROGRESS_EVERY = 1.0  # seconds between progress writes
# This process's running jobs: (phase, done). SQLite has one writer at a time, and the
# import's own transaction is it, so there progress is read from here (an embedded
# GovID is one process); PostgreSQL gets the row updated as well, for every process.
_LIVE: dict[str, tuple[str, int]] = {}


def count_rows(data: bytes, fmt: str) -> int:
    lines = sum(1 for line in data.splitlines() if line.strip())
    return max(lines - 1, 0) if fmt == "csv" else lines


def start(ctx: Ctx, data: bytes, fmt: str, *, dry_run: bool, mode: str) -> ImportJob:
    scope = ctx.scope("accounts:write")
    job = ImportJob(
        id=str(uuid.uuid4()),
        caller=ctx.actor,
        dry_run=dry_run,
        mode=mode,
        status="queued",
        phase="validate",
        total=count_rows(data, fmt),
        done=0,
    )
    ctx.db.add(job)
    ctx.db.flush()
    roots = None if scope.roots is None else [r.id for r in scope.roots]
    services = ctx.services
    args = (services, job.id, data, fmt, roots, ctx.actor, dry_run, mode)

    def begin(_session) -> None:  # when this request's transaction committed the job row
        threading.Thread(target=_run, args=args, daemon=True, name=f"import-{job.id}").start()

    event.listen(ctx.db, "after_commit", begin, once=True)
    return job


def _set(services, job_id: str, **values) -> None:
    with transaction(services.sessions) as s:
        job = s.get(ImportJob, job_id)
        if job is not None:
            for k, v in values.items():
                setattr(job, k, v)
            job.updated_at = utcnow()


@dataclass
class _Progress:
    phase: str = "validate"
    done: int = 0
    at: float = 0.0  # time.monotonic() of the last progress written to the database


def _run(services, job_id, data, fmt, roots, actor, dry_run, mode) -> None:
    state = _Progress()
    shared_db = services.engine.dialect.name != "sqlite"

    def progress(phase: str, n: int) -> None:
        if phase != state.phase:
            state.phase, state.done, state.at = phase, 0, 0.0
        state.done += n
        _LIVE[job_id] = (phase, state.done)
        now = time.monotonic()
        if shared_db and now - state.at >= PROGRESS_EVERY:
            state.at = now
            _set(services, job_id, phase=phase, done=state.done)

    _set(services, job_id, status="running")
    try:
        with transaction(services.sessions) as s:
            if roots is None:
                scope = Scope(None)
            else:
                scope = Scope(tuple(s.scalars(select(Agency).where(Agency.id.in_(roots)))))
            result = importer.run_import(
                s,
                read_rows(io.BytesIO(data), fmt),
                cipher=services.cipher,
                scope=scope,
                actor=actor,
                dry_run=dry_run,
                mode=mode,
                bounds=HashBounds.from_settings(services.settings),
                progress=progress,
                import_id=job_id,
            )
        report = json.dumps(result.to_dict(), ensure_ascii=False).encode()
        _set(
            services,
            job_id,
            status="done",
            phase=state.phase,
            done=state.done,
            result_enc=services.cipher.encrypt(report, PURPOSE),
        )
    except Exception as exc:  # noqa: BLE001 - the job says it failed; the log has why
        log.exception("import job %s failed", job_id)
        _set(services, job_id, status="failed", error=type(exc).__name__[:255])
    finally:
        _LIVE.pop(job_id, None)


def read(ctx: Ctx, job_id: str) -> dict[str, Any]:
    ctx.scope("accounts:write")
    job = ctx.db.get(ImportJob, job_id)
    if job is None or job.caller != ctx.actor:
        raise NotFound("no such import job", field="job_id")
    out: dict[str, Any] = {
        "job_id": job.id,
        "status": job.status,
        "dry_run": job.dry_run,
        "mode": job.mode,
        "phase": job.phase,
        "done": job.done,
        "total": job.total,
        "stale": job.status in ("queued", "running") and utcnow() - job.updated_at > STALE_AFTER,
        "error": job.error,
        "created_at": job.created_at.isoformat(),
        "updated_at": job.updated_at.isoformat(),
        "result": None,
    }
    live = _LIVE.get(job.id) if job.status in ("queued", "running") else None
    if live is not None:
        out["phase"], out["done"] = live
        out["stale"] = False
    if job.result_enc:
        cipher = ctx.services.cipher
        result = json.loads(cipher.decrypt(job.result_enc, PURPOSE))
        out["result"] = result
        if result.get("activation_tokens"):  # shown once: gone from the stored report
            job.result_enc = cipher.encrypt(
                json.dumps({**result, "activation_tokens": []}, ensure_ascii=False).encode(),
                PURPOSE,
            )
    return out
