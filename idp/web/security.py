"""Security headers on every response and CORS where the specs allow it: what to add
(``with_defaults``) and the preflight's answer; the edge (``idp.edge``) applies them to
every request.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.types import Send

# Endpoints a browser-based RP may call cross-origin (OIDC Discovery §4, RFC 6749 §3.2
# for /token with PKCE public clients, OIDC Core §5.3 userinfo). Never /authorize.
CORS_PATHS = (
    "/.well-known/openid-configuration",
    "/.well-known/oauth-authorization-server",  # RFC 8414 §3
    "/jwks",
    "/token",
    "/userinfo",
    "/revoke",
)

_CSP_BEFORE_FORMS = (
    "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; "
    "img-src 'self' data:; font-src 'self'; "
)
_CSP_AFTER_FORMS = "; frame-ancestors 'none'; base-uri 'none'"
DEFAULT_CSP = f"{_CSP_BEFORE_FORMS}form-action 'self'{_CSP_AFTER_FORMS}"


def form_target_source(uri: str) -> str | None:
    """The CSP source expression that allows a form's answer to redirect to ``uri``:
    its origin (``https://app.example.go.th:8443``), or ``scheme:`` for a native app's
    private-use scheme (RFC 8252 §7.1). None for anything a CSP cannot name safely."""
    parts = urlsplit(uri)
    scheme = parts.scheme.lower()
    if scheme in ("http", "https"):
        if not parts.hostname or any(c in parts.netloc for c in " ;,'\"\\"):
            return None
        return f"{scheme}://{parts.netloc.rsplit('@', 1)[-1]}"
    if scheme and all(c.isalnum() or c in "+-." for c in scheme):
        return f"{scheme}:"
    return None


def page_csp(form_target: str | None = None) -> str:
    """A page's CSP. ``form_target`` is the validated redirect URI (an app's
    ``redirect_uri`` or ``post_logout_redirect_uri``) that a form on this page may end
    at: Chromium applies ``form-action`` to every redirect that follows a submission
    (CSP Level 3 §6.3.1.1: a form's navigation, redirects included, is checked), so
    ``POST /login`` → 303 → the app would be blocked with ``'self'`` alone. Exactly that
    origin is added, nothing wider."""
    source = form_target_source(form_target) if form_target else None
    if source is None:
        return DEFAULT_CSP
    return f"{_CSP_BEFORE_FORMS}form-action 'self' {source}{_CSP_AFTER_FORMS}"


_DEFAULTS = (
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    # Nothing of ours is ever meant to be framed (clickjacking on login).
    (b"content-security-policy", DEFAULT_CSP.encode()),
    (b"x-frame-options", b"DENY"),
)
_HSTS_DEFAULTS = (
    *_DEFAULTS[:2],
    (b"strict-transport-security", b"max-age=31536000; includeSubDomains"),
    *_DEFAULTS[2:],
)
_CORS_HEADERS = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-expose-headers", b"WWW-Authenticate"),
]
_CORS_NAMES = frozenset(k for k, _ in _CORS_HEADERS)


def with_defaults(raw, cors: bool, https: bool) -> list:
    """The answer's headers with ours added where the route set none (raw ASGI pairs:
    Starlette's ``MutableHeaders`` and its five ``setdefault`` scans were ~3 % of a
    machine token, decision 0014). ``cors``: the path is one of ``CORS_PATHS``. Called by
    the edge (``idp.edge``) on every answer but a CORS preflight's."""
    headers = [(k, v) for k, v in raw if not (cors and k.lower() in _CORS_NAMES)]
    present = {k.lower() for k, _ in headers}
    for name, value in _HSTS_DEFAULTS if https else _DEFAULTS:
        if name not in present:
            headers.append((name, value))
    if b"cache-control" not in present:
        ctype = next((v for k, v in headers if k.lower() == b"content-type"), b"")
        if ctype.startswith(b"text/html"):
            headers.append((b"cache-control", b"no-store"))
    if cors:
        # Bearer tokens and client credentials, never cookies: "*" is safe.
        headers += _CORS_HEADERS
    return headers


_PREFLIGHT = [
    (b"access-control-allow-origin", b"*"),
    (b"access-control-allow-methods", b"GET, POST, OPTIONS"),
    (b"access-control-allow-headers", b"Authorization, Content-Type, DPoP"),
    (b"access-control-max-age", b"600"),
    (b"content-length", b"0"),
]


async def preflight(send: Send) -> None:
    """The answer to a CORS preflight (``OPTIONS`` on one of ``CORS_PATHS``)."""
    await send({"type": "http.response.start", "status": 204, "headers": list(_PREFLIGHT)})
    await send({"type": "http.response.body", "body": b""})
