"""Refused requests at the token-side endpoints.

1. **One answer for a failed client authentication.** RFC 6749 §5.2 puts an unknown
   client, a wrong secret, a missing authentication and a method the client is not
   registered for under one error, ``invalid_client``. Authlib's descriptions told them
   apart ("does not exist on this server" for an unknown id, a list of every method for a
   wrong secret), so anyone could learn which client ids exist. Every ``invalid_client``
   is now the same bytes: 401 (the status §5.2 requires when the client used HTTP Basic,
   and may be used otherwise), ``WWW-Authenticate: Basic``, one description. What really
   happened goes to the log and the audit trail, for the operator.

2. **A trace of every refused token request.** Each is logged (logger
   ``idp.oidc.token``) and audited as ``oidc.token.refused`` with outcome ``refused``:
   the OAuth error, the grant type, the client when it is a registered one (and its
   agency, so that agency's auditors see it), the address, never a credential.

3. **Bounded.** Anyone can send refused requests, at no cost, and each audit event is a
   row in a hash chain written under one lock. So in each process at most
   ``PER_KEY`` refusals per minute per (address, client) and ``PER_PROCESS`` per minute
   in all are audited one by one; the others are only logged and counted, and the next
   recorded refusal carries that count (``suppressed``). A flood therefore costs the
   audit log at most ``PER_PROCESS`` rows a minute per server process, and the chain
   lock is never taken more often than that for refusals. Successful token requests
   never pass through here (their cost is unchanged: decision 0008).
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from idp.audit import service as audit

if TYPE_CHECKING:
    from authlib.oauth2.rfc6749 import OAuth2Error

    from idp.oidc.context import OidcContext

log = logging.getLogger("idp.oidc.token")

# RFC 6749 §5.2 gives the meaning; nothing here names the method, nor whether the id exists.
INVALID_CLIENT_DESCRIPTION = (
    "Client authentication failed: unknown client, wrong credentials, or an "
    "authentication method the client is not registered for."
)
WINDOW_SECONDS = 60.0
PER_KEY = 5
PER_PROCESS = 120
MAX_KEYS = 10_000
# Grant types worth naming in the trail; anything else a caller sends is "other".
KNOWN_GRANT_TYPES = frozenset(
    {
        "authorization_code",
        "refresh_token",
        "client_credentials",
        "password",
        "implicit",
        "urn:ietf:params:oauth:grant-type:jwt-bearer",
        "urn:ietf:params:oauth:grant-type:device_code",
        "urn:ietf:params:oauth:grant-type:token-exchange",
    }
)


class RefusalGate:
    """Which refusals are audited one by one: a fixed one-minute window per process,
    ``per_key`` per (address, client) and ``per_process`` in all; memory is bounded by
    ``max_keys`` (a key beyond it is simply not recorded one by one)."""

    def __init__(
        self,
        *,
        per_key: int = PER_KEY,
        per_process: int = PER_PROCESS,
        window: float = WINDOW_SECONDS,
        max_keys: int = MAX_KEYS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_key, self.per_process, self.window = per_key, per_process, window
        self.max_keys, self.clock = max_keys, clock
        self._lock = threading.Lock()
        self._window_start = clock()
        self._counts: dict[tuple[str | None, str | None], int] = {}
        self._total = 0
        self._suppressed = 0

    def admit(self, key: tuple[str | None, str | None]) -> int | None:
        """None: count this refusal without auditing it. Else audit it, with the number
        of refusals suppressed since the previous one that was audited (0 if none)."""
        with self._lock:
            now = self.clock()
            if now - self._window_start >= self.window:
                self._window_start, self._counts, self._total = now, {}, 0
            seen = self._counts.get(key)
            if (
                self._total >= self.per_process
                or (seen or 0) >= self.per_key
                or (seen is None and len(self._counts) >= self.max_keys)
            ):
                self._suppressed += 1
                if self._suppressed == 1:
                    log.warning(
                        "refused token requests arrive faster than they are audited; "
                        "further ones are logged and counted until the next window"
                    )
                return None
            self._counts[key] = (seen or 0) + 1
            self._total += 1
            suppressed, self._suppressed = self._suppressed, 0
            return suppressed


def hide_client_auth_detail(error: OAuth2Error) -> str | None:
    """Make every ``invalid_client`` answer the same; returns what Authlib had said."""
    if error.error != "invalid_client":
        return None
    said = error.description
    error.description = INVALID_CLIENT_DESCRIPTION
    error.status_code = 401
    return said


def claimed_client_id(request) -> str | None:
    """The client id the request names (not yet authenticated): HTTP Basic, the
    ``client_id`` parameter, or the ``sub`` of a client assertion (RFC 7523 §3)."""
    auth = request.headers.get("Authorization") or ""
    kind, _, value = auth.partition(" ")
    if kind.lower() == "basic" and value:
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return unquote_plus(decoded.partition(":")[0]) or None
    form = request.form
    if form.get("client_id"):
        return form["client_id"]
    assertion = form.get("client_assertion")
    if isinstance(assertion, str) and assertion.count(".") == 2:
        try:
            payload = assertion.split(".")[1]
            claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        except (ValueError, binascii.Error):
            return None
        sub = claims.get("sub") if isinstance(claims, dict) else None
        return sub if isinstance(sub, str) else None
    return None


def _reason(error: OAuth2Error, said: str | None, claimed: str | None, known: bool) -> str:
    if error.error == "invalid_client":
        if not claimed:
            return "no_client_authentication"
        if not known:
            return "unknown_client"
        return f"authentication_failed: {said or ''}"[:200]
    return (error.description or error.error or "")[:200]


def record(ctx: OidcContext, request, error: OAuth2Error, said: str | None, gate) -> None:
    """Log the refusal of a token request and, within ``gate``'s bounds, audit it in the
    request's transaction (or, on the inline path, before the answer leaves)."""
    client = getattr(request, "client", None)
    row = client.row if client is not None else None
    claimed = None
    if row is None:
        claimed = claimed_client_id(request)
        if claimed and len(claimed) <= 128:
            # Authentication just looked it up: the per-process cache answers (a known
            # client is named in the trail; an unknown id, an attacker's string, is not).
            try:
                row = ctx.services.client_cache.active(claimed, lambda: ctx.db)
            except Exception:  # noqa: BLE001 - NeedsDatabase on the inline path: unknown
                row = None
    client_id = row.client_id if row is not None else None
    grant_type = request.form.get("grant_type")
    if grant_type and grant_type not in KNOWN_GRANT_TYPES:
        grant_type = "other"  # the caller's string, unbounded: not for the trail
    reason = _reason(error, said, claimed, row is not None)
    log.info(
        "token request refused: error=%s client_id=%s ip=%s grant_type=%s reason=%s",
        error.error,
        client_id or (f"unknown:{claimed[:64]!r}" if claimed else "-"),
        ctx.ip,
        grant_type,
        reason,
    )
    suppressed = gate.admit((ctx.ip, client_id))
    if suppressed is None:
        return
    details: dict[str, Any] = {"error": error.error, "grant_type": grant_type, "reason": reason}
    if suppressed:
        details["suppressed"] = suppressed
    ev = audit.new_event(
        "oidc.token.refused",
        outcome="refused",
        actor=client_id,
        agency_id=row.agency_id if row is not None else None,
        client_id=client_id,
        ip=ctx.ip,
        user_agent=ctx.user_agent,
        details=details,
    )
    if ctx.pending_audit is not None:
        ctx.pending_audit.append(ev)  # inline request: the route commits it, then answers
    else:
        audit.append(ctx.db, [ev])
