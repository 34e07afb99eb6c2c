"""The authorization code grant (RFC 6749 §4.1) with PKCE S256 (RFC 7636) and OpenID
Connect's ID token (OIDC Core §3.1.3): single-use codes whose replay revokes what they
issued."""

from __future__ import annotations

import datetime as dt
import hmac
import uuid
from typing import TYPE_CHECKING

from authlib.oauth2.rfc6749 import InvalidRequestError, grants
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.grants.util import is_openid_scope, validate_nonce
from sqlalchemy import update

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.crypto import random_token, sha256_hex
from idp.db import insert_values
from idp.oidc import claims as oidc_claims
from idp.oidc.grants.common import (
    ALL_AUTH_METHODS,
    CtxMixin,
    commit_from_thread,
    group_commit_from_thread,
    signed_in_context,
)
from idp.oidc.models import AuthCodeAdapter, ClientAdapter
from idp.tokens import service as tokens
from idp.tokens.models import AuthCode

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext


class S256CodeChallenge(CodeChallenge):
    """PKCE (RFC 7636) with S256 only; required for public clients (RFC 9700 §2.1.1)."""

    SUPPORTED_CODE_CHALLENGE_METHOD = ["S256"]
    CODE_CHALLENGE_METHODS = {
        "S256": lambda verifier, challenge: hmac.compare_digest(
            create_s256_code_challenge(verifier).encode(), challenge.encode()
        )
    }

    def validate_code_challenge(self, grant, redirect_uri):
        data = grant.request.payload.data
        challenge, method = data.get("code_challenge"), data.get("code_challenge_method")
        if not challenge and grant.request.client.is_public:
            raise InvalidRequestError("Public clients must use PKCE: 'code_challenge' is missing.")
        if challenge and method != "S256":
            # RFC 7636 §4.3: an absent method means "plain", which we do not offer.
            raise InvalidRequestError("'code_challenge_method' must be S256.")
        return super().validate_code_challenge(grant, redirect_uri)


class GovIDOpenIDCode(OpenIDCode):
    """ID tokens signed with our key ring. Prompt handling lives in the authorize route."""

    def exists_nonce(self, nonce, request) -> bool:
        return False  # the RP checks nonce binding (OIDC Core §3.1.3.7 step 11)

    def __call__(self, grant):
        grant.register_hook("after_create_token_response", self.process_token)
        if is_openid_scope(grant.request.payload.scope):
            grant.register_hook(
                "after_validate_authorization_request_payload",
                lambda g, _uri: validate_nonce(g.request, self.exists_nonce, False),
            )

    def process_token(self, grant, response):
        # The ID token follows the authorization's scope, not the access token's: a token
        # for an API carries only the API's scopes (RFC 8707), yet the sign-in was openid.
        _, token, _ = response
        if is_openid_scope(grant.request.authorization_code.get_scope()):
            token["id_token"] = self.encode_id_token(token, grant.request)
        # The token's audit event, kept back by audit_token_issued until the ID token is
        # signed. On PostgreSQL it goes to the group-commit writer, as a refresh's does
        # (refresh_token.revoke_old_credential): committed before this transaction and
        # before the answer, and this transaction never takes the audit chain's lock
        # (decision 0014). Elsewhere it is appended in this transaction, which then holds
        # the lock to its COMMIT.
        events = grant.request.govid.audit_events
        if events:
            ctx = grant.ctx
            if group_commit_from_thread(ctx):
                commit_from_thread(ctx, events)
            else:
                audit.append(ctx.db, events)
        return token

    def encode_id_token(self, token, request):
        ctx: OidcContext = request.govid.ctx
        grant = request.govid.grant
        client: ClientAdapter = request.client
        return oidc_claims.build_id_token(
            ctx,
            client=client.row,
            account=request.user,
            grant=grant,
            nonce=request.authorization_code.get_nonce(),
            access_token=token.get("access_token"),
        )


class AuthorizationCodeGrant(CtxMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return random_token(32)

    def save_authorization_code(self, code: str, request) -> None:
        user = request.user  # idp.oidc.authorize.AuthenticatedUser
        data = request.payload.data
        now = self.ctx.services.clock.now()
        # A Core INSERT: the code is only read when it is redeemed, by another request
        # (the ORM's flush cost more than the statement; decision 0009).
        insert_values(
            self.ctx.db,
            AuthCode,
            {
                "code_hash": sha256_hex(code),
                "client_id": request.client.get_client_id(),
                "account_id": user.account.id,
                "sid": user.sid,
                "redirect_uri": request.payload.redirect_uri,
                "scope": request.scope,
                "nonce": data.get("nonce"),
                "code_challenge": data.get("code_challenge"),
                "code_challenge_method": data.get("code_challenge_method"),
                "acr": user.acr,
                "amr": list(user.amr),
                "auth_time": user.auth_time,
                "claims": request.govid.claims,
                "resources": request.govid.resources or None,
                "created_at": now,
                "expires_at": now + dt.timedelta(seconds=self.ctx.settings.auth_code_ttl),
            },
        )

    # Authlib's hooks are typed with its mixins; GovID's adapters are those mixins.
    def query_authorization_code(self, code: str, client: ClientAdapter):  # type: ignore[override]
        db = self.ctx.db
        code_hash = sha256_hex(code)
        # Single use (RFC 6749 §4.1.2): the UPDATE is the lock, so two concurrent
        # redemptions cannot both win; RETURNING reads the row in the same statement.
        # The claim also names the grant this redemption will create, so a replay can
        # revoke what it issued (§4.1.2, RFC 9700 §4.5.3.1) without a second UPDATE. If
        # the redemption then fails (PKCE, redirect_uri, account), that grant is never
        # created and a replay revokes nothing (it is still audited).
        grant_id = uuid.uuid4()
        now = self.ctx.services.clock.now()
        row = db.scalars(
            update(AuthCode)
            .where(
                AuthCode.code_hash == code_hash,
                AuthCode.client_id == client.get_client_id(),
                AuthCode.used_at.is_(None),
            )
            .values(used_at=now, grant_id=grant_id)
            .returning(AuthCode)
        ).one_or_none()
        if row is None:
            row = db.get(AuthCode, code_hash)
            if row is None or row.client_id != client.get_client_id():
                return None  # unknown, or another client's (which may still redeem it)
            if row.grant_id:
                # RFC 6749 §4.1.2: a replayed code revokes what it issued.
                tokens.revoke_grant(
                    db,
                    row.grant_id,
                    "code_replay",
                    audit_type="oidc.code.replayed",
                    client_id=row.client_id,
                )
            return None
        if row.expires_at <= now:
            return None
        self.request.govid.code_row = row
        return AuthCodeAdapter(row)

    def delete_authorization_code(self, authorization_code) -> None:
        """Kept (used) until expiry so a replay can be recognised; purged later."""

    def authenticate_user(self, authorization_code: AuthCodeAdapter):
        row = authorization_code.row
        account = self.ctx.db.get(Account, row.account_id)
        if account is None or account.status != "active":
            return None
        grant = tokens.create_grant(
            self.ctx.db,
            client=self.request.client.row,
            account=account,
            scope=row.scope,
            sid=row.sid,
            acr=row.acr,
            amr=list(row.amr or []),
            auth_time=row.auth_time,
            claims=row.claims,
            lifetime=self.ctx.settings.refresh_token_ttl,
            now=self.ctx.services.clock.now(),
            grant_id=row.grant_id,  # named when the code was claimed
            resources=row.resources,
        )
        self.request.govid.grant = grant
        self.request.govid.ctx = self.ctx
        return account

    def generate_token(
        self, user=None, scope=None, grant_type=None, expires_in=None, include_refresh_token=True
    ):
        grant = self.request.govid.grant
        client: ClientAdapter = self.request.client
        self.request.govid.audit_last = True  # see GovIDOpenIDCode.process_token
        audience, at_scope = self._for_resource(scope or "", grant.resources)
        refresh = None
        if include_refresh_token:
            refresh = tokens.issue_refresh_token(
                self.ctx.db,
                grant=grant,
                client=client.row,
                scope=scope,
                lifetime=client.row.refresh_token_ttl or self.ctx.settings.refresh_token_ttl,
                now=self.ctx.services.clock.now(),
            )
        tctx = signed_in_context(grant, user, at_scope, audience)
        return self._token_response(client, tctx, refresh)
