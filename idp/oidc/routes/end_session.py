"""RP-Initiated Logout 1.0 (`/end_session`) on Authlib's EndSessionEndpoint, and the
session ending that drives Back-Channel Logout. Its pages (the confirmation, "signed
out") are the people's pages' (``idp.deps.interaction_pages``)."""

from __future__ import annotations

from typing import Annotated, cast

from authlib.oauth2.rfc6749 import OAuth2Error
from authlib.oidc.rpinitiated.end_session import EndSessionRequest
from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from idp.deps import DbDep, ServicesDep, end_browser_session, interaction_pages, pages
from idp.oidc.routes.forms import FormDep, make_ctx, oauth_request
from idp.oidc.server import server_for
from idp.sessions import service as sessions
from idp.signing import BadSignature, Signer

router = APIRouter()
Str = Annotated[str, Form()]


def _signer(services) -> Signer:
    return Signer(services.settings.secret_keys, "logout", services.clock)


def _finish(request: Request, db, services, redirect_uri: str | None) -> Response:
    pg = pages(request)
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    if sso is not None:
        end_browser_session(request, db, services, sso, "rp_logout")
    if redirect_uri:
        response: Response = RedirectResponse(redirect_uri, status_code=303)
    else:
        response = interaction_pages(request).logged_out(request)
    pg.clear_cookie(response, pg.session_cookie)
    return response


def end_session_route(
    request: Request, db: DbDep, services: ServicesDep, form: FormDep
) -> Response:
    ctx = make_ctx(request, db, services)
    server = server_for(ctx)
    req = oauth_request(request, form, ctx.issuer)
    pg = pages(request)
    try:
        # The end_session endpoint's own request type (Authlib's signature says its base).
        validated = cast(EndSessionRequest, server.validate_endpoint_request("end_session", req))
    except OAuth2Error as err:
        # RP-Initiated Logout §4: on errors, no redirection.
        return interaction_pages(request).protocol_error(
            request, error=err.error or "invalid_request", description=err.description
        )
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    claims = validated.id_token_claims
    same_user = claims is not None and sso is not None and claims.get("sub") == str(sso.account_id)
    if sso is not None and not same_user:
        # §6: without a valid hint for this user, ask before acting (logout CSRF).
        token = _signer(services).dumps({"r": validated.redirect_uri}, 600)
        return interaction_pages(request).logout_confirm(request, token, validated.redirect_uri)
    return _finish(request, db, services, validated.redirect_uri)


router.add_api_route("/end_session", end_session_route, methods=["GET", "POST"])


def _confirmation(services, i: str) -> tuple[dict | None, bool]:
    """The confirmation's payload (None if GovID did not make it) and whether its ten
    minutes are over. Signing out has no time limit (WCAG 2.2.1): a late "Sign out" is
    still the person's own choice (the form carries the CSRF token), so it is honoured;
    only the way back to the app, whose address was checked when the page was made, is
    not: the person gets the signed-out page instead."""
    try:
        data, expires = _signer(services).open(i, allow_expired=True)
    except BadSignature:
        return None, False
    return data, expires < services.clock.time()


@router.get("/end_session/confirm")
def end_session_confirm_page(
    request: Request, db: DbDep, services: ServicesDep, i: str = ""
) -> Response:
    """The confirmation again (the language links of the pages around it lead here):
    nothing is ended by a GET."""
    pg = pages(request)
    if (
        sessions.find(
            db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
        )
        is None
    ):
        return interaction_pages(request).logged_out(request)
    data, late = _confirmation(services, i)
    if data is None:
        return pg.error(request, "invalid_request", "logout_expired")
    return interaction_pages(request).logout_confirm(request, i, None if late else data.get("r"))


@router.post("/end_session/confirm")
def end_session_confirm(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    decision: Str = "",
) -> Response:
    pg = pages(request)
    data, late = _confirmation(services, i)
    if data is None or not pg.csrf_ok(request, csrf_token):
        return pg.error(request, "invalid_request", "logout_expired", interaction=i)
    if decision != "yes":
        # Still signed in: the person's own account page (not the discovery JSON).
        return RedirectResponse("/account", status_code=303)
    return _finish(request, db, services, None if late else data.get("r"))
