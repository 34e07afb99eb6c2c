"""Agencies (issue 20): the tree of the caller's subtree (ministry → department → office),
loaded one level at a time from the API (``top``, ``parent_id``) and searchable by name or
code (``q``); an agency's details, mail domains, quotas and helpdesk contact; operators
create and change them. What may be done is the API's answer (403/404), not the page's."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from admin_ui.api import idempotency_key
from admin_ui.screens_kit import (
    api,
    back_to,
    field_problems,
    lines,
    message,
    my_roles,
    ui,
    write_headers,
)

router = APIRouter()
CONTACT = ("helpdesk_email", "helpdesk_phone", "helpdesk_url", "privacy_url")
PAGE = 50


def _page_link(base: str, params: dict, cursor: str | None) -> str | None:
    if not cursor:
        return None
    return base + "?" + urlencode({**{k: v for k, v in params.items() if v}, "cursor": cursor})


@router.get("/agencies")
async def agency_tree(request: Request, q: str = "", cursor: str = ""):
    ui(request).signed_in(request)
    params = {"limit": PAGE, "q": q} if q else {"limit": PAGE, "top": "true"}
    if cursor:
        params["cursor"] = cursor
    answer = await api(request).call(request.session, "GET", "/agencies", params=params)
    roles = await my_roles(request)
    return ui(request).render(
        request,
        "agencies.html",
        200 if answer.ok else answer.status,
        q=q,
        items=answer.body.get("items", []) if answer.ok else [],
        error=None if answer.ok else message(request, answer),
        errors={} if answer.ok else field_problems(request, answer),
        next_url=_page_link("/agencies", {"q": q}, answer.body.get("next_cursor"))
        if answer.ok
        else None,
        paged=bool(cursor),
        may_create="operator" in roles,
        form={},
        idem=idempotency_key(),
    )


async def _agency_page(request: Request, agency_id: str, status: int = 200, **ctx):
    call = api(request).call
    answer = await call(request.session, "GET", f"/agencies/{agency_id}")
    if not answer.ok:
        return ui(request).render(
            request, "message.html", answer.status, message=message(request, answer)
        )
    a = answer.body
    # Where it sits: its ancestors, as far up as the caller may see (404 above their root).
    trail, parent = [], a.get("parent_id")
    while parent and len(trail) < 16:
        up = await call(request.session, "GET", f"/agencies/{parent}")
        if not up.ok:
            break
        trail.insert(0, up.body)
        parent = up.body.get("parent_id")
    params = {"parent_id": a["id"], "limit": PAGE}
    cursor = request.query_params.get("cursor", "")
    if cursor:
        params["cursor"] = cursor
    kids = await call(request.session, "GET", "/agencies", params=params)
    roles = await my_roles(request)
    fed = await call(request.session, "GET", f"/agencies/{a['id']}/federation")
    federation = fed.body if fed.ok else None
    fed_form = ctx.pop("fed_form", None) or _fed_form(federation)
    form = ctx.pop("form", None) or {
        "name_th": a["name_th"],
        "name_en": a["name_en"],
        "mail_domains": "\n".join(a.get("mail_domains") or []),
        "mailbox_quota_mb": a.get("mailbox_quota_mb"),
        "attachment_limit_mb": a.get("attachment_limit_mb"),
        **{k: a.get(k) or "" for k in CONTACT},
    }
    return ui(request).render(
        request,
        "agency.html",
        status,
        a=a,
        trail=trail,
        children=kids.body.get("items", []) if kids.ok else [],
        next_url=_page_link(f"/agencies/{a['id']}", {}, kids.body.get("next_cursor"))
        if kids.ok
        else None,
        paged=bool(cursor),
        etag=answer.etag or "",
        idem=idempotency_key(),
        child_idem=idempotency_key(),
        may_edit="operator" in roles,
        has_contact=any(k in a for k in CONTACT),
        form=form,
        child_form=ctx.pop("child_form", {}),
        federation=federation,
        fed_form=fed_form,
        **back_to(request, f"/agencies/{a['id']}"),
        fed_idem=idempotency_key(),
        fed_off_idem=idempotency_key(),
        test_idem=idempotency_key(),
        **ctx,
    )


@router.get("/agencies/{agency_id}")
async def agency(request: Request, agency_id: str, done: str | None = None):
    ui(request).signed_in(request)
    return await _agency_page(
        request, agency_id, done=done if done in ("saved", "created") else None
    )


def _quota(value) -> int | str | None:
    value = str(value or "").strip()
    if not value:
        return None
    return int(value) if value.isdigit() else value  # the API says what is wrong


@router.post("/agencies/{agency_id}/edit")
async def agency_edit(request: Request, agency_id: str):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    body = {
        "name_th": str(form.get("name_th", "")).strip(),
        "name_en": str(form.get("name_en", "")).strip(),
        "mail_domains": lines(form.get("mail_domains")),
    }
    for name in ("mailbox_quota_mb", "attachment_limit_mb"):
        value = _quota(form.get(name))
        if value is not None:
            body[name] = value
    for name in CONTACT:
        if name in form:  # only when the API has the field (the page showed it)
            body[name] = str(form.get(name, "")).strip()
    answer = await api(request).call(
        request.session,
        "PATCH",
        f"/agencies/{agency_id}",
        json=body,
        headers=write_headers(form, etag=True),
    )
    if answer.ok:
        return RedirectResponse(f"/agencies/{agency_id}?done=saved", status_code=303)
    if answer.status == 404:
        return ui(request).render(request, "message.html", 404, message=message(request, answer))
    return await _agency_page(
        request,
        agency_id,
        status=answer.status,
        edit_error=message(request, answer),
        errors=field_problems(request, answer),
        form={k: form.get(k, "") for k in form},
    )


@router.post("/agencies")
async def agency_create(request: Request):
    """A ministry (no parent) or a sub-agency of ``parent`` (a code): operators only."""
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    body = {
        "code": str(form.get("code", "")).strip(),
        "name_th": str(form.get("name_th", "")).strip(),
        "name_en": str(form.get("name_en", "")).strip(),
        "mail_domains": lines(form.get("mail_domains")),
    }
    parent_id = str(form.get("parent_id", ""))
    if form.get("parent"):
        body["parent"] = str(form["parent"])
    answer = await api(request).call(
        request.session, "POST", "/agencies", json=body, headers=write_headers(form)
    )
    if answer.ok:
        return RedirectResponse(f"/agencies/{answer.body['id']}?done=created", status_code=303)
    if parent_id:
        return await _agency_page(
            request,
            parent_id,
            status=answer.status,
            child_error=message(request, answer),
            child_errors=field_problems(request, answer),
            child_form=dict(form),
        )
    roles = await my_roles(request)
    return ui(request).render(
        request,
        "agencies.html",
        answer.status,
        q="",
        items=[],
        error=None,
        errors={},
        next_url=None,
        paged=False,
        may_create="operator" in roles,
        create_error=message(request, answer),
        **back_to(request, "/agencies"),
        create_errors=field_problems(request, answer),
        form=dict(form),
        idem=str(form.get("idempotency_key") or idempotency_key()),
    )


# ---------------------------------------------------------------------------- federation


def _fed_form(f: dict | None) -> dict:
    f = f or {}
    return {
        "servers": "\n".join(f.get("servers") or []),
        "start_tls": f.get("start_tls", True),
        "bind_dn_template": f.get("bind_dn_template") or "",
        "search_base": f.get("search_base") or "",
        "search_filter": f.get("search_filter") or "",
        "service_bind_dn": f.get("service_bind_dn") or "",
        "timeout_seconds": f.get("timeout_seconds", 5),
        "fallback_to_local": f.get("fallback_to_local", False),
    }


@router.post("/agencies/{agency_id}/federation")
async def federation_save(request: Request, agency_id: str):
    """PUT the settings (operators). The service password is sent only when typed: an
    empty field keeps the stored one; it is never shown again."""
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    timeout = str(form.get("timeout_seconds", "5")).strip()
    body = {
        "servers": lines(form.get("servers"), 10),
        "start_tls": form.get("start_tls") == "1",
        "bind_dn_template": str(form.get("bind_dn_template", "")).strip() or None,
        "search_base": str(form.get("search_base", "")).strip() or None,
        "search_filter": str(form.get("search_filter", "")).strip() or None,
        "service_bind_dn": str(form.get("service_bind_dn", "")).strip() or None,
        "timeout_seconds": int(timeout) if timeout.isdigit() else timeout,
        "fallback_to_local": form.get("fallback_to_local") == "1",
    }
    if form.get("ca_pem", "").strip():
        body["ca_pem"] = str(form["ca_pem"])
    if form.get("service_password"):
        body["service_password"] = str(form["service_password"])
    answer = await api(request).call(
        request.session,
        "PUT",
        f"/agencies/{agency_id}/federation",
        json=body,
        headers=write_headers(form),
    )
    if answer.ok:
        return RedirectResponse(f"/agencies/{agency_id}?done=saved#federation-h", 303)
    if answer.status == 404:
        return ui(request).render(request, "message.html", 404, message=message(request, answer))
    kept = {k: form.get(k, "") for k in form if k not in ("service_password", "csrf_token")}
    kept["start_tls"] = form.get("start_tls") == "1"
    kept["fallback_to_local"] = form.get("fallback_to_local") == "1"
    return await _agency_page(
        request,
        agency_id,
        status=answer.status,
        fed_error=message(request, answer),
        fed_errors=field_problems(request, answer),
        fed_form=kept,
    )


@router.post("/agencies/{agency_id}/federation/test")
async def federation_test(request: Request, agency_id: str):
    """GovID binds to the stored servers (with the service account, or as the person
    typed here) with the stored timeout and says what happened; audited there."""
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    body = {}
    if str(form.get("test_login", "")).strip():
        body = {
            "login": str(form["test_login"]).strip(),
            "password": str(form.get("test_password", "")),
        }
    answer = await api(request).call(
        request.session,
        "POST",
        f"/agencies/{agency_id}/federation/test",
        json=body or None,
        headers=write_headers(form),
        timeout=130.0,  # up to 10 servers x the stored timeout
    )
    if answer.status == 404 and answer.problem.get("field") != "federation":
        return ui(request).render(request, "message.html", 404, message=message(request, answer))
    if not answer.ok:
        return await _agency_page(
            request, agency_id, status=answer.status, test_error=message(request, answer)
        )
    return await _agency_page(request, agency_id, test_result=answer.body)


@router.post("/agencies/{agency_id}/federation/disable")
async def federation_disable(request: Request, agency_id: str):
    """Turn federation off for this agency (and so for its subtree, unless a sub-agency
    has its own): its people sign in with GovID passwords. Operators; audited there."""
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    answer = await api(request).call(
        request.session,
        "DELETE",
        f"/agencies/{agency_id}/federation",
        headers=write_headers(form),
    )
    if answer.ok:
        return RedirectResponse(f"/agencies/{agency_id}?done=saved#federation-h", 303)
    if answer.status == 404 and answer.problem.get("field") != "federation":
        return ui(request).render(request, "message.html", 404, message=message(request, answer))
    return await _agency_page(
        request, agency_id, status=answer.status, fed_error=message(request, answer)
    )
