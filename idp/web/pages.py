"""People-facing pages: sign in, consent, account choice (Thai/English, CSRF on every
form, 303 after every POST)."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.responses import RedirectResponse, Response
from starlette.exceptions import HTTPException as StarletteHTTPException

from idp.accounts.models import Account
from idp.credentials import sign_in
from idp.deps import DbDep, ServicesDep, client_ip, pages
from idp.sessions import service as sessions
from idp.sessions.service import NewSession
from idp.tokens import consent
from idp.web import device_cookie, passkey_offer
from idp.web.flow import continue_after, expired_page, load
from idp.web.i18n import translator, wait_text
from idp.web.login_page import login_page

router = APIRouter()
Str = Annotated[str, Form()]


@router.get("/login")
def login_form(request: Request, db: DbDep, services: ServicesDep, i: str = "") -> Response:
    pg = pages(request)
    state = load(services, i)
    if state is None:
        return expired_page(request, i)
    return login_page(request, pg, db, state, i)


@router.post("/login")
def login_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    email: Str = "",
    password: Str = "",
) -> Response:
    pg = pages(request)
    state = load(services, i)
    if state is None:
        return expired_page(request, i)
    locale = pg.locale(request, state.ui_locales)
    t = translator(locale)
    if not pg.csrf_ok(request, csrf_token):
        return login_page(request, pg, db, state, i, error=t("csrf"), email=email, status=400)
    if not email.strip() or not password:
        return login_page(
            request, pg, db, state, i, error=t("missing_fields"), email=email, status=400
        )
    settings = services.settings
    # This browser's device cookie for the email typed, if it signed in to it before.
    device_name = device_cookie.cookie_name(settings.secret_key, email, pg.https)
    device = device_cookie.find(settings.secret_keys, email, request.cookies, pg.https)

    def then(new: NewSession) -> Response:
        # On to the app (or first the offer of a passkey).
        if passkey_offer.should_offer(request, db, services, new.row.account):
            return passkey_offer.offer_redirect(services, state, fresh_login=True)
        done = state.but(fresh_login=True)
        return continue_after(services, done, here=(request, db, new.row))

    now = services.clock.now()
    signed = sign_in.with_password(
        db,
        services.hasher,
        services.keys,
        settings,
        services.throttle_store(db),
        email,
        password,
        where=sign_in.Where(client_ip(request), request.headers.get("user-agent"), state.client_id),
        old=sessions.find(db, settings, request.cookies.get(pg.session_cookie), now),
        then=then,
        cipher=services.cipher,
        device=device,
        now=now,
    )
    result, new, response = signed.result, signed.session, signed.answer
    if result.unavailable:
        return login_page(
            request, pg, db, state, i, email=email, status=503, error=t("directory_unavailable")
        )
    if result.retry_after:
        return login_page(
            request,
            pg,
            db,
            state,
            i,
            email=email,
            status=429,
            headers={"Retry-After": str(result.retry_after)},
            error=t("throttled", wait=wait_text(result.retry_after, locale)),
        )
    if new is None or response is None:
        return login_page(
            request, pg, db, state, i, error=t("bad_credentials"), email=email, status=401
        )
    pg.set_cookie(
        response, pg.session_cookie, new.cookie_value, max_age=settings.session_absolute_ttl
    )
    # A new device cookie at every sign-in (rotation, OWASP device cookies).
    pg.set_cookie(
        response,
        device_name,
        device_cookie.issue(settings.secret_key, email, settings.device_cookie_days),
        max_age=settings.device_cookie_days * 86400,
    )
    # Committed in this thread, before the answer as get_db would: its commit would be a
    # second thread-pool hop of the sign-in (decision 0009).
    db.commit()
    return response


@router.post("/consent")
def consent_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    decision: Str = "",
) -> Response:
    pg = pages(request)
    state = load(services, i)
    if state is None or not state.for_app or not pg.csrf_ok(request, csrf_token):
        return expired_page(request, i)
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    if sso is None:
        return RedirectResponse(f"/login?{urlencode({'i': i})}", status_code=303)
    if decision != "allow":
        return continue_after(services, state.but(denied=True))
    account = db.get_one(Account, sso.account_id)
    consent.grant(
        db,
        account,
        state.client_id or "",
        list(state.scopes),
        session_id=sso.sid,
        ip=client_ip(request),
    )
    return continue_after(services, state.but(consent_done=True))


@router.post("/select-account")
def select_account_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    choice: Str = "",
) -> Response:
    pg = pages(request)
    state = load(services, i)
    if state is None or not pg.csrf_ok(request, csrf_token):
        return expired_page(request, i)
    if choice == "current":
        return continue_after(services, state.but(select_done=True))
    # Another account: sign in afresh; the choice itself is then made.
    token = state.but(select_done=True, reason="select_account").dump(services)
    return RedirectResponse(f"/login?{urlencode({'i': token})}", status_code=303)


@router.get("/")
def home(request: Request) -> Response:
    # A person's browser goes to their account page (sign-in first); programs get the
    # provider's metadata as before.
    if "text/html" in request.headers.get("accept", ""):
        return RedirectResponse("/account", status_code=302)
    return RedirectResponse("/.well-known/openid-configuration", status_code=302)


# Paths whose callers are programs: their errors keep their own format (RFC 9457 for the
# admin API and SCIM, which also answer from their own applications; JSON elsewhere).
API_PATHS = (
    "/admin/v1",
    "/scim/v2",
    "/token",
    "/userinfo",
    "/revoke",
    "/introspect",
    "/jwks",
    "/.well-known",
    "/mfa/webauthn",
    "/account/webauthn",
    "/healthz",
    "/readyz",
    "/static",
)
PAGE_ERRORS = {
    404: ("not_found", "page_not_found"),
    405: ("method_not_allowed", "method_not_allowed"),
}


def _is_api(path: str) -> bool:
    return any(path == p or path.startswith(f"{p}/") for p in API_PATHS)


async def http_error(request: Request, exc: StarletteHTTPException) -> Response:
    """No route or no such method: a page for a browser, FastAPI's JSON for programs."""
    accepts_html = "text/html" in request.headers.get("accept", "")
    if exc.status_code in PAGE_ERRORS and accepts_html and not _is_api(request.url.path):
        pg = pages(request)
        error, message = PAGE_ERRORS[exc.status_code]
        return pg.render(
            request,
            "error.html",
            status=exc.status_code,
            headers=getattr(exc, "headers", None),  # 405: Allow
            error=error,
            description=translator(pg.locale(request))(message),
        )
    return await http_exception_handler(request, exc)
