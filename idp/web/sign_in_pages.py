"""The pages the OpenID Provider asks for (``idp.oidc.interaction.InteractionPages``):
the sign-in form answered by ``/authorize`` itself, account choice, consent, the
form_post answer to an app, an authorization request that cannot go back to its app,
and RP-initiated logout's pages. Wired on ``app.state.interaction_pages`` by
``create_app``: the provider decides, the people's pages render (web -> oidc)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.agencies.service import get as get_agency
from idp.oidc import Interaction
from idp.resources import service as api_resources
from idp.web.i18n import translator
from idp.web.login_page import login_page, privacy_notice
from idp.web.render import Pages
from idp.web.security import form_target_source

# The scopes the consent page names (a ``scope_<name>`` text each); 'openid' is no
# information about the person, and an API's scopes are named with it.
LABELLED_SCOPES = ("profile", "email", "govid", "citizen_id", "offline_access")


class SignInPages:
    def __init__(self, pages: Pages) -> None:
        self.pages = pages

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
        return self.pages.render(
            request,
            "error.html",
            status=400,
            locale=locale,
            error=error,
            description=translator(locale)(message, **values) if message else description,
        )

    def protocol_error(self, request: Request, *, error: str, description: str | None) -> Response:
        return self.pages.render(
            request, "error.html", status=400, error=error, description=description
        )

    def login(self, request: Request, db, state: Interaction, token: str) -> Response:
        return login_page(request, self.pages, db, state, token)

    def select_account(
        self, request: Request, state: Interaction, token: str, account, locale: str
    ) -> Response:
        return self.pages.render(
            request,
            "select_account.html",
            locale=locale,
            interaction=token,
            email=account.email,
            form_target=state.redirect_uri,
        )

    def consent(
        self,
        request: Request,
        db,
        state: Interaction,
        token: str,
        *,
        account,
        client,
        scopes: list[str],
        locale: str,
    ) -> Response:
        agency = get_agency(db, client.agency_id)
        th = locale == "th"
        return self.pages.render(
            request,
            "consent.html",
            locale=locale,
            interaction=token,
            email=account.email,
            client_name=client.name_th if th else client.name_en,
            agency_name=agency.name_th if th else agency.name_en,
            # The agency's privacy notice (PDPA), or its nearest parent's; and the app's own
            # (its registered policy_uri, OIDC Registration §2), shown beside it.
            privacy=privacy_notice(db, agency),
            app_privacy=client.policy_uri,
            scopes=[s for s in scopes if s in LABELLED_SCOPES],
            apis=[  # RFC 8707: the agency APIs the app may call as the person, by name
                {"name": a[f"name_{locale}"], "scopes": ", ".join(a["scopes"])}
                for a in api_resources.consent_apis(db, scopes)
            ],
            form_target=state.redirect_uri,
        )

    def form_post(
        self, request: Request, redirect_uri: str, params: list[tuple[str, str]], locale: str
    ) -> Response:
        # OAuth 2.0 Form Post Response Mode: an auto-submitting form to the app, whose
        # origin is the only place the form may go (CSP form-action).
        nonce = self.pages.nonce()
        origin = form_target_source(redirect_uri) or "'none'"
        csp = (
            f"default-src 'none'; script-src 'nonce-{nonce}'; form-action {origin}; "
            "frame-ancestors 'none'; base-uri 'none'"
        )
        return self.pages.render(
            request,
            "form_post.html",
            locale=locale,
            action=redirect_uri,
            params=params,
            nonce=nonce,
            headers={"Content-Security-Policy": csp},
        )

    def logged_out(self, request: Request) -> Response:
        return self.pages.render(request, "logged_out.html")

    def logout_confirm(self, request: Request, token: str, redirect_uri: str | None) -> Response:
        return self.pages.render(
            request, "logout_confirm.html", interaction=token, form_target=redirect_uri
        )
