"""The sign-in page, rendered by ``GET /login``, by a failed ``POST /login`` and directly
by ``/authorize`` when the authorization request needs a sign-in (a redirect less)."""

from __future__ import annotations

from starlette.requests import Request

from idp.agencies import shown
from idp.agencies.models import Agency
from idp.deps import Pages
from idp.oidc import Interaction
from idp.web.i18n import translator


def asking_app(request: Request, db, state: Interaction | None, locale: str) -> dict | None:
    """The app a sign-in is for and the agency that runs it, in the page's language
    (a person should know who is asking): {"name", "agency"}, or None for
    a step of GovID's own."""
    if state is None or not state.client_id:
        return None
    services = request.app.state.services
    row = services.client_cache.active(state.client_id, lambda: db)
    if row is None:
        return None
    # Kept like the client (idp.agencies.shown): a page needs no database when both are.
    agency = shown.shown(
        lambda: db,
        row.agency_id,
        ttl=services.settings.client_cache_seconds,
        now=services.clock.monotonic(),
    )
    return {
        "name": row.name_th if locale == "th" else row.name_en,
        "agency": agency.name(locale) if agency is not None else None,
        "logo": agency.logo if agency is not None else None,
    }


def login_page(
    request: Request,
    pg: Pages,
    db,
    state: Interaction | None,
    token: str,
    *,
    error: str | None = None,
    email: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
):
    locale = pg.locale(request, state.ui_locales if state else None)
    t = translator(locale)
    notice = None
    reason = state.reason if state else ""
    if reason == "other_account":
        notice = t("login_hint_other")
    elif reason in ("prompt_login", "max_age"):
        notice = t("reauth")
    return pg.render(
        request,
        "login.html",
        status=status,
        headers=headers,
        locale=locale,
        interaction=token,
        error=error,
        email=email if email is not None else (state.login_hint if state else None),
        notice=notice,
        app=asking_app(request, db, state, locale),
        form_target=state.redirect_uri if state else None,
    )


def privacy_notice(db, agency: Agency) -> tuple[str, Agency] | None:
    """The privacy notice (PDPA) of the agency that runs an app, or of the nearest
    agency above it that has one, with that agency; None when none has one. The app's
    own notice (``client.policy_uri``) is shown beside it on the consent page."""
    from idp.agencies.service import ancestors

    for a in reversed(ancestors(db, agency, include_self=True)):
        url = getattr(a, "privacy_url", None)
        if url:
            return url, a
    return None
