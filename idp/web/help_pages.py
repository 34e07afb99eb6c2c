"""``/help``: what to do when signing in does not work (forgotten password, lost phone
or security key), in the person's language, with a way back to the sign-in it came from."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from idp.deps import pages
from idp.oidc import BadInteraction, Interaction

router = APIRouter()


def _ui_locales(request: Request, token: str) -> str | None:
    """The app's language hint of the sign-in this page was opened from."""
    try:
        state = Interaction.load(request.app.state.services, token, allow_expired=True)
    except BadInteraction:
        return None
    return state.ui_locales


@router.get("/help")
def help_page(request: Request, i: str = "") -> Response:
    # The sign-in it came from (the token is checked there, not here).
    pg = pages(request)
    back = f"/login?{urlencode({'i': i[:4096]})}" if i else "/account"
    locale = pg.locale(request, _ui_locales(request, i) if i else None)
    return pg.render(request, "help.html", locale=locale, back=back, from_sign_in=bool(i))
