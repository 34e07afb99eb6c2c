"""The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700
§4.14.2): a rotated token presented again revokes its whole family.

Two ways through the same grant (decision 0026). On PostgreSQL the token endpoint runs it
on the event loop (``idp.oidc.routes.token``): the token's family was read there
(``ctx.refresh_ahead``, ``idp.tokens.rotation``), nothing touches a session, and the
rotation is left on the request (``govid.rotation``) for the route to hand to the audit
group commit with the token's event. Anything else (SQLite, a presented token that was
already rotated, a client not in the cache, ``resource``, private_key_jwt) raises
``NeedsDatabase`` before anything was written, and the thread path runs the grant with a
transaction, as below."""

from __future__ import annotations

from authlib.oauth2.rfc6749 import InvalidGrantError, grants

from idp.oidc.context import NeedsDatabase
from idp.oidc.grants.common import (
    ALL_AUTH_METHODS,
    CtxMixin,
    commit_from_thread,
    group_commit_from_thread,
    signed_in_context,
)
from idp.oidc.models import ClientAdapter, RefreshTokenAdapter
from idp.tokens import rotation
from idp.tokens import service as tokens


class RefreshTokenGrant(CtxMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str):
        if not self.ctx.has_db:
            return self._family_read_ahead(refresh_token)
        db = self.ctx.db
        found = tokens.find_refresh_family(db, refresh_token)
        if found is None:
            return None
        row, grant, account = found
        if row.used_at is not None:
            # RFC 9700 §4.14.2: a rotated token came back: someone has a copy. Revoke
            # the whole family so neither party can continue.
            tokens.revoke_grant(
                db,
                row.grant_id,
                "refresh_reuse",
                audit_type="oidc.refresh.reused",
                client_id=row.client_id,
            )
            return None
        now = self.ctx.services.clock.now()
        if row.revoked_at or row.expires_at <= now or grant is None or grant.revoked_at:
            return None
        self.request.govid.grant = grant
        self.request.govid.account = account  # read with the token (one statement)
        return RefreshTokenAdapter(row, now)

    def _family_read_ahead(self, refresh_token: str):
        """The inline path: the family read on the loop, decided as above."""
        ahead = self.ctx.refresh_ahead
        if ahead is None or ahead.value != refresh_token:
            raise NeedsDatabase
        family = ahead.family
        if family is None:
            return None  # unknown token
        row, grant = family.token, family.grant
        if row.used_at is not None:
            raise NeedsDatabase  # reuse: the thread path revokes the family
        now = self.ctx.services.clock.now()
        if row.revoked_at or row.expires_at <= now or grant is None or grant.revoked_at:
            return None
        self.request.govid.grant = grant
        self.request.govid.account = family.account
        return RefreshTokenAdapter(row, now)

    def authenticate_user(self, refresh_token: RefreshTokenAdapter):
        account = self.request.govid.account
        if account is None or account.status != "active":
            raise InvalidGrantError("The account behind this refresh token is not active.")
        return account

    # Authlib's hooks are typed with its mixins; GovID's adapters are those mixins.
    def issue_token(self, user, refresh_token: RefreshTokenAdapter):  # type: ignore[override]
        grant = self.request.govid.grant
        client: ClientAdapter = self.request.client
        # RFC 6749 §6: the new refresh token keeps the original scope; the access token
        # may be narrowed by the request (checked by Authlib to be a subset).
        scope = self.request.payload.scope or refresh_token.get_scope()
        audience, scope = self._for_resource(scope, grant.resources)
        lifetime = client.row.refresh_token_ttl or self.ctx.settings.refresh_token_ttl
        now = self.ctx.services.clock.now()
        if self.ctx.has_db:
            refresh = tokens.issue_refresh_token(
                self.ctx.db,
                grant=grant,
                client=client.row,
                scope=refresh_token.get_scope(),
                lifetime=lifetime,
                now=now,
                rotated_from=refresh_token.row.id,
            )
        else:  # written by the route, in the group commit's transaction
            ahead = self.ctx.refresh_ahead
            assert ahead is not None and ahead.family is not None  # _family_read_ahead
            refresh, self.request.govid.rotation = rotation.new_rotation(
                ahead.family,
                client_id=client.get_client_id(),
                scope=refresh_token.get_scope(),
                lifetime=lifetime,
                now=now,
            )
        tctx = signed_in_context(grant, user, scope, audience)
        body = self._token_response(client, tctx, refresh)
        if group_commit_from_thread(self.ctx):
            # Authlib calls save_token next: the token's audit event waits there for the
            # group-commit writer (revoke_old_credential) instead of going into this
            # transaction, where it held the audit chain's advisory lock from the append
            # to this transaction's COMMIT: that serialised every refresh of every
            # process (decision 0014).
            self.ctx.pending_audit = []
        return body

    def revoke_old_credential(self, refresh_token: RefreshTokenAdapter) -> None:  # type: ignore[override]
        # Authlib calls this after save_token, before the answer leaves.
        ctx = self.ctx
        if not ctx.has_db:
            return  # the route's guarded commit marks it used (govid.rotation)
        events, ctx.pending_audit = ctx.pending_audit, None
        if not tokens.mark_refresh_used(ctx.db, refresh_token.row.id, ctx.services.clock.now()):
            # Somebody rotated it first: this token is not issued, its event is dropped.
            tokens.revoke_grant(
                self.ctx.db,
                refresh_token.row.grant_id,
                "refresh_reuse",
                audit_type="oidc.refresh.reused",
                client_id=refresh_token.row.client_id,
            )
            raise InvalidGrantError("Refresh token was already used.")
        if events:
            # Committed (group commit, on the event loop) before this transaction commits
            # and before the answer: no token leaves unaudited. If the audit commit fails,
            # this raises and the rotation rolls back (the old refresh token stays valid);
            # if the rotation's own COMMIT then fails, the log holds an event for a token
            # that was never sent (the safe side).
            commit_from_thread(ctx, events)
