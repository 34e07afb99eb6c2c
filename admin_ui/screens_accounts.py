"""Accounts and the dashboard (issue 20), all through /admin/v1 (role grants:
screens_roles.py).

What a role sees is what the API answers: an auditor is offered the same forms only
where the API would accept them, and a refused write is shown as the API's refusal.
Every write carries the Idempotency-Key its form was shown with, and If-Match where the
form read a version. Secrets shown once (activation and reset links) are in the answer
to the POST that made them (``Cache-Control: no-store``), never in a URL."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse

from admin_ui.api import idempotency_key
from admin_ui.chain import chain_status
from admin_ui.screens_kit import api, field_problems, message, t_of, thai_time, ui, write_headers

router = APIRouter()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}
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
        since=thai_time(figures.body["sign_ins"]["since"])
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
            expires=thai_time(answer.body.get("activation_expires_at")),
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
        events=[{**e, "at_local": thai_time(e.get("at"))} for e in events.body.get("items", [])]
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
            expires=thai_time(answer.body.get("link_expires_at")),
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
