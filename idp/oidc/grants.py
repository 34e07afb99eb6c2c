"""Authlib grant subclasses: authorization code (+PKCE, +OpenID), refresh token with
rotation and reuse detection, client credentials, and private_key_jwt client auth."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hmac
import uuid
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from anyio import NoEventLoopError, from_thread
from authlib.oauth2.rfc6749 import (
    InvalidClientError,
    InvalidGrantError,
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    grants,
)
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from authlib.oauth2.rfc7636 import CodeChallenge, create_s256_code_challenge
from authlib.oidc.core import OpenIDCode
from authlib.oidc.core.grants.util import is_openid_scope, validate_nonce
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.audit.batch import PgAsyncBatcher
from idp.clients.models import AUTH_METHODS, CONFIDENTIAL_METHODS
from idp.crypto import random_token, sha256_hex
from idp.db import insert_values, utcnow
from idp.oidc import claims as oidc_claims
from idp.oidc.models import AuthCodeAdapter, ClientAdapter, RefreshTokenAdapter
from idp.resources import service as api_resources
from idp.tokens import service as tokens
from idp.tokens.models import AuthCode, ReplayEntry

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


class _CtxMixin:
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
        # The token's audit event, kept back by audit_token_issued: appending takes the
        # audit chain's lock until this transaction's COMMIT, which no longer waits for
        # the ID token's RS256 signature (decision 0014). Still in the transaction that
        # issues the tokens, before the answer.
        events = grant.request.govid.audit_events
        if events:
            audit.append(grant.ctx.db, events)
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


class AuthorizationCodeGrant(_CtxMixin, grants.AuthorizationCodeGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS

    def generate_authorization_code(self) -> str:
        return random_token(32)

    def save_authorization_code(self, code: str, request) -> None:
        user = request.user  # idp.oidc.authorize.AuthenticatedUser
        data = request.payload.data
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
                "expires_at": utcnow() + dt.timedelta(seconds=self.ctx.settings.auth_code_ttl),
            },
        )

    def query_authorization_code(self, code: str, client: ClientAdapter):
        db = self.ctx.db
        code_hash = sha256_hex(code)
        # Single use (RFC 6749 §4.1.2): the UPDATE is the lock, so two concurrent
        # redemptions cannot both win; RETURNING reads the row in the same statement.
        # The claim also names the grant this redemption will create, so a replay can
        # revoke what it issued (§4.1.2, RFC 9700 §4.5.3.1) without a second UPDATE. If
        # the redemption then fails (PKCE, redirect_uri, account), that grant is never
        # created and a replay revokes nothing (it is still audited).
        grant_id = uuid.uuid4()
        row = db.scalars(
            update(AuthCode)
            .where(
                AuthCode.code_hash == code_hash,
                AuthCode.client_id == client.get_client_id(),
                AuthCode.used_at.is_(None),
            )
            .values(used_at=utcnow(), grant_id=grant_id)
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
        if row.expires_at <= utcnow():
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
            )
        tctx = tokens.TokenContext(
            scope=at_scope,
            account=user,
            grant=grant,
            acr=grant.acr,
            amr=tuple(grant.amr or ()),
            auth_time=grant.auth_time,
            sid=grant.sid,
            audience=audience,
        )
        return self._token_response(client, tctx, refresh)


class RefreshTokenGrant(_CtxMixin, grants.RefreshTokenGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = ALL_AUTH_METHODS
    INCLUDE_NEW_REFRESH_TOKEN = True

    def authenticate_refresh_token(self, refresh_token: str):
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
        if row.revoked_at or row.expires_at <= utcnow() or grant is None or grant.revoked_at:
            return None
        self.request.govid.grant = grant
        self.request.govid.account = account  # read with the token (one statement)
        return RefreshTokenAdapter(row)

    def authenticate_user(self, refresh_token: RefreshTokenAdapter):
        account = self.request.govid.account
        if account is None or account.status != "active":
            raise InvalidGrantError("The account behind this refresh token is not active.")
        return account

    def issue_token(self, user, refresh_token: RefreshTokenAdapter):
        grant = self.request.govid.grant
        client: ClientAdapter = self.request.client
        # RFC 6749 §6: the new refresh token keeps the original scope; the access token
        # may be narrowed by the request (checked by Authlib to be a subset).
        scope = self.request.payload.scope or refresh_token.get_scope()
        audience, scope = self._for_resource(scope, grant.resources)
        refresh = tokens.issue_refresh_token(
            self.ctx.db,
            grant=grant,
            client=client.row,
            scope=refresh_token.get_scope(),
            lifetime=client.row.refresh_token_ttl or self.ctx.settings.refresh_token_ttl,
            rotated_from=refresh_token.row.id,
        )
        tctx = tokens.TokenContext(
            scope=scope,
            account=user,
            grant=grant,
            acr=grant.acr,
            amr=tuple(grant.amr or ()),
            auth_time=grant.auth_time,
            sid=grant.sid,
            audience=audience,
        )
        body = self._token_response(client, tctx, refresh)
        if _group_commit_from_thread(self.ctx):
            # Authlib calls save_token next: the token's audit event waits there for the
            # group-commit writer (revoke_old_credential) instead of going into this
            # transaction, where it held the audit chain's advisory lock from the append
            # to this transaction's COMMIT: that serialised every refresh of every
            # process (decision 0014).
            self.ctx.pending_audit = []
        return body

    def revoke_old_credential(self, refresh_token: RefreshTokenAdapter) -> None:
        # Authlib calls this after save_token, before the answer leaves.
        ctx = self.ctx
        events, ctx.pending_audit = ctx.pending_audit, None
        if not tokens.mark_refresh_used(ctx.db, refresh_token.row):
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
            _commit_from_thread(ctx, events)


class ClientCredentialsGrant(_CtxMixin, grants.ClientCredentialsGrant):
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


def authenticate_client_secret_basic(query_client, request):
    """RFC 6749 §2.3.1: the client id and secret in HTTP Basic are form-urlencoded first
    (Appendix B: a space is ``+``); Authlib's own reader percent-decodes only."""
    auth = request.headers.get("Authorization") or ""
    kind, _, value = auth.partition(" ")
    if kind.lower() != "basic" or not value:
        return None
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    client_id, sep, secret = decoded.partition(":")
    client_id, secret = unquote_plus(client_id), unquote_plus(secret)
    if not sep or not client_id or not secret:
        return None
    client = query_client(client_id)
    if client is None:
        raise InvalidClientError(status_code=401, description="The client does not exist.")
    return client if client.check_client_secret(secret) else None


class PrivateKeyJWT(JWTBearerClientAssertion):
    """RFC 7523 §2.2 / OIDC Core §9 private_key_jwt, with jti replay protection."""

    CLIENT_AUTH_METHOD = "private_key_jwt"

    def __init__(self, server) -> None:
        super().__init__(validate_jti=True, leeway=30)
        self.server = server

    @property
    def ctx(self) -> OidcContext:
        return self.server.ctx

    def get_audiences(self) -> list[str]:
        return [self.ctx.endpoint("/token"), self.ctx.issuer]

    def resolve_client_public_key(self, client: ClientAdapter):
        # A client without registered keys cannot use private_key_jwt: invalid_client
        # (RFC 7523 §3.2), not an unhandled error from importing an empty key set.
        jwks = client.row.jwks or {}
        if not jwks.get("keys"):
            raise InvalidClientError(description="The client has no registered keys.")
        try:
            return KeySet.import_key_set(jwks)
        except (ValueError, TypeError, KeyError, JoseError) as exc:
            raise InvalidClientError(description="The client's keys cannot be used.") from exc

    def authenticate_client(self, client):
        return client

    def validate_jti(self, claims: dict, jti: str) -> bool:
        key = f"pkjwt:{sha256_hex(str(claims.get('iss')) + '|' + str(jti))}"
        exp = claims.get("exp")
        # Kept until the assertion itself expires (RFC 7523 §3 item 7), whatever JSON
        # number `exp` is; a fractional exp must not shorten the memory of the jti.
        expires = utcnow()
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            try:
                expires = max(expires, dt.datetime.fromtimestamp(exp, dt.UTC))
            except (OverflowError, OSError, ValueError):
                expires = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
        db = self.ctx.db
        existing = db.get(ReplayEntry, key)
        if existing is not None:
            return existing.expires_at <= utcnow() and _refresh_entry(existing, expires)
        try:
            with db.begin_nested():
                db.add(ReplayEntry(key=key, expires_at=expires + dt.timedelta(seconds=60)))
        except IntegrityError:
            return False
        return True


def _refresh_entry(entry: ReplayEntry, expires: dt.datetime) -> bool:
    entry.expires_at = expires + dt.timedelta(seconds=60)
    return True


def _group_commit_from_thread(ctx: OidcContext) -> bool:
    """Whether this request (a thread-pool call of a server with a PostgreSQL
    group-commit writer) can hand its token's audit event to that writer. On SQLite the
    writer would wait for the write lock this request's transaction holds."""
    return ctx.pending_audit is None and isinstance(ctx.services.audit_batcher, PgAsyncBatcher)


def _commit_from_thread(ctx: OidcContext, events: list) -> None:
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
        subject=str(user.id) if isinstance(user, Account) else None,
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
