"""Security headers on every response and CORS where the specs allow it.

Pure ASGI middleware (no BaseHTTPMiddleware) so it adds nothing measurable per request.
"""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Endpoints a browser-based RP may call cross-origin (OIDC Discovery §4, RFC 6749 §3.2
# for /token with PKCE public clients, OIDC Core §5.3 userinfo). Never /authorize.
CORS_PATHS = ("/.well-known/openid-configuration", "/jwks", "/token", "/userinfo", "/revoke")

DEFAULT_CSP = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; form-action 'self'; "
    "frame-ancestors 'none'; base-uri 'none'"
)


class SecurityHeaders:
    def __init__(self, app: ASGIApp, *, https: bool) -> None:
        self.app = app
        self.https = https

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        cors = path in CORS_PATHS
        if cors and scope["method"] == "OPTIONS":
            await self._preflight(scope, send)
            return

        async def wrapped(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                headers.setdefault("X-Content-Type-Options", "nosniff")
                headers.setdefault("Referrer-Policy", "no-referrer")
                if self.https:
                    headers.setdefault(
                        "Strict-Transport-Security", "max-age=31536000; includeSubDomains"
                    )
                # Nothing of ours is ever meant to be framed (clickjacking on login).
                headers.setdefault("Content-Security-Policy", DEFAULT_CSP)
                headers.setdefault("X-Frame-Options", "DENY")
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault("Cache-Control", "no-store")
                if cors:
                    # Bearer tokens and client credentials, never cookies: "*" is safe.
                    headers["Access-Control-Allow-Origin"] = "*"
                    headers["Access-Control-Expose-Headers"] = "WWW-Authenticate"
            await send(message)

        await self.app(scope, receive, wrapped)

    @staticmethod
    async def _preflight(scope: Scope, send: Send) -> None:
        headers = [
            (b"access-control-allow-origin", b"*"),
            (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
            (b"access-control-allow-headers", b"Authorization, Content-Type, DPoP"),
            (b"access-control-max-age", b"600"),
            (b"content-length", b"0"),
        ]
        await send({"type": "http.response.start", "status": 204, "headers": headers})
        await send({"type": "http.response.body", "body": b""})
