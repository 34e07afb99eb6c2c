"""Accounts, roles and the dashboard (issue 20), all through /admin/v1.

What a role sees is what the API answers: an auditor is offered the same forms only
where the API would accept them, and a refused write is shown as the API's refusal.
Every write carries the Idempotency-Key its form was shown with, and If-Match where the
form read a version. Secrets shown once (activation and reset links) are in the answer
to the POST that made them (``Cache-Control: no-store``), never in a URL."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from admin_ui.api import idempotency_key
from admin_ui.chain import chain_status
from admin_ui.screens_kit import api, field_problems, message, t_of, ui, write_headers

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
THAI_TIME = ZoneInfo("Asia/Bangkok")
ACTIONS = ("suspend", "resume", "delete", "password-reset", "mfa-reset", "end-sessions")
DONE = {
    "suspend": "suspended",
    "resume": "resumed",
    "delete": "deleted",
    "mfa-reset": "mfa_reset",
    "end-sessions": "sessions_ended",
}
EDITABLE = ("given_name_th", "family_name_th", "given_name_en", "family_name_en", "locale")
GRANTABLE = ("agency_admin", "auditor")  # operators are made with the CLI, not here
FILTERS = ("q", "status", "agency", "mfa", "locked")
YES_NO = {"yes": "true", "no": "false"}


def _page_error(request: Request, answer):
    return ui(request).render(
        request, "message.html", answer.status, message=message(request, answer)
    )


# ---------------------------------------------------------------------------- dashboard


@router.get("/")
async def dashboard(request: Request):
    user = ui(request).signed_in(request)
    a = api(request)
    grants = await a.call(
        request.session, "GET", "/role-grants", params={"account_id": user["sub"]}
    )
    me = await a.call(request.session, "GET", f"/accounts/{user['sub']}")
    figures = await a.call(request.session, "GET", "/summary")
    # The audit chain's state, for those who may read the log (the summary says so).
    chain = await chain_status(request) if figures.ok and figures.body.get("audit") else None
    return ui(request).render(
        request,
        "dashboard.html",
        who=_display_name(request, user, me.body if me.ok else None),
        grants=grants.body.get("items", []) if grants.ok else None,
        me=me.body if me.ok else None,
        figures=figures.body if figures.ok else None,
        figures_error=None if figures.ok else message(request, figures),
        since=_thai_time(figures.body["sign_ins"]["since"])
        if figures.ok and figures.body.get("sign_ins")
        else None,
        chain=chain,
    )


def _display_name(request: Request, user: dict, me: dict | None) -> str:
    """The person's name in the page's language: GovID's ID token carries no profile
    claims (they come from userinfo), so from their account when the API shows it."""
    if user.get("name"):
        return user["name"]
    if me:
        lang = ui(request).locale_of(request)
        for first in (lang, "en" if lang == "th" else "th"):
            name = " ".join(
                p for p in (me.get(f"given_name_{first}"), me.get(f"family_name_{first}")) if p
            )
            if name:
                return name
        if me.get("email"):
            return me["email"]
    return user.get("email") or user.get("sub", "")


def _thai_time(value: str | None) -> str:
    if not value:
        return ""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.astimezone(THAI_TIME).strftime("%Y-%m-%d %H:%M")


# ---------------------------------------------------------------------------- the list


@router.get("/accounts")
async def accounts(request: Request, cursor: str = ""):
    ui(request).signed_in(request)
    qp = request.query_params
    filters = {k: str(qp.get(k, ""))[:200] for k in FILTERS}
    if filters["mfa"] not in YES_NO:
        filters["mfa"] = ""
    if filters["locked"] not in YES_NO:
        filters["locked"] = ""
    params: dict = {"limit": 50}
    if filters["q"].strip():
        params["q"] = filters["q"].strip()
    for k in ("status", "agency"):
        if filters[k]:
            params[k] = filters[k]
    if filters["mfa"]:
        params["has_second_factor"] = YES_NO[filters["mfa"]]
    if filters["locked"]:
        params["locked"] = YES_NO[filters["locked"]]
    if cursor:
        params["cursor"] = cursor
    answer = await api(request).call(request.session, "GET", "/accounts", params=params)
    kept = {k: v for k, v in filters.items() if v}
    next_url = None
    if answer.ok and answer.body.get("next_cursor"):
        next_url = "/accounts?" + urlencode({**kept, "cursor": answer.body["next_cursor"]})
    errors = {} if answer.ok else field_problems(request, answer)
    if "has_second_factor" in errors:
        errors["mfa"] = errors.pop("has_second_factor")
    return ui(request).render(
        request,
        "accounts.html",
        200 if answer.ok else answer.status,
        items=answer.body.get("items", []) if answer.ok else [],
        error=None if answer.ok else message(request, answer),
        errors=errors,
        filters=filters,
        first_url="/accounts?" + urlencode(kept) if cursor else None,
        next_url=next_url,
    )


# ---------------------------------------------------------------------------- creating


def _new_page(request: Request, status: int = 200, **ctx):
    return ui(request).render(
        request,
        "account_new.html",
        status,
        form=ctx.pop("form", None) or {"agency": request.query_params.get("agency", "")[:64]},
        idem=ctx.pop("idem", None) or idempotency_key(),
        **ctx,
    )


@router.get("/accounts/new")
async def account_new(request: Request):
    ui(request).signed_in(request)
    return _new_page(request)


@router.post("/accounts/new")
async def account_create(request: Request):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    raw = {k: str(form.get(k, "")).strip() for k in ("email", "agency", "citizen_id", *EDITABLE)}
    body = {k: v for k, v in raw.items() if v and k != "citizen_id"}
    body["locale"] = raw["locale"] if raw["locale"] in ("th", "en") else "th"
    if raw["citizen_id"]:
        body["citizen_id"] = raw["citizen_id"]
    answer = await api(request).call(
        request.session, "POST", "/accounts", json=body, headers=write_headers(form)
    )
    if answer.ok:
        token = answer.body.pop("activation_token", None)
        r = ui(request).render(
            request,
            "account_link.html",
            201,
            a=answer.body,
            purpose="activation",
            link=_link(request, token),
            expires=_thai_time(answer.body.get("activation_expires_at")),
        )
        r.headers.update(NO_STORE)
        return r
    raw.pop("citizen_id")  # not shown back: the person types it again
    return _new_page(
        request,
        answer.status,
        form=raw,
        error=message(request, answer),
        errors=field_problems(request, answer),
        idem=str(form.get("idempotency_key") or ""),
    )


def _link(request: Request, token: str | None) -> str | None:
    """The page behind activation and reset links (GovID's /password/set)."""
    if not token:
        return None
    issuer = request.app.state.settings.issuer
    return f"{issuer}/password/set?" + urlencode({"token": token})


# ---------------------------------------------------------------------------- one account


async def account_page(request: Request, account_id: str, status: int = 200, **ctx):
    a = api(request)
    s = request.session
    answer = await a.call(s, "GET", f"/accounts/{account_id}")
    if not answer.ok:
        return _page_error(request, answer)
    sessions = await a.call(s, "GET", f"/accounts/{account_id}/sessions")
    grants = await a.call(s, "GET", "/role-grants", params={"account_id": account_id})
    events = await a.call(  # the newest ten; an auditor's or admin's audit:read decides
        s, "GET", "/audit/events", params={"account": account_id, "limit": 10, "order": "desc"}
    )
    acc = answer.body
    form = ctx.pop("form", None) or {k: acc.get(k, "") for k in EDITABLE}
    return ui(request).render(
        request,
        "account.html",
        status,
        a=acc,
        etag=answer.etag or "",
        form=form,
        sessions=sessions.body.get("items", []) if sessions.ok else None,
        grants=grants.body.get("items", []) if grants.ok else None,
        events=[{**e, "at_local": _thai_time(e.get("at"))} for e in events.body.get("items", [])]
        if events.ok
        else None,
        grantable=GRANTABLE,
        idem={k: idempotency_key() for k in (*ACTIONS, "edit", "grant")},
        **ctx,
    )


@router.get("/accounts/{account_id}")
async def account(request: Request, account_id: str, done: str | None = None):
    ui(request).signed_in(request)
    known = {*DONE.values(), "saved", "granted", "revoked"}
    return await account_page(request, account_id, done=done if done in known else None)


@router.post("/accounts/{account_id}/edit")
async def account_edit(request: Request, account_id: str):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    raw = {k: str(form.get(k, "")).strip() for k in EDITABLE}
    body = dict(raw)
    if body["locale"] not in ("th", "en"):
        body.pop("locale")
    answer = await api(request).call(
        request.session,
        "PATCH",
        f"/accounts/{account_id}",
        json=body,
        headers={"If-Match": str(form.get("etag") or '"0"')},
    )
    if answer.ok:
        return RedirectResponse(f"/accounts/{account_id}?done=saved", status_code=303)
    if answer.status == 404:
        return _page_error(request, answer)
    t = t_of(request)
    return await account_page(
        request,
        account_id,
        answer.status,
        form=raw,
        edit_error=t("changed_elsewhere") if answer.status == 412 else message(request, answer),
        reload_link=answer.status == 412,
        errors=field_problems(request, answer),
    )


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


@router.post("/accounts/{account_id}/{action}")
async def account_action(request: Request, account_id: str, action: str):
    ui(request).signed_in(request)
    form = await ui(request).check_csrf(request)
    if action not in ACTIONS:
        return ui(request).render(request, "message.html", 404, message_key="not_found")
    reason = str(form.get("reason", "")).strip()
    headers = write_headers(form, etag=True)
    path = f"/accounts/{account_id}/{action}"
    method, body = "POST", None
    if action in ("suspend", "resume"):
        body = {"reason": reason}
    elif action == "delete":
        method, path, body = "DELETE", f"/accounts/{account_id}", {"reason": reason}
        headers.pop("Idempotency-Key", None)  # DELETE is idempotent by itself
        headers.setdefault("If-Match", '"0"')
    elif action == "mfa-reset":
        path = f"/accounts/{account_id}/mfa/reset"
    elif action == "end-sessions":
        path, body = f"/accounts/{account_id}/sessions/end", {}
    answer = await api(request).call(request.session, method, path, json=body, headers=headers)
    if answer.ok and action == "password-reset":
        r = ui(request).render(
            request,
            "account_link.html",
            200,
            a=answer.body.get("account", {}),
            purpose="reset",
            link=_link(request, answer.body.get("link_token")),
            expires=_thai_time(answer.body.get("link_expires_at")),
            sessions_ended=answer.body.get("sessions_ended", 0),
        )
        r.headers.update(NO_STORE)
        return r
    if answer.ok:
        return RedirectResponse(f"/accounts/{account_id}?done={DONE[action]}", status_code=303)
    if answer.status == 404:
        return _page_error(request, answer)
    t = t_of(request)
    return await account_page(
        request,
        account_id,
        answer.status,
        action_error=t("changed_elsewhere") if answer.status == 412 else message(request, answer),
        reload_link=answer.status == 412,
        errors=field_problems(request, answer),
        failed=action,
        reason=reason,
    )


# ---------------------------------------------------------------------------- roles


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
        items=[{**g, "expires_local": _thai_time(g.get("expires_at"))} for g in items],
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
