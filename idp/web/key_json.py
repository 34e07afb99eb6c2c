"""What the JSON endpoints behind the key buttons share (security keys:
webauthn_routes.py, static/webauthn.js; passkeys: passkey_routes.py, static/passkey.js):
the body, CSRF in the X-CSRF-Token header, refusals as codes with a message in the
page's language, the signed challenge a ceremony carries between its two requests, and
adding a key to the signed-in account."""

from __future__ import annotations

import base64
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import Depends, Request
from fastapi.responses import JSONResponse

from idp.accounts.models import Account
from idp.credentials import service as creds
from idp.credentials import webauthn_keys as wa
from idp.deps import pages
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession
from idp.signing import BadSignature, Signer
from idp.web.flow import new_flow, parse
from idp.web.i18n import translator


async def json_body(request: Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


BodyDep = Annotated[dict[str, Any], Depends(json_body)]


# Refusals as codes, each with its message in the page's language (shown next to the
# button by the script, announced by its role=alert).
ERROR_TEXTS = {
    "csrf": "csrf",
    "signed_out": "key_signed_out",
    "expired": "key_expired",
    "not_verified": "key_not_verified",
    "already_registered": "key_exists",
    "not_registered": "key_register_failed",
    "passkey_refused": "passkey_refused",
}


def error(
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


def csrf_ok(request: Request) -> bool:
    return pages(request).csrf_ok(request, request.headers.get("x-csrf-token"))


class Challenges:
    """The challenge of a ceremony, signed for its second request (five minutes), for
    one purpose and, when given, one account. ``salt`` keeps each kind of key's states
    apart."""

    def __init__(self, salt: str) -> None:
        self.salt = salt

    def _signer(self, services) -> Signer:
        return Signer(services.settings.secret_keys, self.salt, services.clock)

    def state(
        self, services, challenge: bytes, purpose: str, account: Account | None = None
    ) -> str:
        data = {"c": base64.urlsafe_b64encode(challenge).decode(), "p": purpose}
        if account is not None:
            data["a"] = str(account.id)
        return self._signer(services).dumps(data, 300)

    def challenge(
        self, services, state: Any, purpose: str, account: Account | None = None
    ) -> bytes | None:
        try:
            data = self._signer(services).loads(state if isinstance(state, str) else None)
        except BadSignature:
            return None
        if data.get("p") != purpose or (account is not None and data.get("a") != str(account.id)):
            return None
        return base64.urlsafe_b64decode(data["c"])


# ------------------------------------------------------------------ adding a key


def step_up_first(request: Request, services) -> JSONResponse:
    """Adding a key when the account has a factor needs it proved first: the script
    goes to the second step, which says why and comes back to the key button."""
    flow = new_flow(services, "/account?ready=key#security-key", why="add_key")
    return error(request, 403, "step_up", step_up=f"/mfa?{urlencode({'i': flow})}")


def may_add_key(request: Request, db, services) -> tuple[SsoSession, Account] | JSONResponse:
    """The signed-in session and account that may add a key now, or the refusal."""
    if not csrf_ok(request):
        return error(request, 403, "csrf")
    pg = pages(request)
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    account = db.get(Account, sso.account_id) if sso is not None else None
    if sso is None or account is None:
        return error(request, 401, "signed_out")
    if not creds.may_bind_factor(db, sso, account.id, services.settings, services.clock.now()):
        return step_up_first(request, services)
    return sso, account


def add_key(
    request: Request,
    db,
    services,
    sso: SsoSession,
    account: Account,
    challenge: bytes | None,
    credential: Any,
    label: str,
    **kind: bool,
) -> str | JSONResponse:
    """Register the key the browser made; proved just now, the session steps up to
    level 2: its new cookie value, or the refusal."""
    if challenge is None or not isinstance(credential, dict):
        return error(request, 400, "expired")
    try:
        wa.register(db, account, services.settings.issuer, credential, challenge, label, **kind)
    except wa.WebAuthnError as exc:
        code = "already_registered" if "already registered" in str(exc) else "not_registered"
        return error(request, 400, code)
    return sessions.step_up(sso, services.settings, "webauthn", services.clock.now())


def with_session(request: Request, services, response: JSONResponse, cookie: str) -> JSONResponse:
    pg = pages(request)
    pg.set_cookie(
        response, pg.session_cookie, cookie, max_age=services.settings.session_absolute_ttl
    )
    return response
