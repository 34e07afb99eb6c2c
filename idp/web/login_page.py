"""The sign-in page, rendered by ``GET /login``, by a failed ``POST /login`` and directly
by ``/authorize`` when the authorization request needs a sign-in (a redirect less)."""

from __future__ import annotations

from starlette.requests import Request

from idp.web.i18n import translator
from idp.web.render import Pages, redirect_target


def _client_name(request: Request, db, data: dict | None, locale: str) -> str | None:
    if not data or not data.get("cid"):
        return None
    row = request.app.state.services.client_cache.active(data["cid"], lambda: db)
    if row is None:
        return None
    return row.name_th if locale == "th" else row.name_en


def login_page(
    request: Request,
    pg: Pages,
    db,
    data: dict | None,
    token: str,
    *,
    error: str | None = None,
    email: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
):
    locale = pg.locale(request, dict(data.get("p") or []).get("ui_locales") if data else None)
    t = translator(locale)
    notice = None
    if data and data.get("r") == "other_account":
        notice = t("login_hint_other")
    elif data and data.get("r") in ("prompt_login", "max_age"):
        notice = t("reauth")
    return pg.render(
        request,
        "login.html",
        status=status,
        headers=headers,
        locale=locale,
        interaction=token,
        error=error,
        email=email if email is not None else (data or {}).get("h"),
        notice=notice,
        client_name=_client_name(request, db, data, locale),
        form_target=redirect_target(data),
    )
