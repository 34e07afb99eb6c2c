"""The authorization endpoint's decisions (OIDC Core §3.1.2), as an ordered list of small
checks in the style of node-oidc-provider. Authlib validates the OAuth 2.0 grammar
(client, redirect URI, response type, scope, PKCE, nonce); these modules add the OpenID
Connect parameters (prompt, max_age, acr, claims, id_token_hint) and decide whether the
user must sign in, choose an account, step up or consent first.

``CHECKS`` below is the order they run in, top to bottom:

- ``request_checks``: the request's own parameters (a page for a bad client or redirect
  URI, a redirect with the error for the rest);
- ``person_checks``: sign-in, account choice, assurance level and consent (the prompt
  values decide between a page and an error);
- then ``issue_code``. ``state`` holds the request as the checks fill it in and the
  ``Stop`` a check raises with its outcome; ``outcomes`` the values the HTTP route
  (``idp.oidc.routes.authorize``) turns into a page or a redirect.
"""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

from authlib.oauth2.rfc6749 import OAuth2Error

from idp.oidc.authorize.outcomes import (
    AuthenticatedUser,
    ErrorPage,
    Outcome,
    Redirect,
    Resumed,
    StepNeeded,
)
from idp.oidc.authorize.person_checks import (
    check_acr,
    check_consent,
    check_login,
    check_select_account,
)
from idp.oidc.authorize.request_checks import (
    check_client_and_redirect_uri,
    check_oauth_grammar,
    check_oidc_parameters,
    check_request_objects,
    check_resources,
    check_response_mode,
    check_response_type,
    check_single_values,
)
from idp.oidc.authorize.state import State, Stop, oauth2_error, redirect
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext
    from idp.oidc.server import GovIDAuthorizationServer, GovIDOAuth2Request

__all__ = [
    "CHECKS",
    "AuthenticatedUser",
    "ErrorPage",
    "Outcome",
    "Redirect",
    "Resumed",
    "StepNeeded",
    "process",
]

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


def issue_code(s: State) -> Redirect:
    sso = s.session
    sessions.touch(sso, s.ctx.services.clock.now())
    sessions.record_client(s.db, sso, s.client.row.client_id)
    s.req.govid.claims = s.claims_request
    s.req.govid.resources = s.resources
    user = AuthenticatedUser(s.signed_in, sso.sid, sso.acr, list(sso.amr or []), sso.auth_time)
    try:
        _status, _body, headers = s.grant.create_authorization_response(s.redirect_uri, user)
    except OAuth2Error as err:
        raise oauth2_error(s, err) from None
    location = dict(headers)["Location"]
    code = dict(parse_qsl(urlsplit(location).query))["code"]
    return redirect(s, [("code", code)])


def process(
    ctx: OidcContext,
    server: GovIDAuthorizationServer,
    req: GovIDOAuth2Request,
    sso: SsoSession | None,
    resumed: Resumed,
) -> Outcome:
    state = State(ctx, server, req, sso, resumed)
    try:
        for check in CHECKS:
            check(state)
        return issue_code(state)
    except Stop as stop:
        return stop.outcome
