"""Second-factor pages: the step-up prompt (/mfa) and enrolment during sign-in
(/mfa/enrol). CSRF on every form, 303 after every POST, throttled like passwords."""

from __future__ import annotations

import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response

from idp.accounts.models import Account
from idp.credentials import mfa, sign_in
from idp.credentials import service as creds
from idp.deps import DbDep, ServicesDep, client_ip, pages
from idp.oidc import INTERACTION_TTL
from idp.web import passkey_offer, time_limits
from idp.web.flow import Flow, continue_after, load_flow, login_redirect
from idp.web.i18n import translator, wait_text
from idp.web.login_page import asking_app

router = APIRouter()
Str = Annotated[str, Form()]
WHY = ("recovery", "remove", "add_totp", "add_key")  # idp.web.flow.new_flow(why=...)


def _page(
    request,
    flow: Flow,
    db,
    services,
    account: Account,
    *,
    error: str | None = None,
    status: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    pg = pages(request)
    kinds = {f.kind for f in mfa.second_factors(db, account.id)}
    why = flow.state.why
    t = translator(flow.locale)
    return pg.render(
        request,
        "mfa.html",
        status=status,
        headers=headers,
        locale=flow.locale,
        error=error,
        interaction=flow.token,
        has_keys="webauthn" in kinds,
        has_app="totp" in kinds,
        # Sent here by an action on the account page: say which, and offer a way back.
        notice=t(f"why_{why}") if why in WHY else None,
        cancel_url=None if flow.state.for_app else "/account",
        app=asking_app(request, db, flow.state, flow.locale),
        form_target=flow.form_target,
    )


RESUME_AFTER_CODES_TTL = 3600


def complete_step_up(
    request,
    db,
    services,
    sso,
    account: Account,
    method: str,
    flow: Flow,
    *,
    answer_here: bool = True,
) -> Response:
    """Level 2 for the session, then on to the next step. ``answer_here=False`` sends
    the browser through ``/authorize/resume`` instead of answering the app in this
    response (a page shown first must not carry a code that expires while it is read)."""
    cookie = sign_in.step_up(
        db, services.settings, sso, account, method, client_ip(request), services.clock.now()
    )
    if (
        answer_here
        and method != "webauthn"
        and flow.state.for_app  # an app's sign-in, not an account action
        and passkey_offer.should_offer(request, db, services, account, stepped_up=True)
    ):
        response: Response = passkey_offer.offer_redirect(services, flow.state, fresh_login=False)
    else:
        response = continue_after(
            services,
            flow.state,
            here=(request, db, sso) if answer_here else None,
            # Continue on the recovery codes page: the person is signed in at level 2
            # and /authorize/resume needs that session too; an hour to write the codes
            # down (a 10-minute link sent slow readers to an error page).
            ttl=INTERACTION_TTL if answer_here else RESUME_AFTER_CODES_TTL,
        )
    pg = pages(request)
    pg.set_cookie(
        response, pg.session_cookie, cookie, max_age=services.settings.session_absolute_ttl
    )
    return response


@router.get("/mfa")
def mfa_form(request: Request, db: DbDep, services: ServicesDep, i: str = "") -> Response:
    flow, sso, account, early = load_flow(request, db, services, i)
    if early:
        return early
    return _page(request, flow, db, services, account)


@router.post("/mfa")
def mfa_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    code: Str = "",
) -> Response:
    flow, sso, account, early = load_flow(request, db, services, i, csrf=csrf_token)
    if early:
        return early
    try:
        method = sign_in.verify_second_factor(
            db,
            services.cipher,
            services.settings,
            services.throttle_store(db),
            account,
            code,
            client_ip(request),
            services.clock.now(),
        )
    except sign_in.Throttled as exc:
        wait = max(1, exc.retry_after)
        return _page(
            request,
            flow,
            db,
            services,
            account,
            status=429,
            headers={"Retry-After": str(wait)},
            error=translator(flow.locale)("mfa_throttled", wait=wait_text(wait, flow.locale)),
        )
    if method is None:
        return _page(
            request,
            flow,
            db,
            services,
            account,
            status=401,
            error=translator(flow.locale)("mfa_bad"),
        )
    return complete_step_up(request, db, services, sso, account, method, flow)


def _has_factor_already(db, services, sso, account: Account, flow: Flow) -> Response | None:
    """Enrolment during a sign-in is for an account without a second factor; one that
    has one proves it at /mfa instead (credentials.service.may_bind_factor)."""
    if creds.may_bind_factor(db, sso, account.id, services.settings, services.clock.now()):
        return None
    return RedirectResponse(f"/mfa?{urlencode({'i': flow.token})}", status_code=303)


@router.get("/mfa/enrol")
def enrol_form(
    request: Request, db: DbDep, services: ServicesDep, i: str = "", new: str = ""
) -> Response:
    flow, sso, account, early = load_flow(request, db, services, i)
    if early:
        return early
    if refused := _has_factor_already(db, services, sso, account, flow):
        return refused
    return render_enrol(
        request, db, services, account, flow, action="/mfa/enrol", renewed=new == "1"
    )


@router.post("/mfa/enrol/new")
def enrol_new(
    request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = "", i: Str = ""
) -> Response:
    """The person asked for a new QR code: the unconfirmed one is replaced."""
    flow, sso, account, early = load_flow(request, db, services, i, csrf=csrf_token)
    if early:
        return early
    if refused := _has_factor_already(db, services, sso, account, flow):
        return refused
    mfa.start_totp(db, services.cipher, account, issuer_name="GovID")
    return RedirectResponse(f"/mfa/enrol?{urlencode({'i': flow.token, 'new': '1'})}", 303)


def render_enrol(
    request,
    db,
    services,
    account: Account,
    flow: Flow,
    *,
    action: str,
    error: str | None = None,
    status: int = 200,
    renewed: bool = False,
) -> Response:
    """The QR code of the app being set up: the same one until it is confirmed or the
    person asks for a new one (a wrong code must not leave their app holding a secret
    GovID has dropped)."""
    cred = mfa.pending_totp(db, account.id)
    if cred is None:
        cred, _uri, _svg = mfa.start_totp(db, services.cipher, account, issuer_name="GovID")
    secret, uri, svg = mfa.totp_setup(services.cipher, account, cred, issuer_name="GovID")
    t = translator(flow.locale)
    # During a sign-in the step has a time limit, the longest here (time_limits); the
    # account page's own enrolment has none (it needs only the session).
    during_sign_in = action == "/mfa/enrol"
    token = time_limits.for_enrolment(services, flow.state, flow.token) if during_sign_in else None
    extra = {} if during_sign_in else {"time_limit": None}
    return pages(request).render(
        request,
        "enrol.html",
        status=status,
        locale=flow.locale,
        interaction=token or flow.token,
        **extra,
        qr_svg=svg,
        secret=secret,
        otpauth_uri=uri,
        credential=str(cred.id),
        action=action,
        error=error,
        notice=t("enrol_renewed") if renewed else None,
        skippable=flow.skippable,
        app=asking_app(request, db, flow.state, flow.locale),
        form_target=flow.form_target,
    )


def confirm_enrolment(
    request, db, services, account: Account, flow: Flow, credential: str, code: str, *, action: str
) -> Response | None:
    """Confirm a new authenticator app; on a wrong code, the enrolment page again."""
    try:
        cred_id = uuid.UUID(credential)
    except ValueError:
        cred_id = uuid.UUID(int=0)
    if mfa.confirm_totp(db, services.cipher, account, cred_id, code, services.clock.now()):
        return None
    return render_enrol(
        request,
        db,
        services,
        account,
        flow,
        action=action,
        error=translator(flow.locale)("enrol_bad"),
        status=400,
    )


@router.post("/mfa/enrol")
def enrol_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    credential: Str = "",
    code: Str = "",
) -> Response:
    flow, sso, account, early = load_flow(request, db, services, i, csrf=csrf_token)
    if early:
        return early
    if refused := _has_factor_already(db, services, sso, account, flow):
        return refused
    retry = confirm_enrolment(
        request, db, services, account, flow, credential, code, action="/mfa/enrol"
    )
    if retry:
        return retry
    codes = mfa.regenerate_recovery_codes(db, account)
    # The user has just proved the new factor: the session is level 2 now. The app's
    # answer (and its authorization code, 60 s) is made only when the person leaves the
    # recovery codes page: Continue goes through /authorize/resume.
    response = complete_step_up(
        request, db, services, sso, account, "totp", flow, answer_here=False
    )
    next_url = response.headers["location"]
    page = pages(request).render(
        request, "recovery_codes.html", locale=flow.locale, codes=codes, next_url=next_url
    )
    for name, value in response.headers.items():
        if name == "set-cookie":
            page.headers.append("set-cookie", value)
    return page


@router.post("/mfa/enrol/skip")
def enrol_skip(
    request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = "", i: Str = ""
) -> Response:
    flow, sso, account, early = load_flow(request, db, services, i, csrf=csrf_token)
    if early:
        return early
    if not flow.skippable:
        return login_redirect(flow)
    return continue_after(services, flow.state.but(enrol_skipped=True))
