"""The interaction: what carries a sign-in from the authorization endpoint through the
people's pages (sign-in, second factor, consent, ...) and back, signed and expiring (no
server-side record), and the pages the provider asks for on the way.

The provider decides (``idp.oidc.authorize``); the people's pages (``idp.web``) render
and come back through this package's API (``idp.oidc``): sign-in flows one way."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from idp.signing import BadSignature, Signer

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
    return Signer(services.settings.secret_keys, "interaction", services.clock)


class BadInteraction(ValueError):
    """Not an interaction GovID signed, or one past its expiry."""


@dataclass(frozen=True)
class Interaction:
    """A sign-in's progress. Either it resumes an app's authorization request
    (``request``: its parameters, validated before the interaction was signed) or it
    returns to a GovID page of our own (``next_path``, e.g. ``/account``)."""

    request: tuple[tuple[str, str], ...] | None = None
    started_at: float = 0.0  # when the app's request arrived (epoch seconds)
    kind: str = ""  # the step asked for: login | consent | select_account | mfa | enrol
    reason: str = ""  # why a sign-in is asked: no_session, prompt_login, max_age, ...
    login_hint: str | None = None
    client_id: str | None = None
    scopes: tuple[str, ...] = ()  # what the consent page asks for
    skippable: bool = False  # setting up a second factor may be put off
    # What already happened (authorize.Resumed):
    consent_done: bool = False
    select_done: bool = False
    fresh_login: bool = False  # the person signed in during this request
    denied: bool = False  # the person refused consent
    enrol_skipped: bool = False
    # A step of our own: where it returns, and why it was asked (said on the page).
    next_path: str | None = None
    why: str | None = None
    # Time limits a person can see and extend (idp.web.time_limits).
    extensions: int = 0
    max_extensions: int | None = None
    expires_at: int = 0  # epoch seconds; set by ``load``, written by ``dump``

    @property
    def for_app(self) -> bool:
        return self.request is not None

    @property
    def params(self) -> dict[str, str]:
        return dict(self.request or ())

    @property
    def ui_locales(self) -> str | None:
        return self.params.get("ui_locales")

    @property
    def redirect_uri(self) -> str | None:
        """The app's validated ``redirect_uri``: where this step's forms may end."""
        return self.params.get("redirect_uri")

    def but(self, **changes: Any) -> Interaction:
        """The same interaction with ``changes`` (a step done, another reason, ...)."""
        return dataclasses.replace(self, **changes)

    def dump(self, services: Any, ttl: int = INTERACTION_TTL) -> str:
        """Signed, valid ``ttl`` seconds from now."""
        payload = {key: _encode(getattr(self, name)) for name, key in _WIRE.items()}
        payload = {k: v for k, v in payload.items() if v not in (None, False, "", 0, [])}
        if self.request is not None:
            payload["p"] = [list(pair) for pair in self.request]
            payload["t"] = self.started_at
        return interaction_signer(services).dumps(payload, ttl)

    @classmethod
    def load(cls, services: Any, token: str | None, *, allow_expired: bool = False) -> Interaction:
        """``allow_expired`` only to say where an expired step came from (to offer
        "start again"), never to act on it. ``BadInteraction`` for anything else."""
        try:
            data, expires = interaction_signer(services).open(token, allow_expired=allow_expired)
            pairs = data.get("p")
            return cls(
                request=None if pairs is None else tuple((str(k), str(v)) for k, v in pairs),
                started_at=float(data.get("t") or 0),
                kind=str(data.get("k") or ""),
                reason=str(data.get("r") or ""),
                login_hint=data.get("h") or None,
                client_id=data.get("cid") or None,
                scopes=tuple(data.get("sc") or ()),
                skippable=bool(data.get("sk")),
                consent_done=bool(data.get("c")),
                select_done=bool(data.get("s")),
                fresh_login=bool(data.get("l")),
                denied=bool(data.get("d")),
                enrol_skipped=bool(data.get("e")),
                next_path=data.get("n") or None,
                why=data.get("w") or None,
                extensions=int(data.get("x") or 0),
                max_extensions=int(data["xm"]) if data.get("xm") else None,
                expires_at=expires,
            )
        except (BadSignature, ValueError, TypeError, AttributeError) as exc:
            raise BadInteraction(str(exc)) from None


# The signed form keeps the short keys it always had: a step in flight when a new
# release starts goes on. ``p`` (the request) and ``t`` (its start) are written above.
_WIRE = {
    "kind": "k",
    "reason": "r",
    "login_hint": "h",
    "client_id": "cid",
    "scopes": "sc",
    "skippable": "sk",
    "consent_done": "c",
    "select_done": "s",
    "fresh_login": "l",
    "denied": "d",
    "enrol_skipped": "e",
    "next_path": "n",
    "why": "w",
    "extensions": "x",
    "max_extensions": "xm",
}


def _encode(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


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

    def login(self, request: Request, db: Session, state: Interaction, token: str) -> Response: ...

    def select_account(
        self, request: Request, state: Interaction, token: str, account: Account, locale: str
    ) -> Response: ...

    def consent(
        self,
        request: Request,
        db: Session,
        state: Interaction,
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
