"""JSON endpoints behind the security-key buttons (static/webauthn.js): options and
verification for step-up (/mfa/webauthn/*) and for registration (/account/webauthn/*).
What they share with the passkey endpoints: idp/web/key_json.py."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from idp.audit import service as audit
from idp.credentials import mfa
from idp.credentials import webauthn_keys as wa
from idp.deps import DbDep, ServicesDep, client_ip
from idp.web.flow import load_flow
from idp.web.key_json import (
    BodyDep,
    Challenges,
    add_key,
    csrf_ok,
    error,
    may_add_key,
    with_session,
)
from idp.web.mfa_pages import complete_step_up

router = APIRouter()
CHALLENGES = Challenges("webauthn")


@router.post("/mfa/webauthn/options")
def mfa_options(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    if not csrf_ok(request):
        return error(request, 403, "csrf", i=body.get("i"))
    flow, sso, account, early = load_flow(request, db, services, body.get("i"))
    if early:
        return error(request, 401, "signed_out", i=body.get("i"))
    options, challenge = wa.authentication_options(db, account, services.settings.issuer)
    return JSONResponse(
        {
            "options": wa.dumps(options),
            "state": CHALLENGES.state(services, challenge, "authenticate", account),
        }
    )


@router.post("/mfa/webauthn/verify")
def mfa_verify(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    if not csrf_ok(request):
        return error(request, 403, "csrf", i=body.get("i"))
    flow, sso, account, early = load_flow(request, db, services, body.get("i"))
    if early:
        return error(request, 401, "signed_out", i=body.get("i"))
    challenge = CHALLENGES.challenge(services, body.get("state"), "authenticate", account)
    credential = body.get("credential")
    if challenge is None or not isinstance(credential, dict):
        return error(request, 400, "expired", i=body.get("i"))
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
        return error(request, 401, "not_verified", i=body.get("i"))
    redirect = complete_step_up(request, db, services, sso, account, "webauthn", flow)
    response = JSONResponse({"redirect": redirect.headers["location"]})
    for value in redirect.headers.getlist("set-cookie"):
        response.headers.append("set-cookie", value)
    return response


@router.post("/account/webauthn/options")
def register_options(request: Request, db: DbDep, services: ServicesDep) -> Response:
    allowed = may_add_key(request, db, services)
    if isinstance(allowed, JSONResponse):
        return allowed
    _sso, account = allowed
    options, challenge = wa.registration_options(db, account, services.settings.issuer)
    return JSONResponse(
        {
            "options": wa.dumps(options),
            "state": CHALLENGES.state(services, challenge, "register", account),
        }
    )


@router.post("/account/webauthn/register")
def register(request: Request, db: DbDep, services: ServicesDep, body: BodyDep) -> Response:
    allowed = may_add_key(request, db, services)
    if isinstance(allowed, JSONResponse):
        return allowed
    sso, account = allowed
    challenge = CHALLENGES.challenge(services, body.get("state"), "register", account)
    label = str(body.get("label") or "")
    cookie = add_key(request, db, services, sso, account, challenge, body.get("credential"), label)
    if isinstance(cookie, JSONResponse):
        return cookie
    # A first key without recovery codes (a key-only account): the script asks for
    # them at once (POST /account/recovery, shown once), as after a first app.
    first_codes = not mfa.recovery_codes_left(db, account.id)
    response = JSONResponse({"redirect": "/account", "recovery_codes": first_codes})
    return with_session(request, services, response, cookie)
