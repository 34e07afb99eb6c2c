"""HMAC-signed, expiring blobs (interaction state, CSRF tokens) keyed by IDP_SECRET_KEY.

Given several secrets (``Settings.secret_keys``: IDP_SECRET_KEY then
IDP_SECRET_KEY_PREVIOUS), the first signs and every one verifies, so a key rotation does
not invalidate steps and cookies signed just before it."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Sequence
from typing import Any

from idp.clock import Clock, SystemClock


class BadSignature(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class Signer:
    def __init__(
        self, secret: str | Sequence[str], purpose: str, clock: Clock | None = None
    ) -> None:
        secrets = (secret,) if isinstance(secret, str) else tuple(secret)
        self.clock = clock or SystemClock()  # judges the expiry (Services.clock)
        self._keys = [hashlib.sha256(f"govid/{purpose}/{s}".encode()).digest() for s in secrets]

    def _mac(self, body: str, key: bytes | None = None) -> str:
        key = self._keys[0] if key is None else key
        return _b64(hmac.new(key, body.encode(), hashlib.sha256).digest())

    def dumps(self, payload: dict[str, Any], ttl: int) -> str:
        body = _b64(
            json.dumps(
                {**payload, "_exp": int(self.clock.time()) + ttl}, separators=(",", ":")
            ).encode()
        )
        return f"{body}.{self._mac(body)}"

    def loads(self, token: str | None, *, allow_expired: bool = False) -> dict[str, Any]:
        """The payload of a token this signer made. ``allow_expired`` only to say where
        an expired step came from (to offer "start again"), never to act on it."""
        return self.open(token, allow_expired=allow_expired)[0]

    def open(self, token: str | None, *, allow_expired: bool = False) -> tuple[dict[str, Any], int]:
        """The payload and its expiry (epoch seconds) of a token this signer made."""
        if not token or "." not in token or len(token) > 16384:
            raise BadSignature("missing or malformed")
        body, mac = token.rsplit(".", 1)
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
        if not any(
            hmac.compare_digest(mac.encode(), self._mac(body, k).encode()) for k in self._keys
        ):
            raise BadSignature("bad signature")
        try:
            payload = json.loads(_unb64(body))
            expires = int(payload.pop("_exp", 0))
        except (ValueError, TypeError, AttributeError) as exc:
            raise BadSignature("bad body") from exc
        if expires < self.clock.time() and not allow_expired:
            raise BadSignature("expired")
        return payload, expires
