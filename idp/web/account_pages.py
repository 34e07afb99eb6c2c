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
from idp.deps import DbDep, ServicesDep
from idp.oidc.routes import client_ip, pages
from idp.sessions import service as sessions
from idp.sessions.logout import end_session
from idp.sessions.models import SsoSession
from idp.web.flow import Flow, new_flow
from idp.web.i18n import translator
from idp.web.mfa_pages import confirm_enrolment, render_enrol

router = APIRouter()
Str = Annotated[str, Form()]


def _current(request: Request, db, services):
    pg = pages(request)
    sso = sessions.find(db, services.settings, request.cookies.get(pg.session_cookie))
    if sso is None:
        return (
            None,
            None,
            RedirectResponse(f"/login?i={new_flow(services, request.url.path)}", status_code=303),
        )
    sessions.touch(sso)
    return sso, sso.account, None


def _overview(
    request: Request, db, services, sso, account: Account, *, notice=None, error=None, status=200
) -> Response:
    pg = pages(request)
    rows = db.scalars(
        select(SsoSession)
        .where(SsoSession.account_id == account.id, SsoSession.ended_at.is_(None))
        .order_by(SsoSession.created_at.desc())
    ).all()
    live = [r for r in rows if sessions.find_by_row(db, services.settings, r)]
    return pg.render(
        request,
        "account.html",
        status=status,
        email=account.email,
        notice=notice,
        error=error,
        level="2" if sso.acr == services.settings.acr_level2 else "1",
        factors=[
            {"id": f.id, "kind": f.kind, "label": f.label}
            for f in mfa.second_factors(db, account.id)
        ],
        codes_left=mfa.recovery_codes_left(db, account.id),
        sessions=[
            {
                "sid": r.sid,
                "created": r.created_at.strftime("%Y-%m-%d %H:%M UTC"),
                "ip": r.ip,
                "agent": (r.user_agent or "")[:60],
                "current": r.id == sso.id,
            }
            for r in live
        ],
    )


@router.get("/account")
def account_home(request: Request, db: DbDep, services: ServicesDep) -> Response:
    sso, account, early = _current(request, db, services)
    return early or _overview(request, db, services, sso, account)


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
        )
    except WeakPassword as exc:
        return _overview(
            request, db, services, sso, account, error=exc.localized(locale), status=400
        )
    except creds.WrongPassword:
        return _overview(
            request, db, services, sso, account, error=t("bad_credentials"), status=400
        )
    return RedirectResponse("/account?done=password", status_code=303)


def _may_bind(db, services, sso, account: Account) -> Response | None:
    """A new or replacement factor needs the existing one proved recently (NIST SP
    800-63B §6.1.2.1; credentials.service.may_bind_factor): else to /mfa first."""
    if creds.may_bind_factor(db, sso, account.id, services.settings):
        return None
    return RedirectResponse(f"/mfa?i={new_flow(services, '/account/totp')}", status_code=303)


@router.get("/account/totp")
def totp_form(request: Request, db: DbDep, services: ServicesDep) -> Response:
    sso, account, early = _current(request, db, services)
    if early:
        return early
    if refused := _may_bind(db, services, sso, account):
        return refused
    flow = Flow({"n": "/account"}, new_flow(services, "/account"), pages(request).locale(request))
    return render_enrol(request, db, services, account, flow, action="/account/totp")


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
    flow = Flow({"n": "/account"}, i, pages(request).locale(request))
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
    cookie = sessions.step_up(sso, services.settings, "totp")
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


def _require_fresh_mfa(request, services, sso) -> Response | None:
    if creds.fresh_level2(sso, services.settings):
        return None
    return RedirectResponse(f"/mfa?i={new_flow(services, '/account')}", status_code=303)


@router.post("/account/recovery")
def regenerate(
    request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = ""
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    if not mfa.has_second_factor(db, account.id):
        return RedirectResponse("/account", status_code=303)
    need = _require_fresh_mfa(request, services, sso)
    if need:
        return need
    codes = mfa.regenerate_recovery_codes(db, account)
    return pages(request).render(request, "recovery_codes.html", codes=codes, next_url="/account")


@router.post("/account/factors/{cred_id}/remove")
def remove_factor(
    request: Request, cred_id: uuid.UUID, db: DbDep, services: ServicesDep, csrf_token: Str = ""
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    # Removing the last factor needs a fresh level-2 sign-in (issue 6); whether it is
    # the last is decided under the account's lock (two removals at once).
    need = _require_fresh_mfa(request, services, sso)
    if mfa.remove_factor(db, account, cred_id, last_allowed=need is None) == "last_factor":
        return need
    return RedirectResponse("/account", status_code=303)


@router.post("/account/sessions/{sid}/end")
def end_other_session(
    request: Request, sid: str, db: DbDep, services: ServicesDep, csrf_token: Str = ""
) -> Response:
    sso, account, early = _checked(request, db, services, csrf_token)
    if early:
        return early
    row = sessions.by_sid(db, sid)
    if row is not None and row.account_id == account.id and row.id != sso.id:
        end_session(
            db,
            services.keys,
            issuer=services.settings.issuer,
            row=row,
            reason="ended_by_user",
            ip=client_ip(request),
        )
        worker = getattr(request.app.state, "logout_worker", None)
        if worker is not None:
            worker.wake()
    return RedirectResponse("/account", status_code=303)
