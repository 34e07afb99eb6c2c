"""``/recover``: "Forgot password" (NIST SP 800-63B-4 §4.2 account recovery).

1. ``GET/POST /recover``: the person types their address. Nothing is looked up: every
   address, known or not, gets the same next page, which asks for a second factor or a
   recovery code and names whom to contact otherwise (the helpdesk of the agency that
   owns the address's mail domain, or the central one).
2. ``POST /recover/code`` (app code or recovery code) or ``/recover/key/*`` (security key
   or passkey, JSON for static/webauthn.js): a proof, throttled like a sign-in.
3. ``POST /recover/password``: a new password under the password policy, through the
   same use case as a password change (``replace_password``: other sessions end, grants
   and refresh tokens are revoked, audited), then back to the sign-in.

Steps travel in signed, expiring hidden fields (never in the URL)."""

from __future__ import annotations

import base64
import json
import time
import uuid
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse, Response

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.credentials import mfa, recovery, sign_in
from idp.credentials import service as creds
from idp.credentials.login import unlock_account
from idp.credentials.policy import WeakPassword
from idp.deps import DbDep, ServicesDep, client_ip, pages
from idp.oidc import INTERACTION_TTL, Interaction
from idp.signing import BadSignature, Signer
from idp.web.flow import load
from idp.web.i18n import translator, wait_text
from idp.web.key_json import BodyDep

router = APIRouter()
Str = Annotated[str, Form()]
PROOF_TTL = 600


def _signer(services, purpose: str) -> Signer:
    return Signer(services.settings.secret_keys, f"recovery/{purpose}", services.clock)


def _interaction(services, i: str) -> Interaction | None:
    """The sign-in this page was opened from, if any (its language, the way back)."""
    return load(services, i) if i else None


def _locale(request: Request, services, i: str) -> str:
    state = _interaction(services, i)
    return pages(request).locale(request, state.ui_locales if state else None)


def _sign_in_url(services, i: str) -> str:
    return f"/login?{urlencode({'i': i})}" if _interaction(services, i) else "/account"


def helpdesk(db, settings, email: str) -> agencies.Helpdesk:
    central = agencies.Helpdesk(
        settings.helpdesk_email or None,
        settings.helpdesk_phone or None,
        settings.helpdesk_url or None,
        None,
        None,
    )
    return agencies.helpdesk_for(db, agencies.by_mail_domain(db, email), central)


def _start(request, services, i: str, *, email: str = "", error=None, status=200, headers=None):
    locale = _locale(request, services, i)
    return pages(request).render(
        request,
        "recover_start.html",
        status=status,
        headers=headers,
        locale=locale,
        interaction=i,
        email=email,
        error=error,
        back=_sign_in_url(services, i),
    )


def _prove_page(request, db, services, r: str, data: dict, *, error=None, status=200, headers=None):
    i = data.get("i") or ""
    desk = helpdesk(db, services.settings, data["e"])
    locale = _locale(request, services, i)
    return pages(request).render(
        request,
        "recover_prove.html",
        status=status,
        headers=headers,
        locale=locale,
        r=r,
        email=data["e"],
        error=error,
        helpdesk=desk,
        helpdesk_agency=(
            (desk.agency.name_th if locale == "th" else desk.agency.name_en)
            if desk.agency
            else None
        ),
        back=_sign_in_url(services, i),
    )


@router.get("/recover")
def recover_form(request: Request, services: ServicesDep, i: str = "") -> Response:
    return _start(request, services, i[:4096])


@router.post("/recover")
def recover_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    i: Str = "",
    email: Str = "",
) -> Response:
    pg = pages(request)
    i = i[:4096]
    t = translator(_locale(request, services, i))
    if not pg.csrf_ok(request, csrf_token):
        return _start(request, services, i, email=email[:320], error=t("csrf"), status=400)
    typed = recovery.normalise_email(email)
    if "@" not in typed or len(email) > recovery.MAX_EMAIL:
        return _start(
            request, services, i, email=email[:320], error=t("recover_email_missing"), status=400
        )
    wait = recovery.gate(
        services.settings,
        services.throttle_store(db),
        typed,
        client_ip(request),
        services.clock.now(),
    )
    if wait:
        return _start(
            request,
            services,
            i,
            email=typed,
            status=429,
            headers={"Retry-After": str(wait)},
            error=t("throttled", wait=wait_text(wait, _locale(request, services, i))),
        )
    data = {"e": typed, "i": i}
    r = _signer(services, "step").dumps(data, INTERACTION_TTL)
    return _prove_page(request, db, services, r, data)


def _step(services, r: str) -> dict | None:
    try:
        data = _signer(services, "step").loads(r)
    except BadSignature:
        return None
    return data if isinstance(data.get("e"), str) else None


def _expired(request: Request, services) -> Response:
    return pages(request).error(request, "recovery_expired", "recover_expired", restart="/recover")


def _proof_token(services, account: Account, method: str, i: str) -> str:
    # Bound to the password it replaces: once used (or after any other change) it is dead.
    changed = account.password_changed_at.isoformat() if account.password_changed_at else ""
    return _signer(services, "proof").dumps(
        {"a": str(account.id), "m": method, "pc": changed, "i": i}, PROOF_TTL
    )


def _password_page(request, db, services, proof: str, account: Account, i: str, **extra):
    # Everyone here holds a second factor or a recovery code: the shorter minimum
    # applies only with a factor (credentials.service.set_password decides).
    settings = services.settings
    minimum = (
        settings.password_min_length_with_mfa
        if mfa.has_second_factor(db, account.id)
        else settings.password_min_length_without_mfa
    )
    return pages(request).render(
        request,
        "recover_password.html",
        locale=_locale(request, services, i),
        proof=proof,
        email=account.email,
        minimum=minimum,
        **extra,
    )


def _floor(services, started: float) -> None:
    # Every failed proof takes as long as a failed sign-in (no timing oracle).
    sign_in.failure_floor(services.settings, started)


@router.post("/recover/code")
def recover_code(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    r: Str = "",
    code: Str = "",
) -> Response:
    pg = pages(request)
    data = _step(services, r)
    if data is None:
        return _expired(request, services)
    locale = _locale(request, services, data.get("i") or "")
    t = translator(locale)
    if not pg.csrf_ok(request, csrf_token):
        return _prove_page(request, db, services, r, data, error=t("csrf"), status=400)
    started = time.monotonic()
    proof = recovery.prove_code(
        db,
        services.settings,
        services.cipher,
        services.throttle_store(db),
        data["e"],
        code[:128],
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=services.clock.now(),
    )
    if proof.retry_after:
        _floor(services, started)
        return _prove_page(
            request,
            db,
            services,
            r,
            data,
            status=429,
            headers={"Retry-After": str(proof.retry_after)},
            error=t("throttled", wait=wait_text(proof.retry_after, locale)),
        )
    if proof.account is None:
        _floor(services, started)
        return _prove_page(
            request, db, services, r, data, error=t("recover_code_wrong"), status=401
        )
    i = data.get("i") or ""
    token = _proof_token(services, proof.account, proof.method or "recovery_code", i)
    return _password_page(request, db, services, token, proof.account, i)


# ------------------------------------------------------------------ security key / passkey


def _json_error(request: Request, services, status: int, code: str, i: str = "") -> JSONResponse:
    t = translator(_locale(request, services, i))
    message = {
        "csrf": "csrf",
        "expired": "recover_expired",
        "not_verified": "recover_key_wrong",
        "throttled": "recover_key_throttled",
    }.get(code, "key_generic")
    return JSONResponse(
        {"error": code, "message": t(message)},
        status_code=status,
        headers={"Cache-Control": "no-store"},
    )


@router.post("/recover/key/options")
def recover_key_options(
    request: Request, db: DbDep, services: ServicesDep, body: BodyDep
) -> Response:
    if not pages(request).csrf_ok(request, request.headers.get("x-csrf-token")):
        return _json_error(request, services, 403, "csrf")
    data = _step(services, str(body.get("r") or ""))
    if data is None:
        return _json_error(request, services, 400, "expired")
    options, challenge = recovery.key_options(db, services.settings, data["e"])
    state = _signer(services, "key").dumps(
        {"e": data["e"], "c": base64.urlsafe_b64encode(challenge).decode()}, 300
    )
    return JSONResponse({"options": json.loads(options), "state": state})


@router.post("/recover/key/verify")
def recover_key_verify(
    request: Request, db: DbDep, services: ServicesDep, body: BodyDep
) -> Response:
    if not pages(request).csrf_ok(request, request.headers.get("x-csrf-token")):
        return _json_error(request, services, 403, "csrf")
    data = _step(services, str(body.get("r") or ""))
    i = (data or {}).get("i") or ""
    try:
        state = _signer(services, "key").loads(str(body.get("state") or ""))
    except BadSignature:
        state = None
    credential = body.get("credential")
    if (
        data is None
        or state is None
        or state.get("e") != data["e"]
        or not isinstance(credential, dict)
    ):
        return _json_error(request, services, 400, "expired", i)
    started = time.monotonic()
    proof = recovery.prove_key(
        db,
        services.settings,
        services.cipher,
        services.throttle_store(db),
        data["e"],
        credential,
        base64.urlsafe_b64decode(state["c"]),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
        now=services.clock.now(),
    )
    if proof.account is None:
        _floor(services, started)
        code = "throttled" if proof.retry_after else "not_verified"
        return _json_error(request, services, 429 if proof.retry_after else 401, code, i)
    return JSONResponse({"proof": _proof_token(services, proof.account, "webauthn", i)})


# --------------------------------------------------------------------- new password


def _proved(db, services, proof: str) -> tuple[Account | None, dict]:
    try:
        data = _signer(services, "proof").loads(proof)
    except BadSignature:
        return None, {}
    try:
        account = db.get(Account, uuid.UUID(str(data.get("a"))))
    except ValueError:
        return None, {}
    if account is None or account.status != "active":
        return None, {}
    changed = account.password_changed_at.isoformat() if account.password_changed_at else ""
    if changed != data.get("pc"):
        return None, {}  # used already, or the password changed since
    return account, data


@router.post("/recover/password")
def recover_password(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    proof: Str = "",
    new_password: Annotated[str | None, Form()] = None,
) -> Response:
    pg = pages(request)
    account, data = _proved(db, services, proof)
    if account is None:
        return _expired(request, services)
    i = data.get("i") or ""
    locale = _locale(request, services, i)
    t = translator(locale)
    if not pg.csrf_ok(request, csrf_token):
        return _password_page(request, db, services, proof, account, i, error=t("csrf"), status=400)
    if new_password is None:  # arriving from the security-key proof: show the form
        return _password_page(request, db, services, proof, account, i)
    nested = db.begin_nested()
    try:
        ended = creds.replace_password(
            db,
            services.hasher,
            services.keys,
            services.settings,
            account,
            new_password,
            keep=None,
            by="recovery",
            now=services.clock.now(),
            # replace_password mails the person a notice after commit (idp/mail/).
            details={"method": data.get("m")},
        )
    except WeakPassword as exc:
        nested.rollback()
        return _password_page(
            request, db, services, proof, account, i, error=exc.localized(locale), status=400
        )
    nested.commit()
    unlock_account(
        db, services.throttle_store(db), account, by="password_recovery", actor=str(account.id)
    )
    return pg.render(
        request,
        "recover_password.html",
        locale=locale,
        done=True,
        ended=ended,
        sign_in=_sign_in_url(services, i),
    )
