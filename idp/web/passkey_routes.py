"""Passkeys: sign in in one step at level 2 with a discoverable WebAuthn
credential that verifies the person, and the "add a passkey" offer after a password
sign-in. JSON endpoints behind static/passkey.js (CSRF in the X-CSRF-Token header);
the offer is a page. Security keys stay second factors (idp/web/webauthn_routes.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.credentials import mfa, sign_in
from idp.credentials import webauthn_keys as wa
from idp.deps import DbDep, ServicesDep, client_ip, pages
from idp.sessions import service as sessions
from idp.web.flow import Flow, continue_after, load_flow, parse
from idp.web.key_json import (
    BodyDep,
    Challenges,
    add_key,
    csrf_ok,
    error,
    may_add_key,
    with_session,
)
from idp.web.passkey_offer import LATER_COOKIE, LATER_DAYS

router = APIRouter()
Str = Annotated[str, Form()]
# RFC 8176 §2: "hwk" proof of possession of a hardware-secured key, "user" a user
# presence test, "mfa" several factors (the key, and the PIN or biometric the
# authenticator verified: the UV flag, WebAuthn L2 §6.1).
PASSKEY_AMR = ["hwk", "user", "mfa"]


CHALLENGES = Challenges("passkey")


# ------------------------------------------------------------------ passkey sign-in


@router.post("/login/passkey/options")
def passkey_options(request: Request, services: ServicesDep, body: BodyDep) -> Response:
    i = body.get("i")
    if not csrf_ok(request):
        return error(request, 403, "csrf", i=i)
    if parse(request, services, i if isinstance(i, str) else None) is None:
        return error(request, 400, "expired", i=i)
    options, challenge = wa.passkey_authentication_options(services.settings.issuer)
    return JSONResponse(
        {"options": wa.dumps(options), "state": CHALLENGES.state(services, challenge, "sign_in")},
        headers={"Cache-Control": "no-store"},
    )


def _refused(request, db, account: Account | None, reason: str, flow: Flow) -> JSONResponse:
    audit.record(
        db,
        "oidc.login.failed",
        outcome="failure",
        subject=str(account.id) if account else None,
        agency_id=account.agency_id if account else None,
        client_id=flow.state.client_id,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        details={"reason": reason, "method": "passkey"},
    )
    return error(request, 401, "passkey_refused", i=flow.token)


@router.post("/login/passkey/verify")
def passkey_verify(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    i = body.get("i")
    if not csrf_ok(request):
        return error(request, 403, "csrf", i=i)
    flow = parse(request, services, i if isinstance(i, str) else None)
    challenge = CHALLENGES.challenge(services, body.get("state"), "sign_in")
    credential = body.get("credential")
    if flow is None or challenge is None or not isinstance(credential, dict):
        return error(request, 400, "expired", i=i)
    settings = services.settings
    account = wa.passkey_account(db, credential)
    if account is None:
        return _refused(request, db, None, "unknown_passkey", flow)
    try:
        wa.authenticate_passkey(db, account, settings.issuer, credential, challenge)
    except wa.WebAuthnError:
        return _refused(request, db, account, "passkey_not_verified", flow)
    if account.status != "active":
        # The key is real but the account may not sign in (suspended or deleted).
        return _refused(request, db, account, account.status, flow)
    pg = pages(request)
    now = services.clock.now()
    new = sign_in.with_passkey_account(
        db,
        services.keys,
        settings,
        account,
        PASSKEY_AMR,
        where=sign_in.Where(
            client_ip(request), request.headers.get("user-agent"), flow.state.client_id
        ),
        old=sessions.find(db, settings, request.cookies.get(pg.session_cookie), now),
        now=now,
    )
    redirect = continue_after(services, flow.state.but(fresh_login=True))
    response = JSONResponse({"redirect": redirect.headers["location"]})
    pg.set_cookie(
        response, pg.session_cookie, new.cookie_value, max_age=settings.session_absolute_ttl
    )
    return response


# --------------------------------------------------------- the offer after sign-in
# When to offer: idp/web/passkey_offer.py.


@router.get("/passkey/offer")
def offer_page(request: Request, db: DbDep, services: ServicesDep, i: str = "") -> Response:
    flow, sso, account, early = load_flow(request, db, services, i)
    if early:
        return early
    if wa.keys_of(db, account.id):
        return continue_after(services, flow.state, here=(request, db, sso))
    return pages(request).render(
        request,
        "passkey_offer.html",
        locale=flow.locale,
        interaction=flow.token,
        form_target=flow.form_target,  # "Not now" answers the app (CSP form-action)
    )


@router.post("/passkey/offer/skip")
def offer_skip(
    request: Request, db: DbDep, services: ServicesDep, csrf_token: Str = "", i: Str = ""
) -> Response:
    flow, sso, account, early = load_flow(request, db, services, i, csrf=csrf_token)
    if early:
        return early
    response = continue_after(services, flow.state, here=(request, db, sso))
    pages(request).set_cookie(response, LATER_COOKIE, "1", max_age=LATER_DAYS * 86400)
    return response


# ------------------------------------------------------------- adding a passkey


@router.post("/passkey/register/options")
def register_options(request: Request, db: DbDep, services: ServicesDep) -> Response:
    allowed = may_add_key(request, db, services)
    if isinstance(allowed, JSONResponse):
        return allowed
    _sso, account = allowed
    options, challenge = wa.passkey_registration_options(db, account, services.settings.issuer)
    return JSONResponse(
        {
            "options": wa.dumps(options),
            "state": CHALLENGES.state(services, challenge, "register", account),
        }
    )


@router.post("/passkey/register")
def register(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    allowed = may_add_key(request, db, services)
    if isinstance(allowed, JSONResponse):
        return allowed
    sso, account = allowed
    challenge = CHALLENGES.challenge(services, body.get("state"), "register", account)
    cookie = add_key(
        request,
        db,
        services,
        sso,
        account,
        challenge,
        body.get("credential"),
        str(body.get("label") or "Passkey")[:128],
        require_user_verification=True,
        passkey=True,
    )
    if isinstance(cookie, JSONResponse):
        return cookie
    # Proved just now with the passkey: level 2 for this session.
    flow = parse(request, services, body.get("i")) if isinstance(body.get("i"), str) else None
    target = continue_after(services, flow.state).headers["location"] if flow else "/account"
    # From the account page, a first factor brings its recovery codes (shown once, as
    # after a first key); during an app's sign-in the person goes on to the app.
    codes = flow is None and not mfa.recovery_codes_left(db, account.id)
    response = JSONResponse({"redirect": target, "recovery_codes": codes})
    return with_session(request, services, response, cookie)
