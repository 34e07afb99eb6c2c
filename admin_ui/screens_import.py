"""Bulk import (issue 20): upload a CSV or JSON-lines file, see the dry run's per-row
errors in a table (and download them as CSV), then apply it. Both go to
``POST /admin/v1/imports`` (``dry_run``, ``mode``), which validates and scopes every row.

The uploaded file is kept by the console (not in the browser) between the dry run and the
apply, under a random key known only to the session that uploaded it, for an hour. The
report pages are GETs, so a reload shows them again. Activation links of rows without a
password are secrets: shown once, in the answer to the apply (``no-store``), never kept."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import secrets
import shutil
import tempfile
import time
from pathlib import Path

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, RedirectResponse, Response
from starlette.datastructures import UploadFile

from admin_ui.api import Answer, idempotency_key
from admin_ui.screens_kit import api, back_to, field_problems, message, ui

router = APIRouter()
MAX_BYTES = 64 * 1024 * 1024  # the API's IDP_MAX_IMPORT_BODY_BYTES default; larger: the CLI
KEEP_SECONDS = 3600
SHOWN_ERRORS = 500  # the table shows this many; the CSV download has them all
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
MODES = ("all_or_nothing", "per_row")


def _dir(request: Request) -> Path:
    state = request.app.state
    if getattr(state, "import_dir", None) is None:
        state.import_dir = Path(tempfile.mkdtemp(prefix="govid-console-imports-"))
    d = state.import_dir
    for old in d.iterdir():
        if old.stat().st_mtime < time.time() - KEEP_SECONDS:
            shutil.rmtree(old, ignore_errors=True)
    return d


def _aead(request: Request) -> AESGCM:
    # The file holds password hashes and citizen IDs: on the console's disk only sealed
    # (AES-256-GCM, a key derived from the console's secret; the folder key as AAD).
    token_key = request.app.state.settings.token_key
    return AESGCM(hashlib.sha256(b"govid-admin-ui/import-upload\0" + token_key).digest())


def _seal(request: Request, key: str, data: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + _aead(request).encrypt(nonce, data, key.encode())


def _open(request: Request, key: str, blob: bytes) -> bytes:
    return _aead(request).decrypt(blob[:12], blob[12:], key.encode())


def _mine(request: Request, key: str) -> dict | None:
    return (request.session.get("imports") or {}).get(key)


def _page(request: Request, status: int = 200, **ctx):
    return ui(request).render(
        request,
        "import.html",
        status,
        modes=MODES,
        idem=idempotency_key(),
        **back_to(request, "/import"),
        **ctx,
    )


@router.get("/import")
async def import_form(request: Request):
    ui(request).signed_in(request)
    return _page(request, mode="all_or_nothing", errors={})


async def _send(
    request: Request, key: str, meta: dict, dry_run: bool, idem: str, background: bool = False
) -> Answer:
    data = _open(request, key, (_dir(request) / key / "upload").read_bytes())
    ctype = "application/x-ndjson" if meta["format"] == "jsonl" else "text/csv"
    a = api(request)
    params = {"dry_run": "true" if dry_run else "false", "mode": meta["mode"]}
    if background:
        params["background"] = "true"
    return await a.call(
        request.session,
        "POST",
        "/imports",
        params=params,
        content=data,
        headers={"Content-Type": ctype, "Idempotency-Key": idem},
        timeout=300.0,
    )


@router.post("/import")
async def upload(request: Request):
    ui(request).signed_in(request)
    await ui(request).check_csrf(request)
    form = await request.form()
    mode = form.get("mode") if form.get("mode") in MODES else "all_or_nothing"
    file = form.get("file")
    t = ui(request)
    if not isinstance(file, UploadFile) or not file.filename:
        return _page(request, 422, mode=mode, errors={"file": _text(request, "import_no_file")})
    data = await file.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        return _page(request, 413, mode=mode, errors={"file": _text(request, "import_too_big")})
    name = file.filename[-200:]
    fmt = "jsonl" if name.lower().endswith((".jsonl", ".ndjson", ".json")) else "csv"
    key = secrets.token_urlsafe(16)
    folder = _dir(request) / key
    folder.mkdir()
    (folder / "upload").write_bytes(_seal(request, key, data))
    meta = {"format": fmt, "mode": mode, "name": name, "rows": None, "applied": False}
    # The dry run is a job too: a large file is checked in GovID's background and the
    # report page follows it (a reload included).
    answer = await _send(request, key, meta, dry_run=True, idem=idempotency_key(), background=True)
    if not answer.ok:
        shutil.rmtree(folder, ignore_errors=True)
        return _page(
            request,
            answer.status,
            mode=mode,
            error=message(request, answer),
            errors=field_problems(request, answer),
        )
    imports = request.session.setdefault("imports", {})
    if answer.body.get("job_id"):
        meta["dry_job_id"] = answer.body["job_id"]
    else:  # an answer with the report itself
        (folder / "dry_run.json").write_text(json.dumps(answer.body, ensure_ascii=False))
    imports[key] = {**meta, "apply_key": idempotency_key()}
    if len(imports) > 10:
        imports.pop(next(iter(imports)))
    del t
    return RedirectResponse(f"/import/{key}", status_code=303)


def _text(request: Request, key: str) -> str:
    from admin_ui.screens_kit import t_of

    return t_of(request)(key)


def _report(request: Request, key: str, name: str) -> dict | None:
    path = _dir(request) / key / name
    return json.loads(path.read_text()) if path.exists() else None


@router.get("/import/{key}")
async def report(request: Request, key: str):
    ui(request).signed_in(request)
    meta = _mine(request, key)
    dry = _report(request, key, "dry_run.json") if meta else None
    if meta is not None and dry is None and meta.get("dry_job_id"):
        answer = await api(request).call(request.session, "GET", f"/imports/{meta['dry_job_id']}")
        if not answer.ok:
            return ui(request).render(
                request, "message.html", answer.status, message=message(request, answer)
            )
        if answer.body["status"] == "done" and answer.body.get("result"):
            dry = answer.body["result"]
            (_dir(request) / key / "dry_run.json").write_text(json.dumps(dry, ensure_ascii=False))
        else:  # still checking (or failed): its progress
            return ui(request).render(
                request,
                "import_report.html",
                key=key,
                meta=meta,
                dry=None,
                applied=None,
                shown=[],
                may_apply=False,
                job=answer.body,
            )
    if meta is None or dry is None:
        return ui(request).render(request, "message.html", 404, message_key="import_gone")
    applied = _report(request, key, "applied.json")
    job = None
    if applied is None and meta.get("job_id"):
        answer = await api(request).call(request.session, "GET", f"/imports/{meta['job_id']}")
        if not answer.ok:
            return ui(request).render(
                request, "message.html", answer.status, message=message(request, answer)
            )
        job = answer.body
        if job["status"] == "done" and job.get("result"):
            return _finished(request, key, _dir(request) / key, dict(job["result"]))
    may_apply = (
        applied is None
        and dry["valid"] > 0
        and (meta["mode"] == "per_row" or dry["failed"] == 0)
        and (_dir(request) / key / "upload").exists()
    )
    return ui(request).render(
        request,
        "import_report.html",
        key=key,
        meta=meta,
        dry=dry,
        applied=applied,
        shown=dry["errors"][:SHOWN_ERRORS],
        may_apply=may_apply and job is None,
        job=job,
    )


@router.get("/import/{key}/errors.csv")
async def errors_csv(request: Request, key: str):
    ui(request).signed_in(request)
    dry = _report(request, key, "dry_run.json") if _mine(request, key) else None
    if dry is None:
        return PlainTextResponse("not found", 404)
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(["row", "field", "message"])
    for e in dry["errors"]:
        w.writerow([e.get("row"), e.get("field"), e.get("message")])
    return Response(
        "\ufeff" + out.getvalue(),  # a BOM: Excel then shows Thai text
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": 'attachment; filename="import-errors.csv"',
            "Cache-Control": "no-store",
        },
    )


@router.post("/import/{key}/apply")
async def apply(request: Request, key: str):
    ui(request).signed_in(request)
    await ui(request).check_csrf(request)
    meta = _mine(request, key)
    folder = _dir(request) / key
    if meta is None or not (folder / "upload").exists():
        return ui(request).render(request, "message.html", 404, message_key="import_gone")
    # The key was made with the dry run: a second click replays the first apply (the same
    # job). The import runs in GovID's background; the report page follows its progress.
    answer = await _send(request, key, meta, dry_run=False, idem=meta["apply_key"], background=True)
    if not answer.ok:
        dry = _report(request, key, "dry_run.json")
        return ui(request).render(
            request,
            "import_report.html",
            answer.status,
            key=key,
            meta=meta,
            dry=dry,
            applied=None,
            shown=dry["errors"][:SHOWN_ERRORS],
            may_apply=True,
            apply_error=message(request, answer),
            **back_to(request, f"/import/{key}"),
        )
    if answer.status == 202 or answer.body.get("job_id"):
        imports = request.session.get("imports") or {}
        imports[key] = {**meta, "job_id": answer.body["job_id"]}
        request.session["imports"] = imports
        (folder / "upload").unlink(missing_ok=True)  # nothing left to apply twice
        return RedirectResponse(f"/import/{key}", status_code=303)
    return _finished(request, key, folder, dict(answer.body))


def _finished(request: Request, key: str, folder: Path, result: dict):
    tokens = result.pop("activation_tokens", None) or []
    (folder / "applied.json").write_text(json.dumps(result, ensure_ascii=False))
    (folder / "upload").unlink(missing_ok=True)
    if not tokens:
        return RedirectResponse(f"/import/{key}", status_code=303)
    r = ui(request).render(
        request,
        "import_tokens.html",
        key=key,
        result=result,
        tokens=tokens,
        **back_to(request, f"/import/{key}"),
    )
    r.headers.update(NO_STORE)
    return r


@router.get("/import-progress.js")
async def progress_script():
    """The one script of these screens (CSP script-src 'self'): while an import runs,
    reload its page every two seconds. Without it, the page's refresh link does it."""
    return Response(
        PROGRESS_JS, media_type="text/javascript", headers={"Cache-Control": "max-age=3600"}
    )


PROGRESS_JS = """"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var box = document.getElementById("import-progress");
  if (box && box.dataset.running === "1") {
    window.setTimeout(function () { window.location.reload(); }, 2000);
  }
});
"""
