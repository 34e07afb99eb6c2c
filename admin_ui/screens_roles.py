"""Role grants (issue 20), through /admin/v1/role-grants: grant on an account's page or
the roles page (by email), revoke, the list. What a role may grant is what the API
answers; operators are made with the CLI."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from admin_ui.api import idempotency_key
from admin_ui.screens_accounts import GRANTABLE, account_page
from admin_ui.screens_kit import (
    THAI_TIME,
    api,
    field_problems,
    message,
    t_of,
    thai_time,
    ui,
    write_headers,
)

router = APIRouter()


async def _agency_id(request: Request, code: str) -> str | None:
    answer = await api(request).call(
        request.session, "GET", "/agencies", params={"code_prefix": code, "limit": 50}
    )
    if not answer.ok:
        return None
    for a in answer.body.get("items", []):
        if str(a.get("code", "")).lower() == code.lower():
            return a["id"]
    return None


async def _grant(request: Request, form, account_id: str | None, errors: dict[str, str]):
    """Check the grant form and send it. Returns (answer or None, problems, form back)."""
    t = t_of(request)
    role = str(form.get("role", ""))
    code = str(form.get("role_agency", "")).strip()[:64]
    expires = str(form.get("expires", "")).strip()[:10]
    body: dict = {"account_id": account_id, "role": role}
    if role not in GRANTABLE:
        errors["role"] = t("field_invalid")
    if expires:
        try:
            day = dt.date.fromisoformat(expires)
            # The end of that day in Thai time.
            end = dt.datetime.combine(day, dt.time(23, 59, 59), THAI_TIME)
            body["expires_at"] = end.isoformat()
        except ValueError:
            errors["expires"] = t("date_invalid")
    agency_id = await _agency_id(request, code) if code else None
    if agency_id is None:
        errors["role_agency"] = t("agency_unknown")
    else:
        body["agency_id"] = agency_id
    form_back = {"role": role, "role_agency": code, "expires": expires}
    if errors:
        return None, errors, form_back
    answer = await api(request).call(
        request.session, "POST", "/role-grants", json=body, headers=write_headers(form)
    )
    problems = {} if answer.ok else field_problems(request, answer)
    for api_name, name in (("expires_at", "expires"), ("agency_id", "role_agency")):
        if api_name in problems:
            problems[name] = problems.pop(api_name)
    if "account_id" in problems or "account" in problems:
        problems["role_email"] = problems.pop("account_id", None) or problems.pop("account")
    return answer, problems, form_back


@router.post("/accounts/{account_id}/roles")
async def role_grant(request: Request, account_id: str):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    answer, problems, form_back = await _grant(request, form, account_id, {})
    if answer is not None and answer.ok:
        return RedirectResponse(f"/accounts/{account_id}?done=granted", status_code=303)
    return await account_page(
        request,
        account_id,
        answer.status if answer is not None else 422,
        role_error=message(request, answer) if answer is not None else None,
        role_errors=problems,
        role_form=form_back,
    )


async def _account_by_email(request: Request, email: str) -> str | None:
    answer = await api(request).call(
        request.session, "GET", "/accounts", params={"email_prefix": email, "limit": 2}
    )
    if not answer.ok:
        return None
    return next((a["id"] for a in answer.body.get("items", []) if a.get("email") == email), None)


@router.post("/roles")
async def roles_grant(request: Request):
    """Grant from the roles screen: the account named by its email (within your
    agencies: another ministry's address is 'not found', as the API answers)."""
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    email = str(form.get("role_email", "")).strip().lower()[:320]
    errors: dict[str, str] = {}
    account_id = await _account_by_email(request, email) if email else None
    if account_id is None:
        errors["role_email"] = t_of(request)("account_unknown")
    answer, problems, form_back = await _grant(request, form, account_id, errors)
    if answer is not None and answer.ok:
        return RedirectResponse("/roles?done=granted", status_code=303)
    return await roles_page(
        request,
        answer.status if answer is not None else 422,
        error=message(request, answer) if answer is not None else None,
        role_errors=problems,
        role_form={**form_back, "role_email": email},
    )


@router.post("/roles/{grant_id}/revoke")
async def role_revoke(request: Request, grant_id: str):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    back = str(form.get("back", ""))
    a = api(request)
    current = await a.call(request.session, "GET", f"/role-grants/{grant_id}")
    answer = current
    if current.ok:
        answer = await a.call(
            request.session,
            "DELETE",
            f"/role-grants/{grant_id}",
            headers={"If-Match": current.etag or '"0"'},
        )
    account_id = current.body.get("account_id") if current.ok else None
    if answer.ok:
        if back == "roles" or not account_id:
            return RedirectResponse("/roles?done=revoked", status_code=303)
        return RedirectResponse(f"/accounts/{account_id}?done=revoked", status_code=303)
    if back != "roles" and account_id:
        return await account_page(
            request, account_id, answer.status, role_error=message(request, answer)
        )
    return await roles_page(request, answer.status, error=message(request, answer))


async def roles_page(request: Request, status: int = 200, **ctx):
    qp = request.query_params
    role = qp.get("role", "")
    params: dict = {"limit": 50}
    if role in ("operator", "agency_admin", "auditor"):
        params["role"] = role
    if qp.get("cursor"):
        params["cursor"] = qp["cursor"]
    answer = await api(request).call(request.session, "GET", "/role-grants", params=params)
    items = answer.body.get("items", []) if answer.ok else []
    next_url = None
    if answer.ok and answer.body.get("next_cursor"):
        q = {"role": params["role"]} if "role" in params else {}
        next_url = "/roles?" + urlencode({**q, "cursor": answer.body["next_cursor"]})
    if not answer.ok and not ctx.get("error"):
        ctx["error"] = message(request, answer)
        status = answer.status
    return ui(request).render(
        request,
        "roles.html",
        status,
        items=[{**g, "expires_local": thai_time(g.get("expires_at"))} for g in items],
        role=params.get("role", ""),
        next_url=next_url,
        grantable=GRANTABLE,
        idem=idempotency_key(),
        **ctx,
    )


@router.get("/roles")
async def roles(request: Request, done: str | None = None):
    ui(request).signed_in(request)
    return await roles_page(request, done=done if done in ("revoked", "granted") else None)
