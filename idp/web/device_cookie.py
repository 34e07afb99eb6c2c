"""Device cookies (OWASP "Slow Down Online Guessing Attacks with Device Cookies").

A browser that signed in to an account gets a cookie for that account: HMAC-signed with
IDP_SECRET_KEY, bound to the account's email (the throttle's ``user:`` key) and carrying
a random nonce. When it signs in to that account again, its failures are counted against
the nonce (``dev:<nonce>``) instead of the account, so an attacker elsewhere who has
delayed or locked the account does not slow the owner's browser. A new nonce is issued at
every sign-in (rotation); a cookie whose own counter is locked counts as no cookie.

One cookie per account, named by an HMAC of the email (the name does not reveal the
address); HttpOnly, SameSite=Lax, Secure and ``__Host-`` under https.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from idp.credentials.login import user_key
from idp.signing import BadSignature, Signer

PURPOSE = "device"


def cookie_name(secret_key: str, email: str, https: bool) -> str:
    tag = hmac.new(
        hashlib.sha256(f"govid/device-name/{secret_key}".encode()).digest(),
        user_key(email).encode(),
        hashlib.sha256,
    ).hexdigest()[:16]
    return f"{'__Host-' if https else ''}govid_device_{tag}"


def issue(secret_key: str, email: str, days: int) -> str:
    payload = {"u": user_key(email), "n": secrets.token_urlsafe(16)}
    return Signer(secret_key, PURPOSE).dumps(payload, days * 86400)


def find(secret_keys: tuple[str, ...], email: str, cookies, https: bool) -> str | None:
    """The throttle key of this browser's cookie for the email, looked for under the name
    each of IDP_SECRET_KEY and IDP_SECRET_KEY_PREVIOUS gives it (a rotation keeps the
    cookies browsers already hold)."""
    for key in secret_keys:
        found = device_key(secret_keys, email, cookies.get(cookie_name(key, email, https)))
        if found:
            return found
    return None


def device_key(secret_key: str | tuple[str, ...], email: str, value: str | None) -> str | None:
    """The throttle key of a valid cookie for this email (``dev:<nonce>``), or None."""
    if not value or not email:
        return None
    try:
        payload = Signer(secret_key, PURPOSE).loads(value)
    except BadSignature:
        return None
    nonce = payload.get("n")
    if payload.get("u") != user_key(email) or not isinstance(nonce, str) or len(nonce) > 64:
        return None
    return f"dev:{nonce}"
