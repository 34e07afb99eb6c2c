"""Authlib grant subclasses, one module per grant: authorization code (+PKCE, +OpenID),
refresh token with rotation and reuse detection, client credentials; client
authentication (HTTP Basic, private_key_jwt); what they share (``common``)."""

from idp.oidc.grants.authorization_code import (
    AuthorizationCodeGrant,
    GovIDOpenIDCode,
    S256CodeChallenge,
)
from idp.oidc.grants.client_auth import PrivateKeyJWT, authenticate_client_secret_basic
from idp.oidc.grants.client_credentials import ClientCredentialsGrant
from idp.oidc.grants.common import (
    ALL_AUTH_METHODS,
    CONFIDENTIAL_AUTH_METHODS,
    InvalidTargetError,
    audit_token_issued,
    oauth_error,
)
from idp.oidc.grants.refresh_token import RefreshTokenGrant

__all__ = [
    "ALL_AUTH_METHODS",
    "CONFIDENTIAL_AUTH_METHODS",
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "GovIDOpenIDCode",
    "InvalidTargetError",
    "PrivateKeyJWT",
    "RefreshTokenGrant",
    "S256CodeChallenge",
    "audit_token_issued",
    "authenticate_client_secret_basic",
    "oauth_error",
]
