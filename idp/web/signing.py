"""HMAC-signed, expiring blobs (interaction state, CSRF tokens) keyed by IDP_SECRET_KEY."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any


class BadSignature(ValueError):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(data: str) -> bytes:
    return base64.urlsafe_b64decode(data + "=" * (-len(data) % 4))


class Signer:
    def __init__(self, secret: str, purpose: str) -> None:
        self._key = hashlib.sha256(f"govid/{purpose}/{secret}".encode()).digest()

    def _mac(self, body: str) -> str:
        return _b64(hmac.new(self._key, body.encode(), hashlib.sha256).digest())

    def dumps(self, payload: dict[str, Any], ttl: int) -> str:
        body = _b64(
            json.dumps({**payload, "_exp": int(time.time()) + ttl}, separators=(",", ":")).encode()
        )
        return f"{body}.{self._mac(body)}"

    def loads(self, token: str | None, *, allow_expired: bool = False) -> dict[str, Any]:
        """The payload of a token this signer made. ``allow_expired`` only to say where
        an expired step came from (to offer "start again"), never to act on it."""
        if not token or "." not in token or len(token) > 16384:
            raise BadSignature("missing or malformed")
        body, mac = token.rsplit(".", 1)
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
        if not hmac.compare_digest(mac.encode(), self._mac(body).encode()):
            raise BadSignature("bad signature")
        try:
            payload = json.loads(_unb64(body))
        except ValueError as exc:
            raise BadSignature("bad body") from exc
        if payload.pop("_exp", 0) < time.time() and not allow_expired:
            raise BadSignature("expired")
        return payload
