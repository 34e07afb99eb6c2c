"""CSRF protection for every form: a random per-browser cookie plus a form token that is
an HMAC of it (signed double-submit, OWASP CSRF cheat sheet). Works before login."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Sequence


def new_cookie_value() -> str:
    return secrets.token_urlsafe(24)


def form_token(secret: str, cookie_value: str) -> str:
    key = hashlib.sha256(f"govid/csrf/{secret}".encode()).digest()
    return hmac.new(key, cookie_value.encode(), hashlib.sha256).hexdigest()


def check(secret: str | Sequence[str], cookie_value: str | None, submitted: str | None) -> bool:
    """``secret``: IDP_SECRET_KEY, or it and IDP_SECRET_KEY_PREVIOUS (a form served just
    before a key rotation still posts)."""
    if not cookie_value or not submitted:
        return False
    keys = (secret,) if isinstance(secret, str) else secret
    # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
    return any(
        hmac.compare_digest(form_token(k, cookie_value).encode(), submitted.encode()) for k in keys
    )
