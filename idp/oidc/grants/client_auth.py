"""Client authentication at the token endpoints beyond Authlib's own: HTTP Basic read as
RFC 6749 §2.3.1 says, and private_key_jwt (RFC 7523) with a replay cache of its jti."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
from typing import TYPE_CHECKING, cast
from urllib.parse import unquote_plus

from authlib.oauth2.rfc6749 import InvalidClientError
from authlib.oauth2.rfc7523 import JWTBearerClientAssertion
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, KeySetSerialization
from sqlalchemy.exc import IntegrityError

from idp.crypto import sha256_hex
from idp.db import utcnow
from idp.oidc.models import ClientAdapter
from idp.tokens.models import ReplayEntry

if TYPE_CHECKING:
    from idp.oidc.context import OidcContext


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

    # The method's registered name (RFC 7523 §2.2), set per subclass as Authlib documents;
    # its stubs mark the attribute Final.
    CLIENT_AUTH_METHOD = "private_key_jwt"  # type: ignore[misc]

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
            return KeySet.import_key_set(cast(KeySetSerialization, jwks))
        except (ValueError, TypeError, KeyError, JoseError) as exc:
            raise InvalidClientError(description="The client's keys cannot be used.") from exc

    def authenticate_client(self, client):
        return client

    def validate_jti(self, claims: dict, jti: str) -> bool:
        key = f"pkjwt:{sha256_hex(str(claims.get('iss')) + '|' + str(jti))}"
        exp = claims.get("exp")
        # Kept until the assertion itself expires (RFC 7523 §3 item 7), whatever JSON
        # number `exp` is; a fractional exp must not shorten the memory of the jti.
        # The system clock, not the Clock: Authlib checked the assertion's exp against
        # it (joserfc), and the memory of its jti must not end before that check would
        # refuse it (decision 0025).
        now = expires = utcnow()
        if isinstance(exp, int | float) and not isinstance(exp, bool):
            try:
                expires = max(expires, dt.datetime.fromtimestamp(exp, dt.UTC))
            except (OverflowError, OSError, ValueError):
                expires = dt.datetime(9999, 1, 1, tzinfo=dt.UTC)
        db = self.ctx.db
        existing = db.get(ReplayEntry, key)
        if existing is not None:
            return existing.expires_at <= now and _refresh_entry(existing, expires)
        try:
            with db.begin_nested():
                db.add(ReplayEntry(key=key, expires_at=expires + dt.timedelta(seconds=60)))
        except IntegrityError:
            return False
        return True


def _refresh_entry(entry: ReplayEntry, expires: dt.datetime) -> bool:
    entry.expires_at = expires + dt.timedelta(seconds=60)
    return True
