"""The request's own parameters, checked before anyone is asked anything: the client and
its redirect URI (refused on a page: the app cannot be trusted with the answer), then the
OAuth 2.0 grammar (Authlib: response type, scope, nonce, PKCE), the APIs named by
``resource`` (RFC 8707) and the OpenID Connect parameters (prompt, max_age, claims,
id_token_hint), each refused by redirect to the app."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import OAuth2Error

from idp.keys.service import InvalidToken
from idp.oidc import claims as oidc_claims
from idp.oidc.authorize.outcomes import ErrorPage
from idp.oidc.authorize.state import State, Stop, error, oauth2_error
from idp.resources import service as api_resources

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


def check_client_and_redirect_uri(s: State) -> None:
    for name in ("client_id", "redirect_uri"):
        if len(s.payload.datalist.get(name, [])) > 1:
            raise Stop(
                ErrorPage(
                    "invalid_request",
                    f"'{name}' appears more than once.",
                    "param_repeated",
                    {"name": name},
                )
            )
    client_id = s.data.get("client_id")
    if not client_id:
        raise Stop(ErrorPage("invalid_request", "The request has no 'client_id'.", "no_client_id"))
    s.client = s.server.query_client(client_id)
    if s.client is None:
        raise Stop(
            ErrorPage("invalid_client", "This application is not registered.", "unknown_client")
        )
    uri = s.data.get("redirect_uri")
    if not uri:
        raise Stop(
            ErrorPage("invalid_request", "The request has no 'redirect_uri'.", "no_redirect_uri")
        )
    if not s.client.check_redirect_uri(uri):
        raise Stop(
            ErrorPage(
                "invalid_request",
                "The 'redirect_uri' is not registered for this application (exact match).",
                "redirect_uri_mismatch",
            )
        )
    s.redirect_uri = uri


def check_response_mode(s: State) -> None:
    mode = s.data.get("response_mode")
    if mode and mode not in RESPONSE_MODES:
        raise error(s, "invalid_request", "'response_mode' must be query or form_post.")
    s.response_mode = mode or "query"


def check_single_values(s: State) -> None:
    for name in SINGLE_VALUED:
        if len(s.payload.datalist.get(name, [])) > 1:
            raise error(s, "invalid_request", f"'{name}' appears more than once.")


def check_response_type(s: State) -> None:
    rt = s.data.get("response_type")
    if not rt:
        raise error(s, "invalid_request", "The request has no 'response_type'.")
    if rt != "code":
        raise error(s, "unsupported_response_type", "Only response_type=code is supported.")


def check_request_objects(s: State) -> None:
    """Request objects are not supported (discovery says so): OIDC Core §6.1/§6.2 and the
    error codes of §3.1.2.6 — refused, never silently ignored."""
    if "request" in s.data:
        raise error(s, "request_not_supported", "Request objects are not supported.")
    if "request_uri" in s.data:
        raise error(s, "request_uri_not_supported", "'request_uri' is not supported.")


def check_oauth_grammar(s: State) -> None:
    """Authlib: response type allowed for the client, scope, nonce, PKCE."""
    try:
        s.grant = s.server.get_authorization_grant(s.req)
        s.grant.validate_consent_request()
    except OAuth2Error as err:
        raise oauth2_error(s, err) from None


def check_resources(s: State) -> None:
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
        raise error(s, "invalid_target", exc.message) from None
    except api_resources.InvalidScope as exc:
        raise error(s, "invalid_scope", exc.message) from None


def check_oidc_parameters(s: State) -> None:
    prompt = s.data.get("prompt", "")
    s.prompts = set(prompt.split())
    if not s.prompts <= PROMPTS:
        raise error(s, "invalid_request", f"Unknown 'prompt' value in {prompt!r}.")
    if "none" in s.prompts and len(s.prompts) > 1:
        raise error(s, "invalid_request", "prompt=none cannot be combined with other values.")
    raw_max_age = s.data.get("max_age")
    if raw_max_age:  # RFC 6749 §3.1: a parameter without a value counts as omitted
        if not raw_max_age.isascii() or not raw_max_age.isdigit() or len(raw_max_age) > 18:
            raise error(s, "invalid_request", "'max_age' must be a non-negative integer.")
        s.max_age = int(raw_max_age)
    try:
        s.claims_request = oidc_claims.parse_claims_request(s.data.get("claims"))
    except oidc_claims.ClaimsRequestError as exc:
        raise error(s, "invalid_request", str(exc)) from None
    hint = s.data.get("id_token_hint")
    if hint:
        try:
            header, claims = s.ctx.keys.verify(hint)  # expired hints are allowed (§3.1.2.1)
        except InvalidToken:
            raise error(s, "invalid_request", "'id_token_hint' is not a valid ID token.") from None
        if claims.get("iss") != s.ctx.issuer or header.get("typ") not in (None, "JWT"):
            raise error(s, "invalid_request", "'id_token_hint' was not issued by this provider.")
        s.hint_sub = str(claims.get("sub"))
    # OIDC Core §5.5.1: `sub` asked for with a value means "only for this person".
    wanted_sub = oidc_claims.requested_sub(s.claims_request)
    if wanted_sub is not None:
        if s.hint_sub is not None and s.hint_sub != wanted_sub:
            raise error(s, "invalid_request", "'id_token_hint' and the requested 'sub' differ.")
        s.hint_sub = wanted_sub
