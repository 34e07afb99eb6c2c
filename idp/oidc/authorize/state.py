"""The request being decided, as the checks fill it in (``State``), and how a check stops
the run with its outcome (``Stop``; ``error`` for the refusals the app is told of by
redirect, RFC 6749 §4.1.2.1)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import OAuth2Error
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.oidc.authorize.outcomes import Outcome, Redirect, Resumed
from idp.sessions.models import SsoSession

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext
    from idp.oidc.server import GovIDAuthorizationServer, GovIDOAuth2Request, ParamsPayload


class Stop(Exception):  # noqa: N818 — internal control flow
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


@dataclass
class State:
    ctx: OidcContext
    server: GovIDAuthorizationServer
    req: GovIDOAuth2Request
    sso: SsoSession | None
    resumed: Resumed
    client: Any = None
    redirect_uri: str = ""
    response_mode: str = "query"
    grant: Any = None
    prompts: set[str] = field(default_factory=set)
    max_age: int | None = None
    claims_request: dict | None = None
    resources: list[str] = field(default_factory=list)
    hint_sub: str | None = None
    account: Account | None = None

    @property
    def payload(self) -> ParamsPayload:
        return self.req.payload

    @property
    def data(self) -> dict[str, str]:
        return self.payload.data

    @property
    def session(self) -> SsoSession:
        """The session ``check_login`` accepted (the checks after it run only then)."""
        if self.sso is None:
            raise RuntimeError("no session: check_login runs first")
        return self.sso

    @property
    def signed_in(self) -> Account:
        """The account of that session."""
        if self.account is None:
            raise RuntimeError("no account: check_login runs first")
        return self.account

    @property
    def db(self) -> Session:
        return self.ctx.db


def redirect(state: State, params: list[tuple[str, str]]) -> Redirect:
    if state.payload.state:
        params.append(("state", state.payload.state))
    params.append(("iss", state.ctx.issuer))  # RFC 9207 §2: in every response
    return Redirect(state.redirect_uri, params, state.response_mode)


def error(state: State, code: str, description: str) -> Stop:
    params = [("error", code), ("error_description", description)]
    return Stop(redirect(state, params))


def oauth2_error(state: State, err: OAuth2Error) -> Stop:
    code = err.error or "invalid_request"
    return error(state, code, err.description or code)
