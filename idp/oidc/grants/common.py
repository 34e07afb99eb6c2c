"""What the grants share: the request's context, RFC 8707 resource targets, the token
response, and the issued token's audit event (group commit or the request's own
transaction)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from anyio import NoEventLoopError, from_thread
from authlib.oauth2.rfc6749 import InvalidScopeError, OAuth2Error

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.audit.batch import PgAsyncBatcher
from idp.clients.models import AUTH_METHODS, CONFIDENTIAL_METHODS
from idp.oidc.models import ClientAdapter
from idp.resources import service as api_resources
from idp.tokens import service as tokens
from idp.tokens.rotation import FamilyAccount

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext

ALL_AUTH_METHODS = list(AUTH_METHODS)
CONFIDENTIAL_AUTH_METHODS = list(CONFIDENTIAL_METHODS)  # client_credentials: no public client


class InvalidTargetError(OAuth2Error):
    """RFC 8707 §2: the requested resource is invalid, unknown or not for this client."""

    error = "invalid_target"


def oauth_error(exc: api_resources.InvalidTarget | api_resources.InvalidScope) -> OAuth2Error:
    """The protocol form of a resource rule's refusal."""
    if isinstance(exc, api_resources.InvalidTarget):
        return InvalidTargetError(description=exc.message)
    return InvalidScopeError(description=exc.message)


RESOURCE_ERRORS = (api_resources.InvalidTarget, api_resources.InvalidScope)


class CtxMixin:
    server: Any
    request: Any

    @property
    def ctx(self) -> OidcContext:
        return self.server.ctx

    def _for_resource(self, scope: str, granted: list[str] | None) -> tuple[str | None, str]:
        """The audience and access-token scope for the request's ``resource`` (RFC 8707
        §2.2): none or GovID's issuer keeps today's token (GovID's scopes only); an API
        of the authorization request gets a token for it with only its scopes."""
        resource = self.request.payload.data.get("resource") or None
        try:
            return api_resources.token_target(
                self.ctx.db if resource else None,
                self.request.client.row,
                resource,
                scope,
                issuer=self.ctx.issuer,
                granted=granted,
            )
        except RESOURCE_ERRORS as exc:
            raise oauth_error(exc) from None

    def _token_response(
        self, client: ClientAdapter, tctx: tokens.TokenContext, refresh: str | None
    ) -> dict[str, Any]:
        lifetime = client.row.access_token_ttl or self.ctx.settings.access_token_ttl
        at, claims = tokens.issue_access_token(
            self.ctx.keys,
            issuer=self.ctx.issuer,
            client=client.row,
            ctx=tctx,
            lifetime=lifetime,
            now=self.ctx.services.clock.now(),
            alg=self.ctx.settings.access_token_alg,
        )
        self.request.govid.at_claims = claims
        body = {
            "access_token": at,
            "token_type": "Bearer",
            "expires_in": lifetime,
            "scope": tctx.scope,
        }
        if refresh:
            body["refresh_token"] = refresh
        return body


def signed_in_context(grant, account, scope: str, audience) -> tokens.TokenContext:
    """What a token issued on a person's grant carries (the code exchange and a refresh):
    the grant's acr, amr, auth_time and sid."""
    return tokens.TokenContext(
        scope=scope,
        account=account,
        grant=grant,
        acr=grant.acr,
        amr=tuple(grant.amr or ()),
        auth_time=grant.auth_time,
        sid=grant.sid,
        audience=audience,
    )


def group_commit_from_thread(ctx: OidcContext) -> bool:
    """Whether this request (a thread-pool call of a server with a PostgreSQL
    group-commit writer) can hand its token's audit event to that writer. On SQLite the
    writer would wait for the write lock this request's transaction holds."""
    return ctx.pending_audit is None and isinstance(ctx.services.audit_batcher, PgAsyncBatcher)


def commit_from_thread(ctx: OidcContext, events: list) -> None:
    """Commit ``events`` through the group-commit writer on the server's event loop and
    wait for it; outside an AnyIO worker thread (no loop to go back to), append them in
    this request's transaction as before."""
    try:
        from_thread.run(ctx.services.audit_batcher.commit, events)
    except NoEventLoopError:
        audit.append(ctx.db, events)


def audit_token_issued(ctx: OidcContext, request, token: dict[str, Any]) -> None:
    claims = request.govid.at_claims or {}
    user = request.user
    ev = audit.new_event(
        "oidc.token.issued",
        actor=request.client.get_client_id() if request.client else None,
        agency_id=getattr(user, "agency_id", None),
        subject=str(user.id) if isinstance(user, Account | FamilyAccount) else None,
        client_id=request.client.get_client_id() if request.client else None,
        session_id=claims.get("sid"),
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        details={
            "grant_type": request.payload.grant_type,
            "scope": token.get("scope"),
            "jti": claims.get("jti"),
            "refresh": "refresh_token" in token,
            **({"resource": claims["aud"]} if claims.get("aud", ctx.issuer) != ctx.issuer else {}),
        },
    )
    if ctx.pending_audit is not None:
        ctx.pending_audit.append(ev)  # inline request: the route commits it, then answers
    elif request.govid.audit_last:
        request.govid.audit_events = [ev]  # appended after the ID token (process_token)
    else:
        audit.append(ctx.db, [ev])  # commits or rolls back with what the grant wrote
