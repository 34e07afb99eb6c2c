"""Discovery (OIDC Discovery 1.0 §4, RFC 8414 §3) and the JWKS: fetched by every relying
party and resource server, so served on the event loop as plain Starlette routes
(``idp.oidc.routes.FIRST_ROUTES``) from an answer built once per document: its bytes, its
headers and a strong ``ETag`` (the document's SHA-256), so that a cache or an RP that
sends ``If-None-Match`` gets ``304 Not Modified`` without the body (RFC 9110 §13.1.2).
The document itself: ``idp.oidc.discovery``; the keys: ``idp.keys``."""

from __future__ import annotations

import base64
import hashlib

from starlette.requests import Request
from starlette.responses import Response

from idp.oidc import discovery


class Prebuilt:
    """A document's answer, built once: body, headers (200 and 304) and ETag."""

    def __init__(self, body: bytes, media_type: str, cache_control: str) -> None:
        self.body = body
        digest = hashlib.sha256(body).digest()
        self.etag = b'"' + base64.urlsafe_b64encode(digest)[:43] + b'"'
        cache = (b"cache-control", cache_control.encode())
        etag = (b"etag", self.etag)
        self.headers = [
            (b"content-length", str(len(body)).encode()),
            (b"content-type", media_type.encode()),
            cache,
            etag,
        ]
        self.not_modified_headers = [cache, etag]

    def matches(self, if_none_match: str | None) -> bool:
        """RFC 9110 §13.1.2: ``*`` or any listed tag, compared weakly (``W/`` ignored)."""
        if not if_none_match:
            return False
        tags = [t.strip().removeprefix("W/").encode() for t in if_none_match.split(",")]
        return any(t == self.etag or t == b"*" for t in tags)


class PrebuiltResponse(Response):
    """``prebuilt``'s answer to ``request``: 200 with the body, or 304 without it."""

    def __init__(self, prebuilt: Prebuilt, request: Request) -> None:
        self.background = None
        if prebuilt.matches(request.headers.get("if-none-match")):
            self.status_code, self.body = 304, b""
            self.raw_headers = list(prebuilt.not_modified_headers)
        else:
            self.status_code, self.body = 200, prebuilt.body
            self.raw_headers = list(prebuilt.headers)


class _Built:
    """The answer of the current bytes of a document (rebuilt when they change)."""

    def __init__(self, media_type: str, cache_control: str) -> None:
        self.media_type, self.cache_control = media_type, cache_control
        self._last: Prebuilt | None = None  # one attribute: replaced whole, never torn

    def of(self, body: bytes) -> Prebuilt:
        last = self._last
        if last is None or (last.body is not body and last.body != body):
            last = self._last = Prebuilt(body, self.media_type, self.cache_control)
        return last


_METADATA = _Built("application/json", "public, max-age=3600")
_JWKS = _Built("application/jwk-set+json", "public, max-age=300")


async def openid_configuration(request: Request) -> Response:
    body = discovery.metadata_bytes(request.app.state.services.settings)
    return PrebuiltResponse(_METADATA.of(body), request)


async def jwks(request: Request) -> Response:
    # Keys are loaded at startup and re-read every 30 s (one small query).
    return PrebuiltResponse(_JWKS.of(request.app.state.services.keys.jwks_bytes()), request)
