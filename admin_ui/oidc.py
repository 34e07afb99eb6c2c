"""GovID as the console's OpenID Provider: Authlib's Starlette client (code + PKCE, state,
nonce, ID token checks), refresh, and back-channel logout token validation."""

from __future__ import annotations

import time
from typing import Any

import httpx
from authlib.integrations.starlette_client import OAuth
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from admin_ui.config import Settings

BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
LOGOUT_TOKEN_MAX_AGE = 300  # seconds; GovID's logout tokens live 120 s
CLOCK_SKEW = 60


class LogoutTokenError(ValueError):
    """A logout token that must not end anything (Back-Channel Logout 1.0 §2.6)."""


def make_oauth(settings: Settings) -> Any:
    oauth = OAuth()
    oauth.register(
        "govid",
        client_id=settings.client_id,
        client_secret=settings.client_secret,
        server_metadata_url=f"{settings.issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": settings.scopes,
            "code_challenge_method": "S256",  # PKCE (RFC 7636) on top of the secret
            "token_endpoint_auth_method": "client_secret_basic",
            "timeout": settings.http_timeout,
        },
    )
    return oauth.govid


async def refresh(settings: Settings, client: Any, refresh_token: str) -> dict | None:
    """A new access token from the refresh token (rotated by GovID); None if refused."""
    meta = await client.load_server_metadata()
    async with httpx.AsyncClient(timeout=settings.http_timeout) as http:
        r = await http.post(
            meta["token_endpoint"],
            data={"grant_type": "refresh_token", "refresh_token": refresh_token},
            auth=(settings.client_id, settings.client_secret),
        )
    if r.status_code != 200:
        return None
    return r.json()


def validate_logout_token(
    token: str, keys: KeySet, *, issuer: str, client_id: str, now: float | None = None
) -> dict:
    """OIDC Back-Channel Logout 1.0 §2.6: signature by the OP's keys, iss, aud, iat/exp,
    the back-channel event, sid or sub, never a nonce. Returns the claims."""
    now = time.time() if now is None else now
    try:
        # Asymmetric algorithms only: a token "signed" with none or HS256 is refused.
        decoded = jwt.decode(token, keys, algorithms=["RS256", "ES256", "PS256", "EdDSA"])
    except (JoseError, ValueError) as exc:
        raise LogoutTokenError(f"signature or format: {exc.__class__.__name__}") from exc
    typ = decoded.header.get("typ")
    if typ is not None and typ.lower() not in ("logout+jwt", "application/logout+jwt"):
        raise LogoutTokenError("typ is not logout+jwt")  # §2.4: explicit typing
    c = decoded.claims
    if c.get("iss") != issuer:
        raise LogoutTokenError("iss")
    aud = c.get("aud")
    if not (aud == client_id or (isinstance(aud, list) and client_id in aud)):
        raise LogoutTokenError("aud")
    iat = c.get("iat")
    if (
        not isinstance(iat, int | float)
        or iat > now + CLOCK_SKEW
        or iat < now - LOGOUT_TOKEN_MAX_AGE
    ):
        raise LogoutTokenError("iat")
    exp = c.get("exp")
    if exp is not None and (not isinstance(exp, int | float) or exp < now - CLOCK_SKEW):
        raise LogoutTokenError("exp")
    events = c.get("events")
    if not isinstance(events, dict) or not isinstance(events.get(BACKCHANNEL_EVENT), dict):
        raise LogoutTokenError("events")
    if "nonce" in c:
        raise LogoutTokenError("nonce")  # §2.4: a logout token is not an ID token
    if not c.get("jti"):
        raise LogoutTokenError("jti")
    if not isinstance(c.get("sid"), str) or not c["sid"]:
        # GovID always sends sid; the console keys its sessions by it and asks for it.
        raise LogoutTokenError("sid")
    return c


async def logout_token_claims(settings: Settings, client: Any, token: str) -> dict:
    """Validate against GovID's JWKS, fetched again once when the key is not known (key
    rotation)."""
    keys = KeySet.import_key_set(await client.fetch_jwk_set())
    try:
        return validate_logout_token(
            token, keys, issuer=settings.issuer, client_id=settings.client_id
        )
    except LogoutTokenError as exc:
        if not str(exc).startswith("signature"):
            raise
    keys = KeySet.import_key_set(await client.fetch_jwk_set(force=True))
    return validate_logout_token(token, keys, issuer=settings.issuer, client_id=settings.client_id)
