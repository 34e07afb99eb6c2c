"""The interaction: what carries a sign-in from the authorization endpoint through the
people's pages (sign-in, second factor, consent, ...) and back, signed and expiring (no
server-side record), and the pages the provider asks for on the way.

The provider decides (``idp.oidc.authorize``); the people's pages (``idp.web``) render
and come back through this package's API (``idp.oidc``): sign-in flows one way."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from idp.signing import Signer

if TYPE_CHECKING:
    from sqlalchemy.orm import Session
    from starlette.requests import Request
    from starlette.responses import Response

    from idp.accounts.models import Account
    from idp.clients.models import Client

INTERACTION_TTL = 600  # seconds a step may stay open (idp.web.time_limits extends it)
# Steps answered by a page of their own, reached by a redirect (303) from /authorize.
INTERACTION_PAGES = {"login": "/login", "mfa": "/mfa", "enrol": "/mfa/enrol"}


def interaction_signer(services: Any) -> Signer:
    return Signer(services.settings.secret_keys, "interaction")


class InteractionPages(Protocol):
    """The pages the provider shows a person, rendered by the people's pages
    (``idp.web.sign_in_pages``; ``idp.deps.interaction_pages``)."""

    def authorization_error(
        self,
        request: Request,
        *,
        error: str,
        description: str,
        message: str | None,
        values: dict[str, str],
        locale: str,
    ) -> Response:
        """An authorization request that cannot be answered to the app (RFC 6749
        §4.1.2.1): ``message`` is the person's text (a key of the page texts)."""
        ...

    def protocol_error(
        self, request: Request, *, error: str, description: str | None
    ) -> Response: ...

    def login(self, request: Request, db: Session, data: dict, token: str) -> Response: ...

    def select_account(
        self, request: Request, data: dict, token: str, account: Account, locale: str
    ) -> Response: ...

    def consent(
        self,
        request: Request,
        db: Session,
        data: dict,
        token: str,
        *,
        account: Account,
        client: Client,
        scopes: list[str],
        locale: str,
    ) -> Response: ...

    def form_post(
        self, request: Request, redirect_uri: str, params: list[tuple[str, str]], locale: str
    ) -> Response:
        """OAuth 2.0 Form Post Response Mode: an auto-submitting form to the app."""
        ...

    def logged_out(self, request: Request) -> Response: ...

    def logout_confirm(
        self, request: Request, token: str, redirect_uri: str | None
    ) -> Response: ...
