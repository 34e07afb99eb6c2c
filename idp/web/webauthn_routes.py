"""JSON endpoints behind the security-key buttons (static/webauthn.js): options and
verification for step-up (/mfa/webauthn/*) and for registration (/account/webauthn/*).
CSRF: the page's token comes back in the X-CSRF-Token header."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, Response

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.credentials import mfa
from idp.credentials import service as creds
from idp.credentials import webauthn_keys as wa
from idp.deps import DbDep, ServicesDep, client_ip, pages
from idp.sessions import service as sessions
from idp.signing import BadSignature, Signer
from idp.web.flow import load_flow, new_flow, parse
from idp.web.i18n import translator
from idp.web.mfa_pages import complete_step_up

router = APIRouter()


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


BodyDep = Annotated[dict[str, Any], Depends(json_body)]


def _signer(services) -> Signer:
    return Signer(services.settings.secret_keys, "webauthn", services.clock)


# Refusals as codes, each with its message in the page's language (shown next to the
# button by static/webauthn.js, announced by its role=alert).
ERROR_TEXTS = {
    "csrf": "csrf",
    "signed_out": "key_signed_out",
    "expired": "key_expired",
    "not_verified": "key_not_verified",
    "already_registered": "key_exists",
    "not_registered": "key_register_failed",
    "passkey_refused": "passkey_refused",
}


def _error(
    request: Request, status: int, code: str, *, i: str | None = None, **extra: str
) -> JSONResponse:
    # The language of the page that asked: a sign-in's (``i``) carries the app's ui_locales.
    flow = parse(request, request.app.state.services, i) if isinstance(i, str) and i else None
    t = translator(flow.locale if flow else pages(request).locale(request))
    return JSONResponse(
        {"error": code, "message": t(ERROR_TEXTS.get(code, "key_generic")), **extra},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


def _step_up_first(request: Request, services) -> JSONResponse:
    """Adding a key when the account has a factor needs it proved first: the script
    goes to the second step, which says why and comes back to the key button."""
    flow = new_flow(services, "/account?ready=key#security-key", why="add_key")
    return _error(request, 403, "step_up", step_up=f"/mfa?{urlencode({'i': flow})}")


def _state(services, account: Account, challenge: bytes, purpose: str) -> str:
    return _signer(services).dumps(
        {"a": str(account.id), "c": base64.urlsafe_b64encode(challenge).decode(), "p": purpose}, 300
    )


def _challenge(services, state: str | None, account: Account, purpose: str) -> bytes | None:
    try:
        data = _signer(services).loads(state)
    except BadSignature:
        return None
    if data.get("a") != str(account.id) or data.get("p") != purpose:
        return None
    return base64.urlsafe_b64decode(data["c"])


def _csrf_ok(request: Request) -> bool:
    return pages(request).csrf_ok(request, request.headers.get("x-csrf-token"))


@router.post("/mfa/webauthn/options")
def mfa_options(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    if not _csrf_ok(request):
        return _error(request, 403, "csrf", i=body.get("i"))
    flow, sso, account, early = load_flow(request, db, services, body.get("i"))
    if early:
        return _error(request, 401, "signed_out", i=body.get("i"))
    options, challenge = wa.authentication_options(db, account, services.settings.issuer)
    return JSONResponse(
        {
            "options": wa.dumps(options),
            "state": _state(services, account, challenge, "authenticate"),
        }
    )


@router.post("/mfa/webauthn/verify")
def mfa_verify(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    if not _csrf_ok(request):
        return _error(request, 403, "csrf", i=body.get("i"))
    flow, sso, account, early = load_flow(request, db, services, body.get("i"))
    if early:
        return _error(request, 401, "signed_out", i=body.get("i"))
    challenge = _challenge(services, body.get("state"), account, "authenticate")
    credential = body.get("credential")
    if challenge is None or not isinstance(credential, dict):
        return _error(request, 400, "expired", i=body.get("i"))
    try:
        wa.authenticate(db, account, services.settings.issuer, credential, challenge)
    except wa.WebAuthnError:
        audit.record(
            db,
            "oidc.mfa.failed",
            outcome="failure",
            subject=str(account.id),
            agency_id=account.agency_id,
            ip=client_ip(request),
            details={"method": "webauthn", "reason": "verification_failed"},
        )
        return _error(request, 401, "not_verified", i=body.get("i"))
    redirect = complete_step_up(request, db, services, sso, account, "webauthn", flow)
    response = JSONResponse({"redirect": redirect.headers["location"]})
    for value in redirect.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


def _account(request: Request, db, services):
    pg = pages(request)
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    if sso is None:
        return None, None
    return sso, db.get(Account, sso.account_id)


@router.post("/account/webauthn/options")
def register_options(request: Request, db: DbDep, services: ServicesDep) -> Response:
    if not _csrf_ok(request):
        return _error(request, 403, "csrf")
    sso, account = _account(request, db, services)
    if account is None:
        return _error(request, 401, "signed_out")
    if not creds.may_bind_factor(db, sso, account.id, services.settings):
        return _step_up_first(request, services)
    options, challenge = wa.registration_options(db, account, services.settings.issuer)
    return JSONResponse(
        {"options": wa.dumps(options), "state": _state(services, account, challenge, "register")}
    )


@router.post("/account/webauthn/register")
def register(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    if not _csrf_ok(request):
        return _error(request, 403, "csrf")
    sso, account = _account(request, db, services)
    if account is None:
        return _error(request, 401, "signed_out")
    if not creds.may_bind_factor(db, sso, account.id, services.settings):
        return _step_up_first(request, services)
    challenge = _challenge(services, body.get("state"), account, "register")
    credential = body.get("credential")
    if challenge is None or not isinstance(credential, dict):
        return _error(request, 400, "expired")
    try:
        wa.register(
            db,
            account,
            services.settings.issuer,
            credential,
            challenge,
            str(body.get("label") or ""),
        )
    except wa.WebAuthnError as exc:
        code = "already_registered" if "already registered" in str(exc) else "not_registered"
        return _error(request, 400, code)
    cookie = sessions.step_up(sso, services.settings, "webauthn", services.clock.now())
    # A first key without recovery codes (a key-only account): the script asks for
    # them at once (POST /account/recovery, shown once), as after a first app.
    first_codes = not mfa.recovery_codes_left(db, account.id)
    response = JSONResponse({"redirect": "/account", "recovery_codes": first_codes})
    pg = pages(request)
    pg.set_cookie(
        response, pg.session_cookie, cookie, max_age=services.settings.session_absolute_ttl
    )
    return response
