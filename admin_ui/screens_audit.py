"""Audit (issue 20): events of the caller's subtree with filters (agency and its subtree,
time range, type, account, outcome), and an export (CSV or NDJSON) the console downloads
from the API, checks against its signed manifest and offers for download with it.

The check here is the recipient's: the manifest's signature by a key of GovID's JWKS
(``typ`` govid-audit-manifest+jwt), its text equal to what was signed, and the file's
SHA-256 and size equal to the signed ones. ``idp audit verify-export`` does the same and
also re-hashes every row's chain link. Auditors get the same screens as admins: there is
nothing to change here, and the API scopes what anyone reads."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import secrets
import shutil
import tempfile
import time
from pathlib import Path

import httpx
from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, PlainTextResponse
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from admin_ui.api import SignInRequired, Unavailable
from admin_ui.chain import chain_status
from admin_ui.screens_kit import api, back_to, field_problems, message, ui

router = APIRouter()
MANIFEST_TYP = "govid-audit-manifest+jwt"
OUTCOMES = ("success", "failure", "denied", "refused", "error")
BANGKOK = dt.timezone(dt.timedelta(hours=7))  # the console's times are Thai time
KEEP_SECONDS = 3600  # an export's copy is kept an hour for its download, then removed
FILTERS = ("agency", "since", "until", "types", "account", "outcome")


def _instant(value: str) -> str | None:
    """``datetime-local`` (no zone) read as Thai time; the API wants a zone."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value  # the API names the field
    if when.tzinfo is None:
        when = when.replace(tzinfo=BANGKOK)
    return when.isoformat()


def _api_filters(f: dict) -> dict:
    out: dict = {}
    if f.get("agency"):
        out["agency"] = f["agency"]
    for k in ("since", "until"):
        v = _instant(f.get(k, ""))
        if v:
            out[k] = v
    types = [x for x in str(f.get("types", "")).replace(",", " ").split() if x][:50]
    if types:
        out["types"] = types
    if f.get("account"):
        out["account"] = f["account"]
    if f.get("outcome"):
        out["outcome"] = f["outcome"]
    return out


def _filters_of(source) -> dict:
    return {k: str(source.get(k, "") or "").strip()[:255] for k in FILTERS}


def _local(at: str) -> str:
    try:
        return (
            dt.datetime.fromisoformat(at.replace("Z", "+00:00"))
            .astimezone(BANGKOK)
            .strftime("%Y-%m-%d %H:%M:%S")
        )
    except ValueError:
        return at


@router.get("/audit")
async def events(request: Request, cursor: str = ""):
    ui(request).signed_in(request)
    f = _filters_of(request.query_params)
    params = {**_api_filters(f), "limit": 50}
    if cursor:
        params["cursor"] = cursor
    answer = await api(request).call(request.session, "GET", "/audit/events", params=params)
    chain = await chain_status(request) if not cursor else None  # on the first page
    items = answer.body.get("items", []) if answer.ok else []
    for e in items:
        e["local_at"] = _local(e.get("at", ""))
    next_url = None
    if answer.ok and answer.body.get("next_cursor"):
        from urllib.parse import urlencode

        q = {k: v for k, v in f.items() if v}
        next_url = "/audit?" + urlencode({**q, "cursor": answer.body["next_cursor"]})
    return ui(request).render(
        request,
        "audit.html",
        200 if answer.ok else answer.status,
        items=items,
        f=f,
        outcomes=OUTCOMES,
        error=None if answer.ok else message(request, answer),
        errors={} if answer.ok else field_problems(request, answer),
        next_url=next_url,
        paged=bool(cursor),
        chain=chain,
    )


# ---------------------------------------------------------------------------- exports


def _export_dir(request: Request) -> Path:
    state = request.app.state
    if getattr(state, "audit_export_dir", None) is None:
        state.audit_export_dir = Path(tempfile.mkdtemp(prefix="govid-console-exports-"))
    d = state.audit_export_dir
    for old in d.iterdir():  # the copies of exports older than an hour go
        if old.stat().st_mtime < time.time() - KEEP_SECONDS:
            shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink(True)
    return d


async def _stream_export(request: Request, body: dict, dest: Path) -> tuple[int, dict, str]:
    """POST /audit/exports straight to a file (not through memory). Returns (status,
    problem, export id)."""
    a = api(request)
    # A cheap read first: it refreshes the access token or sends the person to sign in.
    probe = await a.call(request.session, "GET", "/audit/events", params={"limit": 1})
    if not probe.ok:
        return probe.status, probe.problem, ""
    token = request.session["tokens"]["access_token"]
    try:
        async with a.http.stream(
            "POST",
            f"{a.base}/audit/exports",
            json=body,
            headers={"Authorization": f"Bearer {token}"},
            timeout=httpx.Timeout(a.http.timeout.connect, read=120),
        ) as r:
            if r.status_code == 401:
                raise SignInRequired
            if r.status_code != 200:
                raw = await r.aread()
                try:
                    return r.status_code, json.loads(raw), ""
                except ValueError:
                    return r.status_code, {}, ""
            with dest.open("wb") as out:
                async for chunk in r.aiter_bytes():
                    out.write(chunk)
            return 200, {}, r.headers.get("x-export-id", "")
    except httpx.TransportError as exc:
        raise Unavailable from exc


def check_export(path: Path, doc: dict, keys: KeySet) -> tuple[bool, str, dict]:
    """(verified, reason code, signed claims)."""
    if not isinstance(doc, dict) or not isinstance(doc.get("jws"), str):
        return False, "manifest_invalid", {}
    try:
        token = jwt.decode(doc["jws"], keys, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
    except (JoseError, ValueError):
        return False, "manifest_signature", {}
    if token.header.get("typ") != MANIFEST_TYP:
        return False, "manifest_signature", {}
    claims = dict(token.claims)
    if doc.get("manifest") != claims:
        return False, "manifest_altered", claims
    h = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    if (h.hexdigest(), path.stat().st_size) != (claims.get("sha256"), claims.get("bytes")):
        return False, "file_altered", claims
    if claims.get("complete") is False:
        return False, "incomplete_export", claims
    return True, "verified", claims


@router.post("/audit/export")
async def export(request: Request):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    f = _filters_of(form)
    fmt = "ndjson" if form.get("format") == "ndjson" else "csv"
    body = {"format": fmt, "bom": form.get("bom") == "1", **_api_filters(f)}
    export_key = secrets.token_urlsafe(16)
    folder = _export_dir(request) / export_key
    folder.mkdir()
    data = folder / f"export.{fmt}"
    status, problem, export_id = await _stream_export(request, body, data)
    if status != 200:
        shutil.rmtree(folder, ignore_errors=True)
        from admin_ui.api import Answer

        answer = Answer(status=status, problem=problem if isinstance(problem, dict) else {})
        request.scope["query_string"] = b""
        return ui(request).render(
            request,
            "audit.html",
            status,
            items=[],
            f=f,
            outcomes=OUTCOMES,
            export_error=message(request, answer),
            **back_to(request, "/audit"),
            errors=field_problems(request, answer),
            next_url=None,
            paged=False,
        )
    # The manifest is recorded when the stream has ended: ask until it is there (briefly).
    manifest = None
    for _ in range(50):
        m = await api(request).call(request.session, "GET", f"/audit/exports/{export_id}/manifest")
        if m.ok:
            manifest = m.body
            break
        await asyncio.sleep(0.1)
    if manifest is None:
        verified, reason, claims = False, "manifest_missing", {}
    else:
        (folder / "manifest.json").write_text(json.dumps(manifest, ensure_ascii=False))
        govid = request.app.state.govid
        keys = KeySet.import_key_set(await govid.fetch_jwk_set())
        verified, reason, claims = check_export(data, manifest, keys)
        if reason == "manifest_signature":  # a key GovID has just rotated in
            keys = KeySet.import_key_set(await govid.fetch_jwk_set(force=True))
            verified, reason, claims = check_export(data, manifest, keys)
    mine = request.session.setdefault("exports", {})
    mine[export_key] = {"format": fmt, "export_id": export_id}
    if len(mine) > 20:
        mine.pop(next(iter(mine)))
    return ui(request).render(
        request,
        "audit_export.html",
        key=export_key,
        fmt=fmt,
        export_id=export_id,
        verified=verified,
        reason=reason,
        claims=claims,
        has_manifest=manifest is not None,
        **back_to(request, "/audit"),
    )


@router.get("/audit/export/{key}/{name}")
async def export_file(request: Request, key: str, name: str):
    """The file or its manifest, to the console session that made the export only."""
    ui(request).signed_in(request)
    mine = request.session.get("exports") or {}
    if key not in mine or name not in ("file", "manifest"):
        return PlainTextResponse("not found", 404)
    folder = _export_dir(request) / key
    fmt = mine[key]["format"]
    path = folder / (f"export.{fmt}" if name == "file" else "manifest.json")
    if not path.exists():
        return PlainTextResponse("not found", 404)
    stem = f"govid-audit-{mine[key]['export_id'] or key}"
    filename = f"{stem}.{fmt}" if name == "file" else f"{stem}.manifest.json"
    media = {"csv": "text/csv", "ndjson": "application/x-ndjson"}[fmt]
    return FileResponse(
        path,
        media_type=media if name == "file" else "application/json",
        filename=filename,
        headers={"Cache-Control": "no-store"},
    )
