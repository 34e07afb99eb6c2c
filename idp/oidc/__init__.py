"""The OpenID Provider (OIDC Core, RFC 6749 and its extensions) on Authlib.

The people's pages (``idp.web``) reach the sign-in flow through this package's API,
never its endpoint modules (``idp.oidc.routes``): the interaction a step carries
(``idp.oidc.interaction``) and ``resume_here``, which answers the authorization request
in the response of the page that finished a step. Sign-in flows one way: web -> oidc."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from idp.oidc.interaction import (
    INTERACTION_PAGES,
    INTERACTION_TTL,
    BadInteraction,
    Interaction,
    InteractionPages,
)

if TYPE_CHECKING:
    from starlette.requests import Request
    from starlette.responses import Response

__all__ = [
    "INTERACTION_PAGES",
    "INTERACTION_TTL",
    "BadInteraction",
    "Interaction",
    "InteractionPages",
    "resume_here",
]


def resume_here(
    request: Request, db: Any, services: Any, state: Interaction, sso: Any
) -> Response | None:
    """What ``/authorize/resume`` would answer for interaction ``state`` and the session
    ``sso`` when that answer is a redirect (to the app or the next step), else None
    (``idp.oidc.routes.authorize.resume_here``)."""
    # Imported here: the endpoints pull in Authlib and the grants, and idp.oidc is
    # imported by light modules too.
    from idp.oidc.routes.authorize import resume_here as answer

    return answer(request, db, services, state, sso)
