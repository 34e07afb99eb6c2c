"""The authorization endpoint's decisions (OIDC Core §3.1.2), as an ordered list of small
checks in the style of node-oidc-provider. Authlib validates the OAuth 2.0 grammar
(client, redirect URI, response type, scope, PKCE, nonce); this module adds the OpenID
Connect parameters (prompt, max_age, acr, claims, id_token_hint) and decides whether the
user must sign in, choose an account, step up or consent first.

The result is an ``Outcome``; the HTTP route (``idp.oidc.routes.authorize``) turns it
into a page or a redirect. Over 400 lines on purpose: the checks read top to bottom in
the order they run, and splitting them would hide that order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.credentials import mfa
from idp.keys.service import InvalidToken
from idp.oidc import claims as oidc_claims
from idp.resources import service as api_resources
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession
from idp.tokens.models import Consent

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext
    from idp.oidc.server import GovIDAuthorizationServer, GovIDOAuth2Request, ParamsPayload

PROMPTS = {"none", "login", "consent", "select_account"}
RESPONSE_MODES = {"query", "form_post"}
SINGLE_VALUED = (
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "nonce",
    "prompt",
    "max_age",
    "code_challenge",
    "code_challenge_method",
    "response_mode",
    "claims",
    "acr_values",
    "id_token_hint",
    "login_hint",
)  # `resource` may be repeated (RFC 8707 §2: one per API)


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


class _Stop(Exception):  # noqa: N818 — internal control flow
    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome


def _error(state: _State, error: str, description: str) -> _Stop:
    params = [("error", error), ("error_description", description)]
    return _Stop(_redirect(state, params))


def _oauth2_error(state: _State, err: OAuth2Error) -> _Stop:
    error = err.error or "invalid_request"
    return _error(state, error, err.description or error)


def _redirect(state: _State, params: list[tuple[str, str]]) -> Redirect:
    if state.payload.state:
        params.append(("state", state.payload.state))
    params.append(("iss", state.ctx.issuer))  # RFC 9207 §2: in every response
    return Redirect(state.redirect_uri, params, state.response_mode)


@dataclass
class _State:
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


# --------------------------------------------------------------------------- checks


def check_client_and_redirect_uri(s: _State) -> None:
    for name in ("client_id", "redirect_uri"):
        if len(s.payload.datalist.get(name, [])) > 1:
            raise _Stop(
                ErrorPage(
                    "invalid_request",
                    f"'{name}' appears more than once.",
                    "param_repeated",
                    {"name": name},
                )
            )
    client_id = s.data.get("client_id")
    if not client_id:
        raise _Stop(ErrorPage("invalid_request", "The request has no 'client_id'.", "no_client_id"))
    s.client = s.server.query_client(client_id)
    if s.client is None:
        raise _Stop(
            ErrorPage("invalid_client", "This application is not registered.", "unknown_client")
        )
    uri = s.data.get("redirect_uri")
    if not uri:
        raise _Stop(
            ErrorPage("invalid_request", "The request has no 'redirect_uri'.", "no_redirect_uri")
        )
    if not s.client.check_redirect_uri(uri):
        raise _Stop(
            ErrorPage(
                "invalid_request",
                "The 'redirect_uri' is not registered for this application (exact match).",
                "redirect_uri_mismatch",
            )
        )
    s.redirect_uri = uri


def check_response_mode(s: _State) -> None:
    mode = s.data.get("response_mode")
    if mode and mode not in RESPONSE_MODES:
        raise _error(s, "invalid_request", "'response_mode' must be query or form_post.")
    s.response_mode = mode or "query"


def check_single_values(s: _State) -> None:
    for name in SINGLE_VALUED:
        if len(s.payload.datalist.get(name, [])) > 1:
            raise _error(s, "invalid_request", f"'{name}' appears more than once.")


def check_response_type(s: _State) -> None:
    rt = s.data.get("response_type")
    if not rt:
        raise _error(s, "invalid_request", "The request has no 'response_type'.")
    if rt != "code":
        raise _error(s, "unsupported_response_type", "Only response_type=code is supported.")


def check_request_objects(s: _State) -> None:
    """Request objects are not supported (discovery says so): OIDC Core §6.1/§6.2 and the
    error codes of §3.1.2.6 — refused, never silently ignored."""
    if "request" in s.data:
        raise _error(s, "request_not_supported", "Request objects are not supported.")
    if "request_uri" in s.data:
        raise _error(s, "request_uri_not_supported", "'request_uri' is not supported.")


def check_oauth_grammar(s: _State) -> None:
    """Authlib: response type allowed for the client, scope, nonce, PKCE."""
    try:
        s.grant = s.server.get_authorization_grant(s.req)
        s.grant.validate_consent_request()
    except OAuth2Error as err:
        raise _oauth2_error(s, err) from None


def check_resources(s: _State) -> None:
    """RFC 8707 §2.1: the APIs named by `resource` (invalid_target if one is unknown or
    not for this client); an API's scopes only with its `resource`."""
    values = [v for v in s.payload.datalist.get("resource", []) if v]
    if not values and not set(s.req.scope.split()) - api_resources.GOVID_SCOPES:
        return  # today's request: nothing to read
    try:
        s.resources = api_resources.plan_authorization(
            s.db, s.client.row, values, s.req.scope.split(), issuer=s.ctx.issuer
        )
    except api_resources.InvalidTarget as exc:
        raise _error(s, "invalid_target", exc.message) from None
    except api_resources.InvalidScope as exc:
        raise _error(s, "invalid_scope", exc.message) from None


def check_oidc_parameters(s: _State) -> None:
    prompt = s.data.get("prompt", "")
    s.prompts = set(prompt.split())
    if not s.prompts <= PROMPTS:
        raise _error(s, "invalid_request", f"Unknown 'prompt' value in {prompt!r}.")
    if "none" in s.prompts and len(s.prompts) > 1:
        raise _error(s, "invalid_request", "prompt=none cannot be combined with other values.")
    raw_max_age = s.data.get("max_age")
    if raw_max_age:  # RFC 6749 §3.1: a parameter without a value counts as omitted
        if not raw_max_age.isascii() or not raw_max_age.isdigit() or len(raw_max_age) > 18:
            raise _error(s, "invalid_request", "'max_age' must be a non-negative integer.")
        s.max_age = int(raw_max_age)
    try:
        s.claims_request = oidc_claims.parse_claims_request(s.data.get("claims"))
    except oidc_claims.ClaimsRequestError as exc:
        raise _error(s, "invalid_request", str(exc)) from None
    hint = s.data.get("id_token_hint")
    if hint:
        try:
            header, claims = s.ctx.keys.verify(hint)  # expired hints are allowed (§3.1.2.1)
        except InvalidToken:
            raise _error(s, "invalid_request", "'id_token_hint' is not a valid ID token.") from None
        if claims.get("iss") != s.ctx.issuer or header.get("typ") not in (None, "JWT"):
            raise _error(s, "invalid_request", "'id_token_hint' was not issued by this provider.")
        s.hint_sub = str(claims.get("sub"))
    # OIDC Core §5.5.1: `sub` asked for with a value means "only for this person".
    wanted_sub = oidc_claims.requested_sub(s.claims_request)
    if wanted_sub is not None:
        if s.hint_sub is not None and s.hint_sub != wanted_sub:
            raise _error(s, "invalid_request", "'id_token_hint' and the requested 'sub' differ.")
        s.hint_sub = wanted_sub


def check_login(s: _State) -> None:
    now = s.ctx.services.clock.now()
    sso = s.sso
    reasons = []
    if sso is None:
        reasons.append("no_session")
    else:
        started = dt.datetime.fromtimestamp(s.resumed.started_at, dt.UTC)
        # The user signed in after this request arrived: prompt=login and max_age are met.
        fresh = s.resumed.fresh_login and sso.auth_time >= started
        if "login" in s.prompts and not fresh:
            reasons.append("prompt_login")
        if (
            s.max_age is not None
            and not fresh
            and (now - sso.auth_time).total_seconds() > s.max_age
        ):
            reasons.append("max_age")  # OIDC Core §3.1.2.1: re-authenticate
        if s.hint_sub and s.hint_sub != str(sso.account_id):
            reasons.append("other_account")
    if sso is not None and not reasons:
        s.account = sso.account
        return
    if "none" in s.prompts:
        raise _error(s, "login_required", "The user must sign in.")
    raise _Stop(
        StepNeeded("login", s.client, reason=reasons[0], login_hint=s.data.get("login_hint"))
    )


def check_select_account(s: _State) -> None:
    if "select_account" in s.prompts and not s.resumed.select_done:
        raise _Stop(StepNeeded("select_account", s.client))


def check_acr(s: _State) -> None:
    """Assurance level (DESIGN §5): essential acr and the client's min_acr must be met
    (OIDC Core §5.5.1.1); a level-1 session steps up with the second factor only."""
    level1, level2 = s.ctx.settings.acr_level1, s.ctx.settings.acr_level2
    values, essential = oidc_claims.requested_acr(s.claims_request)
    # An essential acr without values only asks that acr be returned, which it always
    # is (OIDC Core §5.5.1.1); with values, one of them must be met.
    essential = essential and bool(values)
    known = [v for v in values if v in (level1, level2)]
    required, mandatory = level1, False
    if essential:
        if not known:
            raise _error(
                s,
                "unmet_authentication_requirements",
                "None of the requested acr values is offered.",
            )
        if level1 not in known:
            required, mandatory = level2, True
    else:
        preferred = (s.data.get("acr_values") or "").split()
        if preferred and preferred[0] == level2:
            required = level2  # voluntary (OIDC Core §3.1.2.1 acr_values)
    if s.client.row.min_acr == level2:
        required, mandatory = level2, True
    if required != level2 or s.session.acr == level2:
        return
    has_factor = mfa.has_second_factor(s.db, s.signed_in.id)
    if "none" in s.prompts:
        raise _error(s, "interaction_required", "A second factor is needed.")
    if has_factor:
        raise _Stop(StepNeeded("mfa", s.client))
    if essential:
        raise _error(
            s,
            "unmet_authentication_requirements",
            "The account has no second factor for assurance level 2.",
        )
    if mandatory or not s.resumed.enrol_skipped:
        raise _Stop(StepNeeded("enrol", s.client, skippable=not mandatory))


def check_consent(s: _State) -> None:
    if s.resumed.denied:
        raise _error(s, "access_denied", "The user did not allow this application.")
    if s.client.row.first_party:
        return
    # Claims asked for one by one count as their scopes (OIDC Core §3.1.2.4, §5.5).
    scopes = sorted(
        set(s.req.scope.split()) | oidc_claims.claim_scopes(s.claims_request, s.client.row)
    )
    stored = s.db.get(Consent, (s.signed_in.id, s.client.row.client_id))
    covered = stored is not None and set(scopes) <= set(stored.scopes or [])
    wants = "consent" in s.prompts and not s.resumed.consent_done
    if covered and not wants:
        return
    if s.resumed.consent_done and not wants:
        return
    if "none" in s.prompts:
        raise _error(s, "consent_required", "The user has not approved this application.")
    raise _Stop(StepNeeded("consent", s.client, scopes=scopes))


def issue_code(s: _State) -> Redirect:
    sso = s.session
    sessions.touch(sso, s.ctx.services.clock.now())
    sessions.record_client(s.db, sso, s.client.row.client_id)
    s.req.govid.claims = s.claims_request
    s.req.govid.resources = s.resources
    user = AuthenticatedUser(s.signed_in, sso.sid, sso.acr, list(sso.amr or []), sso.auth_time)
    try:
        _status, _body, headers = s.grant.create_authorization_response(s.redirect_uri, user)
    except OAuth2Error as err:
        raise _oauth2_error(s, err) from None
    location = dict(headers)["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return _redirect(s, [("code", code)])


CHECKS = (
    check_client_and_redirect_uri,
    check_response_mode,
    check_single_values,
    check_response_type,
    check_request_objects,
    check_oauth_grammar,
    check_resources,
    check_oidc_parameters,
    check_login,
    check_select_account,
    check_acr,
    check_consent,
)


def process(
    ctx: OidcContext,
    server: GovIDAuthorizationServer,
    req: GovIDOAuth2Request,
    sso: SsoSession | None,
    resumed: Resumed,
) -> Outcome:
    state = _State(ctx, server, req, sso, resumed)
    try:
        for check in CHECKS:
            check(state)
        return issue_code(state)
    except _Stop as stop:
        return stop.outcome
