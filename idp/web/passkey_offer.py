"""When to offer "Add a passkey", for the sign-in pages that finish a step:
after a password sign-in to people with no second factor, and after a second step with
an app code or a recovery code to people with no key. The page itself is in
idp/web/passkey_routes.py."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi.responses import RedirectResponse
from starlette.requests import Request

from idp.credentials import mfa
from idp.credentials import webauthn_keys as wa
from idp.oidc import Interaction

LATER_COOKIE = "govid_passkey_later"
LATER_DAYS = 30


def should_offer(request: Request, db, services, account, *, stepped_up: bool = False) -> bool:
    """Unless turned off (``IDP_PASSKEY_OFFER=false``) or put off on this browser in the
    last 30 days ("Not now"). After a password sign-in: people with no second factor (a
    passkey is then their first, bound at level 1 as NIST SP 800-63B §6.1.2.1 allows).
    After a second step (``stepped_up``): people with no key yet, who have just proved
    their factor, as binding a new one requires."""
    if not services.settings.passkey_offer or request.cookies.get(LATER_COOKIE):
        return False
    if stepped_up:
        return not wa.keys_of(db, account.id)
    return not mfa.has_second_factor(db, account.id)


def offer_redirect(services, state: Interaction, *, fresh_login: bool) -> RedirectResponse:
    """To the offer, then on with the same step. ``fresh_login`` marks a sign-in made in
    this step (prompt=login and max_age are then met); a second step alone never does."""
    token = (state.but(fresh_login=True) if fresh_login else state).dump(services)
    return RedirectResponse(f"/passkey/offer?{urlencode({'i': token})}", status_code=303)
