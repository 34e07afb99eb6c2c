"""What the authorization endpoint decides, and what it carries between visits: the
``Outcome`` the HTTP route turns into a page or a redirect, the ``Resumed`` facts a
signed interaction brings back, and the user Authlib's code grant is given."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from idp.accounts.models import Account


@dataclass
class AuthenticatedUser:
    """What Authlib's ``request.user`` holds when a code is issued."""

    account: Account
    sid: str
    acr: str
    amr: list[str]
    auth_time: dt.datetime

    @property
    def id(self):
        return self.account.id


@dataclass
class Resumed:
    """What already happened for this request (carried in the signed interaction)."""

    started_at: float = 0.0  # when the RP's request arrived (epoch seconds)
    consent_done: bool = False
    select_done: bool = False
    fresh_login: bool = False  # the user was sent to sign in and did
    denied: bool = False  # the user refused consent
    enrol_skipped: bool = False  # the user declined to set up a second factor (voluntary)


@dataclass
class ErrorPage:  # no redirect: the RP cannot be trusted with it (RFC 6749 §4.1.2.1)
    error: str
    description: str
    # The page's text for the person: a key of idp.web.i18n.MESSAGES and its values.
    message: str | None = None
    values: dict[str, str] = field(default_factory=dict)


@dataclass
class Redirect:
    redirect_uri: str
    params: list[tuple[str, str]]
    response_mode: str


@dataclass
class StepNeeded:
    """The person must act first: a page (the interaction carries the request there)."""

    kind: str  # login | consent | select_account | mfa | enrol
    client: Any
    reason: str = ""
    skippable: bool = False
    login_hint: str | None = None
    scopes: list[str] = field(default_factory=list)


Outcome = ErrorPage | Redirect | StepNeeded
