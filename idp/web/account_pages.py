"""Account self-service (Thai/English): password, second factors, recovery codes and
sessions. Every form has a CSRF token; every POST answers 303 or a page."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import RedirectResponse, Response
from sqlalchemy import select

from idp.accounts.models import Account
from idp.credentials import mfa
from idp.credentials import service as creds
from idp.credentials.policy import WeakPassword
from idp.deps import DbDep, ServicesDep, end_browser_session, pages
from idp.oidc import Interaction
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession
from idp.web import help_pages, time_limits
from idp.web.flow import Flow, new_flow
from idp.web.humane import device_name, factor_label, local_time
from idp.web.i18n import translator
from idp.web.mfa_pages import confirm_enrolment, render_enrol

router = APIRouter()
router.include_router(help_pages.router)
router.include_router(time_limits.router)  # POST /interaction/extend
Str = Annotated[str, Form()]

# /account?ready=<action>: back from the second step an action needed, the action is
# ready on the page (never performed by itself); the notice says so.
READY = {"recovery": "ready_recovery", "key": "ready_key"}


def _current(request: Request, db, services):
    pg = pages(request)
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    if sso is None:
        return (
            None,
            None,
            RedirectResponse(f"/login?i={new_flow(services, request.url.path)}", status_code=303),
        )
    sessions.touch(sso, services.clock.now())
    return sso, sso.account, None


def _overview(
    request: Request,
    db,
    services,
    sso,
    account: Account,
    *,
    notice=None,
    error=None,
    pw_error=None,
    status=200,
) -> Response:
    pg = pages(request)
    factors = mfa.second_factors(db, account.id)
    settings = services.settings
    minimum = (
        settings.password_min_length_with_mfa
        if factors
        else settings.password_min_length_without_mfa
    )
    rows = db.scalars(
        select(SsoSession)
        .where(SsoSession.account_id == account.id, SsoSession.ended_at.is_(None))
        .order_by(SsoSession.created_at.desc())
    ).all()
    now = services.clock.now()
    live = [r for r in rows if sessions.find_by_row(db, services.settings, r, now)]
    locale = pg.locale(request)
    return pg.render(
        request,
        "account.html",
        status=status,
        email=account.email,
        notice=notice,
        error=error,
        pw_error=pw_error,
        pw_min=str(minimum),
        level2=sso.acr == services.settings.acr_level2,
        factors=[{"id": f.id, "kind": f.kind, "name": factor_label(f, locale)} for f in factors],
        codes_left=mfa.recovery_codes_left(db, account.id),
        sessions=[
            {
                "sid": r.sid,
                "created": local_time(r.created_at, locale),
                "ip": r.ip,
                "device": device_name(r.user_agent, locale),
                "current": r.id == sso.id,
            }
            for r in live
        ],
    )


@router.get("/account")
def account_home(
    request: Request, db: DbDep, services: ServicesDep, done: str = "", ready: str = ""
) -> Response:
    sso, account, early = _current(request, db, services)
    if early:
        return early
    t = translator(pages(request).locale(request))
    notice = None
    if done == "password":
        notice = t("password_changed")
    elif done == "removed":
        notice = t("factor_removed")
    elif ready in READY:
        notice = t(READY[ready])
    return _overview(request, db, services, sso, account, notice=notice)


def _checked(request: Request, db, services, csrf_token: str):
    sso, account, early = _current(request, db, services)
    if early:
        return None, None, early
    if not pages(request).csrf_ok(request, csrf_token):
        t = translator(pages(request).locale(request))
        return (
            None,
            None,
            _overview(request, db, services, sso, account, error=t("csrf"), status=400),
        )
    return sso, account, None


@router.post("/account/password")
def change_password(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    current_password: Str = "",
    new_password: Str = "",
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    locale = pages(request).locale(request)
    t = translator(locale)
    try:
        creds.change_password(
            db,
            services.hasher,
            services.keys,
            services.settings,
            account,
            current_password,
            new_password,
            keep=sso,
            now=services.clock.now(),
        )
    except WeakPassword as exc:
        return _overview(
            request, db, services, sso, account, pw_error=exc.localized(locale), status=400
        )
    except creds.WrongPassword:
        return _overview(
            request, db, services, sso, account, pw_error=t("current_password_wrong"), status=400
        )
    return RedirectResponse("/account?done=password", status_code=303)


def _may_bind(db, services, sso, account: Account) -> Response | None:
    """A new or replacement factor needs the existing one proved recently (NIST SP
    800-63B §6.1.2.1; credentials.service.may_bind_factor): else to /mfa first."""
    if creds.may_bind_factor(db, sso, account.id, services.settings, services.clock.now()):
        return None
    flow = new_flow(services, "/account/totp", why="add_totp")
    return RedirectResponse(f"/mfa?i={flow}", status_code=303)


@router.get("/account/totp")
def totp_form(request: Request, db: DbDep, services: ServicesDep, new: str = "") -> Response:
    sso, account, early = _current(request, db, services)
    if early:
        return early
    if refused := _may_bind(db, services, sso, account):
        return refused
    flow = Flow(
        Interaction(next_path="/account"),
        new_flow(services, "/account"),
        pages(request).locale(request),
    )
    return render_enrol(
        request, db, services, account, flow, action="/account/totp", renewed=new == "1"
    )


@router.post("/account/totp/new")
def totp_new(request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = "") -> Response:
    """The person asked for a new QR code: the unconfirmed one is replaced."""
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    if refused := _may_bind(db, services, sso, account):
        return refused
    mfa.start_totp(db, services.cipher, account, issuer_name="GovID")
    return RedirectResponse("/account/totp?new=1", status_code=303)


@router.post("/account/totp")
def totp_confirm(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    credential: Str = "",
    code: Str = "",
    i: Str = "",
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    if refused := _may_bind(db, services, sso, account):
        return refused
    flow = Flow(Interaction(next_path="/account"), i, pages(request).locale(request))
    retry = confirm_enrolment(
        request, db, services, account, flow, credential, code, action="/account/totp"
    )
    if retry:
        return retry
    codes = (
        mfa.regenerate_recovery_codes(db, account)
        if not mfa.recovery_codes_left(db, account.id)
        else None
    )
    # The new factor was just proved: this session is at level 2 now.
    cookie = sessions.step_up(sso, services.settings, "totp", services.clock.now())
    response: Response = (
        pages(request).render(request, "recovery_codes.html", codes=codes, next_url="/account")
        if codes
        else RedirectResponse("/account", status_code=303)
    )
    pg = pages(request)
    pg.set_cookie(
        response, pg.session_cookie, cookie, max_age=services.settings.session_absolute_ttl
    )
    return response


def _require_fresh_mfa(services, sso, back: str, why: str) -> Response | None:
    """None when a second factor was proved just now; else the second step, which says
    why (``why_<why>``) and returns to ``back``, where the action waits to be done."""
    if creds.fresh_level2(sso, services.settings, services.clock.now()):
        return None
    return RedirectResponse(f"/mfa?i={new_flow(services, back, why=why)}", status_code=303)


@router.post("/account/recovery")
def regenerate(
    request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = ""
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    if not mfa.has_second_factor(db, account.id):
        return RedirectResponse("/account", status_code=303)
    need = _require_fresh_mfa(services, sso, "/account?ready=recovery", "recovery")
    if need:
        return need
    codes = mfa.regenerate_recovery_codes(db, account)
    return pages(request).render(request, "recovery_codes.html", codes=codes, next_url="/account")


def _own_factor(db, account: Account, cred_id: uuid.UUID):
    return next((f for f in mfa.second_factors(db, account.id) if f.id == cred_id), None)


@router.get("/account/factors/{cred_id}/remove")
def remove_factor_confirm(
    request: Request, cred_id: uuid.UUID, db: DbDep, services: ServicesDep
) -> Response:
    """Removing a factor is asked once more, saying what it means."""
    sso, account, early = _current(request, db, services)
    if early:
        return early
    factor = _own_factor(db, account, cred_id)
    if factor is None:
        return RedirectResponse("/account", status_code=303)
    last = len(mfa.second_factors(db, account.id)) == 1
    return pages(request).render(
        request,
        "factor_remove.html",
        factor={
            "id": factor.id,
            "kind": factor.kind,
            "name": factor_label(factor, pages(request).locale(request)),
        },
        last=last,
    )


@router.post("/account/factors/{cred_id}/remove")
def remove_factor(
    request: Request, cred_id: uuid.UUID, db: DbDep, services: ServicesDep, csrf_token: Str = ""
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    # Removing any factor needs a fresh second step: with two factors, a password alone
    # (perhaps a stolen one) could otherwise remove one of them. After the second step
    # the person comes back to the confirmation, not to a done removal.
    need = _require_fresh_mfa(services, sso, f"/account/factors/{cred_id}/remove", "remove")
    if need:
        return need
    result = mfa.remove_factor(db, account, cred_id)
    if result == "removed":
        return RedirectResponse("/account?done=removed", status_code=303)
    return RedirectResponse("/account", status_code=303)


@router.post("/account/signout")
def sign_out(request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = "") -> Response:
    """Sign this browser out: the session ends and the apps it signed in to are told
    (back-channel logout), as at /end_session."""
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    end_browser_session(request, db, services, sso, "user_logout")
    pg = pages(request)
    response = RedirectResponse("/signed-out", status_code=303)
    pg.clear_cookie(response, pg.session_cookie)
    return response


@router.get("/signed-out")
def signed_out(request: Request) -> Response:
    return pages(request).render(request, "logged_out.html")


@router.post("/account/sessions/{sid}/end")
def end_other_session(
    request: Request, sid: str, db: DbDep, services: ServicesDep, csrf_token: Str = ""
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    row = sessions.by_sid(db, sid)
    if row is not None and row.account_id == account.id and row.id != sso.id:
        end_browser_session(request, db, services, row, "ended_by_user")
    return RedirectResponse("/account", status_code=303)
