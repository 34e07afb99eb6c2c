"""Apps (issue 20): register, change, rotate the secret, disable, through /admin/v1/clients.
The redirect URIs are checked by the API (``idp.clients.rules.check_registration``);
its problems are shown next to the field. A new secret is shown once, in the answer to
the POST that made it (``Cache-Control: no-store``), never in a URL or a later page."""

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
    field_problems,
    lines,
    message,
    my_roles,
    secret_shown_once,
    ui,
    write_headers,
)

router = APIRouter()
GRANTS = ("authorization_code", "refresh_token", "client_credentials")
AUTH_METHODS = ("client_secret_basic", "client_secret_post", "private_key_jwt", "none")


def _form_of(c: dict) -> dict:
    return {
        "agency": c.get("agency", {}).get("code", "") if isinstance(c.get("agency"), dict) else "",
        "name_th": c.get("name_th", ""),
        "name_en": c.get("name_en", ""),
        "redirect_uris": "\n".join(c.get("redirect_uris") or []),
        "post_logout_redirect_uris": "\n".join(c.get("post_logout_redirect_uris") or []),
        "backchannel_logout_uri": c.get("backchannel_logout_uri") or "",
        "scopes": " ".join(c.get("scopes") or []),
        "grant_types": list(c.get("grant_types") or []),
        "auth_method": c.get("auth_method", "client_secret_basic"),
        "min_acr": c.get("min_acr") or "",
    }


def _body_of(form) -> dict:
    body = {
        "name_th": str(form.get("name_th", "")).strip(),
        "name_en": str(form.get("name_en", "")).strip(),
        "redirect_uris": lines(form.get("redirect_uris"), 20),
        "post_logout_redirect_uris": lines(form.get("post_logout_redirect_uris"), 20),
        "backchannel_logout_uri": str(form.get("backchannel_logout_uri", "")).strip() or None,
        "scopes": str(form.get("scopes", "")).split()[:20],
        "grant_types": [g for g in form.getlist("grant_types") if g in GRANTS][:3],
        "min_acr": str(form.get("min_acr", "")).strip() or None,
    }
    return body


def _raw(form) -> dict:
    d = {k: form.get(k, "") for k in form}
    d["grant_types"] = form.getlist("grant_types")
    return d


@router.get("/apps")
async def apps(request: Request, agency: str = "", status: str = "", cursor: str = ""):
    ui(request).signed_in(request)
    params: dict = {"limit": 50}
    for k, v in (("agency", agency), ("status", status), ("cursor", cursor)):
        if v:
            params[k] = v
    answer = await api(request).call(request.session, "GET", "/clients", params=params)
    next_url = None
    if answer.ok and answer.body.get("next_cursor"):
        q = {k: v for k, v in (("agency", agency), ("status", status)) if v}
        next_url = "/apps?" + urlencode({**q, "cursor": answer.body["next_cursor"]})
    return ui(request).render(
        request,
        "apps.html",
        200 if answer.ok else answer.status,
        items=answer.body.get("items", []) if answer.ok else [],
        error=None if answer.ok else message(request, answer),
        errors={} if answer.ok else field_problems(request, answer),
        filters={"agency": agency, "status": status},
        next_url=next_url,
        paged=bool(cursor),
    )


def _new_page(request: Request, status: int = 200, **ctx):
    form = ctx.pop("form", None) or {
        "grant_types": ["authorization_code", "refresh_token"],
        "scopes": "openid profile email",
        "auth_method": "client_secret_basic",
        "agency": request.query_params.get("agency", ""),
    }
    return ui(request).render(
        request,
        "app_new.html",
        status,
        form=form,
        grants=GRANTS,
        auth_methods=AUTH_METHODS,
        idem=ctx.pop("idem", None) or idempotency_key(),
        **back_to(request, "/apps/new"),
        **ctx,
    )


@router.get("/apps/new")
async def app_new(request: Request):
    ui(request).signed_in(request)
    return _new_page(request)


@router.post("/apps")
async def app_create(request: Request):
    ui(request).signed_in(request)
    await ui(request).check_csrf(request)
    form = await request.form()
    body = {
        **_body_of(form),
        "agency": str(form.get("agency", "")).strip(),
        "auth_method": str(form.get("auth_method", "client_secret_basic")),
    }
    return await create_showing_secret(
        request,
        form,
        "/clients",
        body,
        shown_once="client_secret",
        template="app_secret.html",
        item="c",
        detail_url=lambda made: f"/apps/{made.get('client_id', '')}",
        form_again=_new_page,
        raw=_raw(form),
    )


async def _app_page(request: Request, client_id: str, status: int = 200, **ctx):
    answer = await api(request).call(request.session, "GET", f"/clients/{client_id}")
    if not answer.ok:
        return ui(request).render(
            request, "message.html", answer.status, message=message(request, answer)
        )
    roles = await my_roles(request)
    return ui(request).render(
        request,
        "app.html",
        status,
        c=answer.body,
        # Forms for those whose roles may write apps; the API decides each request anyway.
        may_write=bool(roles & {"operator", "agency_admin"}) or "edit_error" in ctx,
        etag=answer.etag or "",
        form=ctx.pop("form", None) or _form_of(answer.body),
        grants=GRANTS,
        **back_to(request, f"/apps/{client_id}"),
        idem=idempotency_key(),
        rotate_idem=idempotency_key(),
        disable_idem=idempotency_key(),
        **ctx,
    )


@router.get("/apps/{client_id}")
async def app_detail(request: Request, client_id: str, done: str | None = None):
    ui(request).signed_in(request)
    return await _app_page(request, client_id, done=done if done in ("saved", "disabled") else None)


@router.post("/apps/{client_id}/{action}")
async def app_action(request: Request, client_id: str, action: str):
    ui(request).signed_in(request)
    await ui(request).check_csrf(request)
    form = await request.form()  # a FormData: the grant types are a list
    if action not in CHANGES:
        return PlainTextResponse("not found", 404)
    method, path, body = {
        "edit": ("PATCH", f"/clients/{client_id}", _body_of(form)),
        "secret": ("POST", f"/clients/{client_id}/secret", None),
        "disable": ("DELETE", f"/clients/{client_id}", None),
    }[action]
    answer = await api(request).call(
        request.session, method, path, json=body, headers=write_headers(dict(form), etag=True)
    )
    detail = f"/apps/{client_id}"
    if answer.ok and action == "secret":
        return secret_shown_once(
            request,
            "app_secret.html",
            200,
            back=detail,
            c=answer.body.get("client", {}),
            secret=answer.body.get("client_secret"),
            rotated=True,
        )

    def page_again(status: int, **ctx):
        return _app_page(request, client_id, status, **ctx)

    return await after_change(request, answer, action, detail, page_again, _raw(form))
