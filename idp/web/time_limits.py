"""Time limits a person can see and extend (WCAG 2.2 SC 2.2.1 "Timing
Adjustable": warn before time runs out, give at least 20 seconds to ask for more, allow
extending at least ten times, or explain why not).

Each step of a sign-in is a signed interaction that expires INTERACTION_TTL (10 minutes)
after it was made (``idp.oidc.Interaction``; the expiry is inside the signed token, there
is no server-side record). The page says how long the person has, also without scripts; a
script (static/govid.js) warns in a polite live region two minutes before the end and
offers a button that asks ``POST /interaction/extend`` (CSRF-protected) for a new token
of the same step, valid EXTEND_BY from now. The count of extensions is in the token, so
the total time of a step is bounded: 10 + 3 x 10 minutes, and at enrolment, where the
person may first have to install an app, 20 + 6 x 10 minutes.

2.2.1 accepts a limit that is "essential" or a security measure; the extensions here are
fewer than ten for that reason (an unattended sign-in must end), stated on the page."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from idp.deps import DbDep, ServicesDep, pages
from idp.oidc import INTERACTION_TTL, BadInteraction, Interaction
from idp.sessions import service as sessions
from idp.web.humane import clock_time
from idp.web.i18n import translator

router = APIRouter()
Str = Annotated[str, Form()]

EXTEND_BY = 600  # seconds from the moment the person asks
MAX_EXTENSIONS = 3
ENROL_TTL = 1200  # enrolment starts with 20 minutes (installing an app takes time)
ENROL_MAX_EXTENSIONS = 6
WARN_BEFORE = 120  # the warning shows two minutes before the end


def _limit(state: Interaction) -> int:
    return state.max_extensions or MAX_EXTENSIONS


def clock_time_at(epoch: int, locale: str) -> str:
    return clock_time(dt.datetime.fromtimestamp(epoch, dt.UTC), locale)


def for_page(services, token: str | None, locale: str) -> dict | None:
    """What a page shows of its step's time limit: seconds left, the clock time it ends
    (Bangkok time), extensions left. None for a token that is no interaction."""
    try:
        state = Interaction.load(services, token, allow_expired=True)
    except BadInteraction:
        return None
    expires, extensions_left = state.expires_at, max(0, _limit(state) - state.extensions)
    left = max(0, expires - int(services.clock.time()))
    return {
        "seconds": left,
        "minutes": str(max(1, -(-left // 60))),
        "until": clock_time_at(expires, locale),
        "extensions_left": extensions_left,
        "extend_minutes": str(EXTEND_BY // 60),
        "warn_before": WARN_BEFORE,
        "warn_minutes": str(WARN_BEFORE // 60),
    }


def for_enrolment(services, state: Interaction, token: str) -> str:
    """The token an enrolment page carries: at least ENROL_TTL from now and more
    extensions (the step itself is the same)."""
    if state.max_extensions == ENROL_MAX_EXTENSIONS:
        return token
    left = state.expires_at - int(services.clock.time())
    return state.but(max_extensions=ENROL_MAX_EXTENSIONS).dump(services, max(ENROL_TTL, left))


def _refusal(status: int, error: str, message: str, locale: str) -> JSONResponse:
    return JSONResponse(
        {
            "error": error,
            "message": translator(locale)(message, minutes=str(INTERACTION_TTL // 60)),
        },
        status_code=status,
    )


@router.post("/interaction/extend")
def extend(
    request: Request, db: DbDep, services: ServicesDep, i: Str = "", csrf_token: Str = ""
) -> JSONResponse:
    """More time for the step the page shows: a new token for it, EXTEND_BY from now,
    at most its number of extensions. The old token stays valid until its own expiry
    (it is stateless); the page swaps it for the new one everywhere it is used."""
    pg = pages(request)
    try:
        state = Interaction.load(services, i)
    except BadInteraction:
        return _refusal(410, "interaction_expired", "step_expired", pg.locale(request))
    locale = pg.locale(request, state.ui_locales)
    if not pg.csrf_ok(request, csrf_token):
        return _refusal(403, "csrf", "csrf", locale)
    used = state.extensions
    if used >= _limit(state):
        return _refusal(409, "no_more_time", "time_no_more", locale)
    token = state.but(extensions=used + 1).dump(services, EXTEND_BY)
    # A person still at the page keeps their session too (its idle limit).
    sso = sessions.find(
        db, services.settings, request.cookies.get(pg.session_cookie), services.clock.now()
    )
    now = services.clock.now()
    if sso is not None:
        sessions.touch(sso, now)
    t = translator(locale)
    until = clock_time_at(int(now.timestamp()) + EXTEND_BY, locale)
    left = _limit(state) - used - 1
    return JSONResponse(
        {
            "i": token,
            "seconds": EXTEND_BY,
            "extensions_left": left,
            "message": t("time_extended", minutes=str(EXTEND_BY // 60), until=until),
            "limit_text": t("time_limit", minutes=str(EXTEND_BY // 60), until=until),
        },
        headers={"Cache-Control": "no-store"},
    )
