"""The client credentials grant (RFC 6749 §4.4): a machine's token, for GovID or for one
API (RFC 8707), never more than the client is registered for."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidScopeError, grants

from idp.oidc.grants.common import (
    CONFIDENTIAL_AUTH_METHODS,
    RESOURCE_ERRORS,
    CtxMixin,
    oauth_error,
)
from idp.resources import service as api_resources
from idp.tokens import service as tokens


class ClientCredentialsGrant(CtxMixin, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_AUTH_METHODS

    def generate_token(
        self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=False
    ):
        # No end user: no ID token, no refresh token, and never the openid scope.
        wanted = [s for s in (scope or "").split() if s != "openid"]
        row = self.request.client.row
        resource = self.request.payload.data.get("resource") or None
        audience = None
        if resource and resource != self.ctx.issuer:
            # RFC 8707 §2: a token for the API, with only its scopes (by default all
            # of them that the client holds, RFC 6749 §3.3).
            try:
                target = api_resources.target_for(self.ctx.db, row, resource)
            except RESOURCE_ERRORS as exc:
                raise oauth_error(exc) from None
            wanted = wanted or sorted(target.scopes)
            foreign = sorted(set(wanted) - target.scopes)
            if foreign:
                raise InvalidScopeError(
                    description=f"Not scopes of {resource} held by this client: "
                    f"{' '.join(foreign)}."
                )
            audience = target.identifier
        else:
            apis = [s for s in wanted if s not in api_resources.GOVID_SCOPES]
            if apis:
                owner = api_resources.owners(self.ctx.db, apis[:1]).get(apis[0], "")
                raise InvalidScopeError(
                    description=f"'{apis[0]}' is a scope of the API {owner}: ask for it "
                    f"with resource={owner}."
                )
        registered = set(row.scopes or [])
        unregistered = sorted(set(wanted) - registered)
        if unregistered:
            # RFC 6749 §4.4.2, §5.2: never more than the client is registered for.
            raise InvalidScopeError(
                description=f"Not registered for this client: {' '.join(unregistered)}."
            )
        tctx = tokens.TokenContext(scope=" ".join(wanted), audience=audience)
        return self._token_response(self.request.client, tctx, None)
