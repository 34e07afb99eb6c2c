"""Revocation (RFC 7009), introspection (RFC 7662) and RP-initiated logout (OIDC
RP-Initiated Logout 1.0) as Authlib endpoint subclasses."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from authlib.oauth2.rfc6749 import InvalidRequestError
from authlib.oauth2.rfc7009 import RevocationEndpoint as _Revocation
from authlib.oauth2.rfc7662 import IntrospectionEndpoint as _Introspection
from authlib.oidc.rpinitiated import EndSessionEndpoint as _EndSession

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.audit import service as audit
from idp.clients.models import AUTH_METHODS, CONFIDENTIAL_METHODS
from idp.keys.service import InvalidToken
from idp.oidc.models import AccessTokenRef, ClientAdapter, RefreshTokenAdapter
from idp.resources import service as api_resources
from idp.tokens import liveness
from idp.tokens import service as tokens
from idp.tokens.models import Grant

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext


def find_token(ctx: OidcContext, value: str, hint: str | None):
    """An access token (JWT, signature checked) or a refresh token, or None."""
    if not isinstance(value, str) or not value or len(value) > 8192:
        return None
    # The hint only says where to look first (RFC 7009 §2.1, RFC 7662 §2.1: a wrong or
    # unknown hint must not hide a token); refresh tokens are never JWT-shaped.
    now = ctx.services.clock.time()
    if value.count(".") == 2:
        ahead = ctx.read_ahead
        if ahead is not None and ahead.token == value:
            return AccessTokenRef(ahead.claims, ahead.active, now) if ahead.claims else None
        try:
            verified = ctx.keys.verify(value)
        except InvalidToken:
            return None
        return AccessTokenRef(verified[1], access_token_live(ctx, value, verified), now)
    row = tokens.find_refresh_token(ctx.db, value)
    return RefreshTokenAdapter(row, ctx.services.clock.now()) if row else None


def access_token_live(ctx: OidcContext, value: str, verified) -> bool:
    """The signature checked once; grant, account, deny-list and client status in one
    statement (``idp.tokens.liveness``)."""
    try:
        checked = liveness.check(
            ctx.keys, value, issuer=ctx.issuer, now=ctx.services.clock.time(), verified=verified
        )
        liveness.read(ctx.db, checked)
    except liveness.TokenError:
        return False
    return True


class _AdvisoryHint:
    def check_params(self, request, client) -> None:
        # RFC 7009 §2.1 / RFC 7662 §2.1: token_type_hint is advisory; an unknown value is
        # ignored rather than answered with Authlib's 401 unsupported_token_type.
        if not request.form.get("token"):
            raise InvalidRequestError(description="The request has no 'token'.")


class RevocationEndpoint(_AdvisoryHint, _Revocation):
    CLIENT_AUTH_METHODS = list(AUTH_METHODS)

    @property
    def ctx(self) -> OidcContext:
        return self.server.ctx

    def query_token(self, token_string: str, token_type_hint: str | None):
        return find_token(self.ctx, token_string, token_type_hint)

    def revoke_token(self, token, request) -> None:
        if isinstance(token, AccessTokenRef):
            tokens.revoke_access_token(self.ctx.db, token.claims)
        else:
            # RFC 7009 §2.1: revoking a refresh token also invalidates the access tokens
            # of the same grant.
            tokens.revoke_grant(self.ctx.db, token.row.grant_id, "revoked_by_client")


class IntrospectionEndpoint(_AdvisoryHint, _Introspection):
    CLIENT_AUTH_METHODS = list(CONFIDENTIAL_METHODS)  # RFC 7662 §2.1: a protected resource

    @property
    def ctx(self) -> OidcContext:
        return self.server.ctx

    def query_token(self, token_string: str, token_type_hint: str | None):
        return find_token(self.ctx, token_string, token_type_hint)

    def check_permission(self, token, client: ClientAdapter, request) -> bool:
        # A client sees its own tokens. An API (its introspection client, RFC 7662 §2.1)
        # sees the access tokens issued for it, whose `aud` names it, and nothing else
        # (RFC 7662 §4: no token scanning; docs/decisions/0011-api-resources.md).
        if token.check_client(client):
            return True
        if client.row.resource_server and isinstance(token, AccessTokenRef):
            return api_resources.may_introspect(
                self.ctx.db, client.row.client_id, token.claims.get("aud")
            )
        return False

    def introspect_token(self, token) -> dict[str, Any]:
        out: dict[str, Any]
        if isinstance(token, AccessTokenRef):
            c = token.claims
            out = {
                k: c[k]
                for k in (
                    "scope",
                    "client_id",
                    "sub",
                    "exp",
                    "iat",
                    "jti",
                    "iss",
                    "aud",
                    "acr",
                    "auth_time",
                    "sid",
                    "agency",
                )
                if k in c
            }
            out["token_type"] = "Bearer"
            return out
        row = token.row
        grant = self.ctx.db.get(Grant, row.grant_id)
        if grant is None or grant.revoked_at is not None:
            return {"active": False}
        account = self.ctx.db.get(Account, grant.account_id)
        if account is None or account.status != "active":
            return {"active": False}
        out = {
            "scope": row.scope,
            "client_id": row.client_id,
            "sub": str(grant.account_id),
            "exp": int(row.expires_at.timestamp()),
            "iat": int(row.created_at.timestamp()),
            "iss": self.ctx.issuer,
            "token_type": "refresh_token",
        }
        if grant.acr:
            out["acr"] = grant.acr
        if grant.auth_time:
            out["auth_time"] = int(grant.auth_time.timestamp())
        out["agency"] = agencies.claim(account.agency)  # the access token's shape
        return out


class EndSessionEndpoint(_EndSession):
    """Validation only; the route ends the session (it owns the cookie)."""

    @property
    def ctx(self) -> OidcContext:
        return self.server.ctx

    def get_server_jwks(self):
        return self.ctx.keys.jwks()

    def _validate_id_token_hint(self, id_token_hint: str) -> dict:
        # RP-Initiated Logout §2: the OP must have issued it. Expired hints are fine.
        try:
            header, claims = self.ctx.keys.verify(id_token_hint)
        except InvalidToken as exc:
            raise InvalidRequestError("'id_token_hint' is not a valid ID token from us") from exc
        if claims.get("iss") != self.ctx.issuer or header.get("typ") not in (None, "JWT"):
            raise InvalidRequestError("'id_token_hint' was not issued by this provider")
        return claims

    def is_post_logout_redirect_uri_legitimate(
        self, request, post_logout_redirect_uri, client, logout_hint
    ) -> bool:
        # RP-Initiated Logout §2 allows client_id + post_logout_redirect_uri without an
        # id_token_hint. The URI is an exact registered match (§3, checked before this
        # hook), and the route ends a session without a valid hint only after the
        # person confirms (§6), so redirecting back afterwards is safe.
        return True

    def end_session(self, end_session_request) -> None:
        """The route does the work (it owns the cookie); see idp.oidc.routes.end_session."""


def audit_revocation(ctx: OidcContext, token, client: ClientAdapter | None) -> None:
    kind = "access_token" if isinstance(token, AccessTokenRef) else "refresh_token"
    details: dict[str, Any] = {"token_type": kind}
    if isinstance(token, AccessTokenRef):
        details["jti"] = token.claims.get("jti")
    audit.record(
        ctx.db,
        "oidc.token.revoked",
        actor=client.get_client_id() if client else None,
        client_id=client.get_client_id() if client else None,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        details=details,
    )
