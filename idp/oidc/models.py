"""Adapters that give our SQLAlchemy rows the shape Authlib's grants expect."""

from __future__ import annotations

import datetime as dt
from typing import Any

from authlib.oauth2.rfc6749 import AuthorizationCodeMixin, ClientMixin, TokenMixin
from authlib.oauth2.rfc6749.util import scope_to_list

from idp.clients import service as clients
from idp.clients.models import Client
from idp.tokens.models import AuthCode, RefreshToken
from idp.tokens.rotation import FamilyToken


class ClientAdapter(ClientMixin):
    def __init__(self, row: Client) -> None:
        self.row = row
        self.client_id = row.client_id

    # Authlib's RP-initiated logout endpoint reads registered URIs from here.
    @property
    def client_metadata(self) -> dict[str, Any]:
        return {"post_logout_redirect_uris": list(self.row.post_logout_redirect_uris or [])}

    def get_client_id(self) -> str:
        return self.row.client_id

    # Authlib's stubs say str; it treats None as "no default", which is the point here.
    def get_default_redirect_uri(self) -> None:  # type: ignore[override]
        # OIDC Core §3.1.2.1: redirect_uri is REQUIRED; never guess one.
        return None

    def get_allowed_scope(self, scope: str | None) -> str:  # type: ignore[override]  # Authlib passes None
        # RFC 6749 §3.3: the server may issue a narrower scope than requested.
        allowed = set(self.row.scopes or [])
        return " ".join(s for s in scope_to_list(scope or "") or [] if s in allowed)

    def check_redirect_uri(self, redirect_uri: str) -> bool:
        # RFC 9700 §4.1.3: exact string matching, no prefixes, no normalisation.
        return redirect_uri in (self.row.redirect_uris or [])

    def check_client_secret(self, client_secret: str) -> bool:
        return clients.check_secret(self.row, client_secret)

    def check_endpoint_auth_method(self, method: str, endpoint: str) -> bool:
        registered = self.row.token_endpoint_auth_method
        if endpoint == "introspection" and registered == "none":
            return False  # RFC 7662 §2.1: the caller must be authenticated
        return method == registered

    def check_response_type(self, response_type: str) -> bool:
        return response_type == "code" and "authorization_code" in (self.row.grant_types or [])

    def check_grant_type(self, grant_type: str) -> bool:
        return grant_type in (self.row.grant_types or [])

    @property
    def is_public(self) -> bool:
        return self.row.is_public


class AuthCodeAdapter(AuthorizationCodeMixin):
    def __init__(self, row: AuthCode) -> None:
        self.row = row
        self.code_challenge = row.code_challenge
        self.code_challenge_method = row.code_challenge_method

    def get_redirect_uri(self) -> str:
        return self.row.redirect_uri

    def get_scope(self) -> str:
        return self.row.scope

    def get_nonce(self) -> str | None:
        return self.row.nonce

    def get_auth_time(self) -> int:
        return int(self.row.auth_time.timestamp())

    def get_acr(self) -> str:
        return self.row.acr

    def get_amr(self) -> list[str]:
        return list(self.row.amr or [])


class RefreshTokenAdapter(TokenMixin):
    def __init__(self, row: RefreshToken | FamilyToken, now: dt.datetime) -> None:
        self.row = row
        self.now = now  # the request's Clock reading (DESIGN rule 4)

    def check_client(self, client: ClientAdapter) -> bool:
        return self.row.client_id == client.get_client_id()

    def get_scope(self) -> str:
        return self.row.scope

    def get_expires_in(self) -> int:
        return max(0, int((self.row.expires_at - self.now).total_seconds()))

    def is_expired(self) -> bool:
        return self.row.expires_at <= self.now

    def is_revoked(self) -> bool:
        return self.row.revoked_at is not None or self.row.used_at is not None


class AccessTokenRef(TokenMixin):
    """A validated (signature-checked) JWT access token, for revocation/introspection."""

    def __init__(self, claims: dict[str, Any], active: bool, now: float) -> None:
        self.claims = claims
        self.active = active
        self.now = now  # the request's Clock reading (DESIGN rule 4)

    def check_client(self, client: ClientAdapter) -> bool:
        return self.claims.get("client_id") == client.get_client_id()

    def get_scope(self) -> str:
        return self.claims.get("scope", "")

    def is_expired(self) -> bool:
        return self.claims.get("exp", 0) <= int(self.now)

    def is_revoked(self) -> bool:
        return not self.active
