"""Make audit fields safe to store, hash, export and display.

- CR/LF-safe: control characters (C0, DEL, C1, U+2028/2029) become spaces, so a value
  taken from a request header cannot forge a line in any text rendering of the log.
- ``details`` is normalised to what the database gives back (a JSON round trip, integral
  floats as ints, no NUL, which PostgreSQL text/JSONB cannot hold), so the hash computed
  when writing is the hash recomputed when verifying, on both databases.
- Secrets never enter ``details``: keys that name a secret and values that look like one
  (a JWS/JWT, a bearer credential) are refused outright; the caller has a bug.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any

MAX_DETAILS_BYTES = 16 * 1024

_CONTROL_RE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")

# Key names that carry secrets. Matched on the lower-cased key with '-' read as '_'.
_SECRET_KEY_RE = re.compile(
    r"pass(word|wd|phrase)|secret|cookie|private_?key|api_?key|"
    r"(^|_)(otp|totp|hotp|pin)(_|$)|^(auth_code|authorization_code|code_verifier)$|"
    r"recovery_codes?$|token$|token_hint$|assertion$|^authorization$"
)
# Values that are credentials whatever their key: compact JWS/JWE, bearer/basic headers.
_SECRET_VALUE_RE = re.compile(
    r"(^eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*\.|^(bearer|basic)\s+\S)", re.IGNORECASE
)
# Documented non-secret keys that the patterns above would otherwise catch.
_ALLOWED_KEYS = frozenset({"token_type"})


class SecretInDetails(ValueError):
    pass


def clean_text(value: Any, limit: int) -> str | None:
    """One line of printable text, at most ``limit`` characters; empty becomes None."""
    if value is None:
        return None
    text = _CONTROL_RE.sub(" ", str(value))[:limit]
    return text or None


@functools.lru_cache(maxsize=1024)  # keys come from a small documented set
def _is_secret_key(key: str) -> bool:
    k = key.lower().replace("-", "_")
    return k not in _ALLOWED_KEYS and bool(_SECRET_KEY_RE.search(k))


def _check(value: Any, path: str) -> None:
    if isinstance(value, dict):
        for k, v in value.items():
            # A flag such as {"has_password": true} names a secret but carries none.
            if _is_secret_key(str(k)) and not isinstance(v, bool | None):
                raise SecretInDetails(f"audit details must not carry secrets (key {path}{k!r})")
            _check(v, f"{path}{k}.")
    elif isinstance(value, list):
        for v in value:
            _check(v, path)
    elif isinstance(value, str) and _SECRET_VALUE_RE.search(value):
        raise SecretInDetails(f"audit details must not carry secrets (a token in {path or '.'})")


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {clean_text(k, 128) or "": _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalise(v) for v in value]
    if isinstance(value, str):
        return _CONTROL_RE.sub(" ", value)
    if isinstance(value, float) and value.is_integer():
        # JSONB reads 1e20 back as an integer; store what will be read.
        return int(value)
    return value


def _flat(details: dict) -> dict | None:
    """What the JSON round trip and ``_normalise`` below make of ``details`` when every
    key is a ``str`` and every value a ``str``, ``int``, ``bool``, ``None`` or a list or
    tuple of ``str`` (exact types: subclasses such as enums go the long way), and its
    JSON cannot exceed the size limit; None otherwise. Nearly every event (a token, a
    sign-in) is such a dict: the round trip was ~5 % of a machine token (decision 0014)."""
    out = {}
    size = 2
    for k, v in details.items():
        if type(k) is not str:
            return None
        t = type(v)
        if t is str:
            size += 6 * len(v)
            v = _CONTROL_RE.sub(" ", v)
        elif t is list or t is tuple:
            for item in v:
                if type(item) is not str:
                    return None
                size += 6 * len(item) + 3
            v = [_CONTROL_RE.sub(" ", item) for item in v]
        elif t is int:
            size += len(str(v)) if v.bit_length() > 60 else 20
        elif v is not None and t is not bool:
            return None
        # JSON escapes a character in at most 6 bytes (\u001f): a bound, not the size.
        size += 6 * len(k) + 8
        out[clean_text(k, 128) or ""] = v
    return out if size <= MAX_DETAILS_BYTES else None


def clean_details(details: dict[str, Any] | None, allowed: frozenset[str], kind: str) -> dict:
    details = dict(details or {})
    _check(details, "")
    flat = _flat(details)
    if flat is not None:
        unknown = sorted(set(details) - allowed)
        if unknown:
            raise ValueError(
                f"{kind}: details field(s) {', '.join(unknown)} are not documented; "
                "add them to idp/audit/events.py (and docs/audit.md) first"
            )
        _check(flat, "")  # a control character made a space: "bearer\x00x"
        return flat
    unknown = sorted(set(map(str, details)) - allowed)
    if unknown:
        raise ValueError(
            f"{kind}: details field(s) {', '.join(unknown)} are not documented; "
            "add them to idp/audit/events.py (and docs/audit.md) first"
        )
    try:
        # A JSON round trip: tuples become lists, UUIDs/datetimes strings, keys strings.
        raw = json.dumps(details, default=str, allow_nan=False, ensure_ascii=False)
    except ValueError as exc:
        raise ValueError(f"{kind}: details must be finite JSON ({exc})") from exc
    if len(raw.encode()) > MAX_DETAILS_BYTES:
        raise ValueError(f"{kind}: details larger than {MAX_DETAILS_BYTES} bytes")
    out = _normalise(json.loads(raw))
    _check(out, "")  # str() of an object could have produced a token-looking value
    return out
