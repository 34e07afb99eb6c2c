"""APIs (RFC 8707): register, change, rotate the introspection secret, disable, through
/admin/v1/apis, as the apps' screens do (admin_ui/screens_apps.py). A new secret is
shown once, in the answer to the POST that made it (``Cache-Control: no-store``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse

from admin_ui.api import idempotency_key
from admin_ui.screens_kit import (
    CHANGES,
    after_change,
    api,
    back_to,
    create_showing_secret,
    message,
    my_roles,
    secret_shown_once,
    ui,
    write_headers,
)

router = APIRouter()
SHARED = ("agency", "subtree", "all")


def _api_form_of(a: dict) -> dict:
    return {
        "name_th": a.get("name_th", ""),
        "name_en": a.get("name_en", ""),
        "scopes": " ".join(a.get("scopes") or []),
        "shared_with": a.get("shared_with", "agency"),
        "introspection": a.get("introspection", True),
    }


def _api_body(form) -> dict:
    return {
        "name_th": str(form.get("name_th", "")).strip(),
        "name_en": str(form.get("name_en", "")).strip(),
        "scopes": str(form.get("scopes", "")).split()[:50],
        "shared_with": form.get("shared_with") if form.get("shared_with") in SHARED else "agency",
        "introspection": form.get("introspection") == "1",
    }


def _api_raw(form) -> dict:
    d = {k: form.get(k, "") for k in form}
    d["introspection"] = form.get("introspection") == "1"
    return d


@router.get("/apis")
async def apis(request: Request, cursor: str = ""):
    ui(request).signed_in(request)
    params: dict = {"limit": 50}
    if cursor:
        params["cursor"] = cursor
    answer = await api(request).call(request.session, "GET", "/apis", params=params)
    nxt = answer.body.get("next_cursor") if answer.ok else None
    return ui(request).render(
        request,
        "apis.html",
        200 if answer.ok else answer.status,
        items=answer.body.get("items", []) if answer.ok else [],
        error=None if answer.ok else message(request, answer),
        next_url=f"/apis?{urlencode({'cursor': nxt})}" if nxt else None,
        paged=bool(cursor),
        may_write=bool(await my_roles(request) & {"operator", "agency_admin"}),
    )


def _api_new_page(request: Request, status: int = 200, **ctx):
    return ui(request).render(
        request,
        "api_new.html",
        status,
        form=ctx.pop("form", None) or {"shared_with": "agency", "introspection": True},
        shared=SHARED,
        idem=ctx.pop("idem", None) or idempotency_key(),
        **back_to(request, "/apis/new"),
        **ctx,
    )


@router.get("/apis/new")
async def api_new(request: Request):
    ui(request).signed_in(request)
    return _api_new_page(request)


@router.post("/apis")
async def api_create(request: Request):
    ui(request).signed_in(request)
    await ui(request).check_csrf(request)
    form = await request.form()
    body = {
        **_api_body(form),
        "agency": str(form.get("agency", "")).strip(),
        "identifier": str(form.get("identifier", "")).strip(),
    }
    return await create_showing_secret(
        request,
        form,
        "/apis",
        body,
        shown_once="introspection_client_secret",
        template="api_secret.html",
        item="a",
        detail_url=lambda made: f"/apis/{made.get('id', '')}",
        form_again=_api_new_page,
        raw=_api_raw(form),
    )


async def _api_page(request: Request, api_id: str, status: int = 200, **ctx):
    answer = await api(request).call(request.session, "GET", f"/apis/{api_id}")
    if not answer.ok:
        return ui(request).render(
            request, "message.html", answer.status, message=message(request, answer)
        )
    return ui(request).render(
        request,
        "api.html",
        status,
        a=answer.body,
        etag=answer.etag or "",
        form=ctx.pop("form", None) or _api_form_of(answer.body),
        shared=SHARED,
        **back_to(request, f"/apis/{api_id}"),
        idem=idempotency_key(),
        rotate_idem=idempotency_key(),
        disable_idem=idempotency_key(),
        may_write=bool(await my_roles(request) & {"operator", "agency_admin"})
        or "edit_error" in ctx,
        **ctx,
    )


@router.get("/apis/{api_id}")
async def api_detail(request: Request, api_id: str, done: str | None = None):
    ui(request).signed_in(request)
    return await _api_page(request, api_id, done=done if done in ("saved", "disabled") else None)


@router.post("/apis/{api_id}/{action}")
async def api_action(request: Request, api_id: str, action: str):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    if action not in CHANGES:
        return PlainTextResponse("not found", 404)
    method, path, body = {
        "edit": ("PATCH", f"/apis/{api_id}", _api_body(form)),
        "secret": ("POST", f"/apis/{api_id}/secret", None),
        "disable": ("DELETE", f"/apis/{api_id}", None),
    }[action]
    answer = await api(request).call(
        request.session, method, path, json=body, headers=write_headers(form, etag=True)
    )
    detail = f"/apis/{api_id}"
    if answer.ok and action == "secret":
        return secret_shown_once(
            request,
            "api_secret.html",
            200,
            back=detail,
            a=answer.body.get("api", {}),
            secret=answer.body.get("introspection_client_secret"),
            rotated=True,
        )
    if answer.ok and action == "edit" and answer.body.get("introspection_client_secret"):
        secret = answer.body.pop("introspection_client_secret")  # introspection turned on
        return secret_shown_once(
            request, "api_secret.html", 200, back=detail, a=answer.body, secret=secret
        )

    def page_again(status: int, **ctx):
        return _api_page(request, api_id, status, **ctx)

    return await after_change(request, answer, action, detail, page_again, _api_raw(form))
