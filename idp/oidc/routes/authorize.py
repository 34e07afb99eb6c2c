"""The authorization endpoint (OIDC Core §3.1.2): ``GET|POST /authorize`` and
``/authorize/resume``, where the people's pages send a sign-in back once a step is done.

Thin: the decisions are ``idp.oidc.authorize``; an interaction is signed here
(``idp.oidc.interaction``) and its page is rendered by the people's pages, through
``idp.deps.interaction_pages`` (sign-in flows one way, web -> oidc)."""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit, urlunsplit

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from idp.deps import DbDep, ServicesDep, interaction_pages, pages
from idp.oidc import authorize as authz
from idp.oidc.interaction import INTERACTION_PAGES, BadInteraction, Interaction
from idp.oidc.routes.forms import FormDep, make_ctx
from idp.oidc.server import GovIDOAuth2Request, server_for
from idp.sessions import service as sessions

router = APIRouter()
_FROM_COOKIE = object()


def run_authorize(
    request: Request,
    db,
    services,
    pairs: list[tuple[str, str]],
    resumed: authz.Resumed,
    method: str,
    *,
    sso=_FROM_COOKIE,
    redirects_only: bool = False,
) -> Response | None:
    """Decide the authorization request ``pairs`` for the session of the request's
    cookie (or ``sso``) and answer it. With ``redirects_only`` the answer is given only
    when it is a redirect (to the client or to the next interaction page) and None
    otherwise: see ``resume_here``."""
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = GovIDOAuth2Request("GET", f"{ctx.issuer}/authorize", query=pairs, headers=request.headers)
    pg, shown = pages(request), interaction_pages(request)
    if sso is _FROM_COOKIE:
        sso = sessions.find(
            db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
        )
    locale = pg.locale(request, dict(pairs).get("ui_locales"))
    outcome = authz.process(ctx, server, req, sso, resumed)
    if redirects_only and not _is_redirect(outcome):
        return None
    if isinstance(outcome, authz.ErrorPage):
        return shown.authorization_error(
            request,
            error=outcome.error,
            description=outcome.description,
            message=outcome.message,
            values=outcome.values,
            locale=locale,
        )
    if isinstance(outcome, authz.Redirect):
        return authorization_response(request, outcome, locale, method)
    # An interaction: carry the original request, signed, through the pages.
    interaction = Interaction(
        request=tuple(pairs),
        started_at=resumed.started_at or services.clock.time(),
        kind=outcome.kind,
        reason=outcome.reason,
        login_hint=outcome.login_hint,
        client_id=outcome.client.row.client_id,
        scopes=tuple(outcome.scopes),
        skippable=outcome.skippable,
        consent_done=resumed.consent_done,
        select_done=resumed.select_done,
        fresh_login=resumed.fresh_login,
        enrol_skipped=resumed.enrol_skipped,
    )
    token = interaction.dump(services)
    if outcome.kind == "login" and method == "GET" and not redirects_only:
        # The sign-in page itself rather than a redirect to /login: a browser round
        # trip less per sign-in (Keycloak answers its authorization endpoint the same
        # way). Its form posts to /login; a reload asks again from the start.
        return shown.login(request, db, interaction, token)
    if outcome.kind in INTERACTION_PAGES:
        target = f"{INTERACTION_PAGES[outcome.kind]}?{urlencode({'i': token})}"
        return RedirectResponse(target, status_code=303)
    if outcome.kind == "select_account":
        return shown.select_account(request, interaction, token, sso.account, locale)
    return shown.consent(
        request,
        db,
        interaction,
        token,
        account=sso.account,
        client=outcome.client.row,
        scopes=outcome.scopes,
        locale=locale,
    )


def authorization_response(
    request: Request, outcome: authz.Redirect, locale: str, method: str
) -> Response:
    if outcome.response_mode == "form_post":
        return interaction_pages(request).form_post(
            request, outcome.redirect_uri, outcome.params, locale
        )
    parts = urlsplit(outcome.redirect_uri)
    query = parts.query + ("&" if parts.query else "") + urlencode(outcome.params)
    location = urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))
    # RFC 9700 §4.12: 303 after a POST so the browser does not re-post credentials.
    return RedirectResponse(
        location,
        status_code=303 if method == "POST" else 302,
        headers={"Cache-Control": "no-store"},
    )


def _is_redirect(outcome: authz.Outcome) -> bool:
    if isinstance(outcome, authz.Redirect):
        return outcome.response_mode != "form_post"
    return isinstance(outcome, authz.StepNeeded) and outcome.kind in INTERACTION_PAGES


def resumed_from(state: Interaction) -> tuple[list[tuple[str, str]], authz.Resumed]:
    """The authorization request and its progress, from a signed interaction."""
    resumed = authz.Resumed(
        started_at=state.started_at,
        consent_done=state.consent_done,
        select_done=state.select_done,
        fresh_login=state.fresh_login,
        denied=state.denied,
        enrol_skipped=state.enrol_skipped,
    )
    return list(state.request or ()), resumed


def resume_here(request: Request, db, services, state: Interaction, sso) -> Response | None:
    """What ``/authorize/resume`` would answer for interaction ``state`` and the session
    ``sso``, answered by the page that finished a step (the sign-in or second-factor
    POST) instead of a redirect to ``/authorize/resume``: a browser round trip less per
    sign-in, as Keycloak and node-oidc-provider do. Only a redirect is answered here
    (303, RFC 9700 §4.12); a page (consent, account choice, form_post, an error page)
    must not be the answer to a POST that a reload would send again, so for those this
    returns None and the caller redirects to ``/authorize/resume``."""
    return run_authorize(
        request, db, services, *resumed_from(state), "POST", sso=sso, redirects_only=True
    )


def _answered(response: Response | None) -> Response:
    """``run_authorize``'s answer when not asked for redirects only: there always is one."""
    if response is None:
        raise RuntimeError("run_authorize gave no answer without redirects_only")
    return response


@router.get("/authorize")
def authorize_get(request: Request, db: DbDep, services: ServicesDep) -> Response:
    pairs = list(request.query_params.multi_items())
    return _answered(
        run_authorize(
            request, db, services, pairs, authz.Resumed(started_at=services.clock.time()), "GET"
        )
    )


@router.post("/authorize")
def authorize_post(request: Request, db: DbDep, services: ServicesDep, form: FormDep) -> Response:
    # OIDC Core §3.1.2.1: POST uses form serialisation of the same parameters.
    return _answered(
        run_authorize(
            request, db, services, form, authz.Resumed(started_at=services.clock.time()), "POST"
        )
    )


@router.get("/authorize/resume")
def authorize_resume(request: Request, db: DbDep, services: ServicesDep, i: str = "") -> Response:
    try:
        state = Interaction.load(services, i)
    except BadInteraction:
        return pages(request).error(request, "invalid_request", "interaction_broken")
    if not state.for_app:
        return pages(request).error(request, "invalid_request", "interaction_broken")
    return _answered(run_authorize(request, db, services, *resumed_from(state), "GET"))
