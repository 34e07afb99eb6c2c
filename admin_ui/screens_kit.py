"""What the agencies, apps, import and audit screens share: the app's helpers (render,
CSRF, sign-in), the admin API, and problems in the person's language next to a field."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from admin_ui.api import AdminApi, Answer, idempotency_key
from admin_ui.i18n import translator


def ui(request: Request):
    return request.app.state.ui


def api(request: Request) -> AdminApi:
    return request.app.state.api


def t_of(request: Request):
    return translator(ui(request).locale_of(request))


def message(request: Request, answer: Answer) -> str:
    return ui(request).problem_message(request, answer)


def field_problems(request: Request, answer: Answer) -> dict[str, str]:
    """``errors`` of a problem+json (every bad field), each in the person's language:
    the text for its code where the console has one, else a general one with the code.
    The API's own message (English) is never shown in a Thai page."""
    t = t_of(request)
    out: dict[str, str] = {}
    errors = list(answer.problem.get("errors") or [])
    if not errors and answer.problem.get("field"):
        errors = [answer.problem]
    for e in errors:
        field = str(e.get("field", "")).split(".")
        name = next((p for p in field if p and not p.isdigit()), "")
        if name in ("body", "query") and len(field) > 1:
            name = next((p for p in field[1:] if p and not p.isdigit()), name)
        code = str(e.get("code") or "invalid")
        text = t(f"err_{code}")
        if text == f"err_{code}":
            text = f"{t('field_invalid')} ({t('code')}: {code})"
        if name and name not in out:
            out[name] = text
    return out


def write_headers(form: dict[str, Any], etag: bool = False) -> dict[str, str]:
    """Every write carries the Idempotency-Key the form was shown with (a double submit
    is one change) and, where the form read a version, If-Match."""
    h = {"Idempotency-Key": str(form.get("idempotency_key") or idempotency_key())}
    if etag and form.get("etag"):
        h["If-Match"] = str(form["etag"])
    return h


async def my_roles(request: Request) -> set[str]:
    """The person's roles as the API answers them (only to choose which forms to offer;
    the API decides every request again)."""
    user = request.session.get("user") or {}
    answer = await api(request).call(
        request.session, "GET", "/role-grants", params={"account_id": user.get("sub", "")}
    )
    if not answer.ok:
        return set()
    return {g.get("role") for g in answer.body.get("items", [])}


def lines(value: Any, limit: int = 50) -> list[str]:
    """A textarea's lines (one value a line), blank ones dropped."""
    out = [v.strip() for v in str(value or "").splitlines()]
    return [v for v in out if v][:limit]


def back_to(request: Request, path: str) -> dict:
    """For a page rendered in answer to a POST: the language links go back to ``path``
    (a GET), not to the form's action (which a GET cannot open)."""
    return {"here": path} if request.method == "POST" else {}


NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def secret_shown_once(
    request: Request, template: str, status: int, *, back: str, **values: Any
) -> HTMLResponse:
    """A new secret (an app's, an API's introspection credentials) in the answer to the
    POST that made it (``no-store``), never in a URL or a later page."""
    r = ui(request).render(request, template, status, **values, **back_to(request, back))
    r.headers.update(NO_STORE)
    return r


CHANGES = ("edit", "secret", "disable")


async def after_change(
    request: Request, answer: Answer, action: str, detail: str, page_again, raw: dict
) -> Response:
    """What a change of a registration (an app, an API: edit, secret, disable) answers
    when no secret is shown: back to its page saying so (303), the message page when it
    is gone, or its page again with the refusal (an edit's next to its fields, with what
    was typed). ``page_again(status, **ctx)`` renders that page."""
    if answer.ok:
        done = "saved" if action == "edit" else "disabled"
        return RedirectResponse(f"{detail}?done={done}", status_code=303)
    if answer.status == 404:
        return ui(request).render(request, "message.html", 404, message=message(request, answer))
    if action == "edit":
        return await page_again(
            answer.status,
            form=raw,
            edit_error=message(request, answer),
            errors=field_problems(request, answer),
        )
    return await page_again(answer.status, action_error=message(request, answer))


async def create_showing_secret(
    request: Request,
    form,
    path: str,
    body: dict,
    *,
    shown_once: str,
    template: str,
    item: str,
    detail_url,
    form_again,
    raw: dict,
):
    """POST a new registration (an app, an API). Made: its secret is shown once, in this
    answer (``no-store``), never in a URL or a later page. Refused: ``form_again`` shows
    the form with what was typed and the problems next to their fields."""
    answer = await api(request).call(
        request.session, "POST", path, json=body, headers=write_headers(dict(form))
    )
    if answer.ok:
        secret = answer.body.pop(shown_once, None)
        return secret_shown_once(
            request,
            template,
            201,
            back=detail_url(answer.body),
            secret=secret,
            **{item: answer.body},
        )
    return form_again(
        request,
        answer.status,
        form=raw,
        error=message(request, answer),
        errors=field_problems(request, answer),
        idem=str(form.get("idempotency_key") or ""),
    )


THAI_TIME = ZoneInfo("Asia/Bangkok")


def thai_time(value: str | None) -> str:
    if not value:
        return ""
    try:
        when = dt.datetime.fromisoformat(value)
    except ValueError:
        return value
    return when.astimezone(THAI_TIME).strftime("%Y-%m-%d %H:%M")
