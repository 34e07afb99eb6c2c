"""The compact JWS (RFC 7515 §7.1) of GovID's own keys, signed and verified with
``cryptography`` directly: RS256 and ES256 with a header of only ``alg``, ``kid`` and
``typ`` (joserfc's generic path cost ~4 times the signature check; decision 0014).
Which keys, and everything else a token may carry, is ``idp.keys.service.KeyRing``'s."""

from __future__ import annotations

import base64
import json
import re
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding
from cryptography.hazmat.primitives.asymmetric.utils import (
    decode_dss_signature,
    encode_dss_signature,
)
from joserfc.util import urlsafe_b64encode


class InvalidToken(Exception):
    """Signature, algorithm, key id or structure is wrong."""


# ------------------------------------------------------------------ signing


def _rs256(private, data: bytes) -> bytes:
    return private.sign(data, padding.PKCS1v15(), hashes.SHA256())  # RFC 7518 §3.3


def _es256(private, data: bytes) -> bytes:
    # RFC 7518 §3.4: R and S as 32-byte big-endian integers, not DER.
    r, s = decode_dss_signature(private.sign(data, ec.ECDSA(hashes.SHA256())))
    return r.to_bytes(32, "big") + s.to_bytes(32, "big")


SIGN = {"RS256": _rs256, "ES256": _es256}
_HEADERS: dict[tuple[str, str, str], bytes] = {}


def header_segment(kid: str, alg: str, typ: str) -> bytes:
    """The encoded protected header; a handful per process (one per kid and typ)."""
    found = _HEADERS.get((kid, alg, typ))
    if found is None:
        header = json.dumps({"alg": alg, "kid": kid, "typ": typ}, separators=(",", ":"))
        found = _HEADERS[(kid, alg, typ)] = urlsafe_b64encode(header.encode())
    return found


# ------------------------------------------------------------------ verifying


def _verify_rs256(public, signature: bytes, data: bytes) -> None:
    public.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())  # RFC 7518 §3.3


def _verify_es256(public, signature: bytes, data: bytes) -> None:
    # RFC 7518 §3.4: exactly R || S, 32 bytes each.
    if len(signature) != 64:
        raise InvalidSignature
    der = encode_dss_signature(
        int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
    )
    public.verify(der, data, ec.ECDSA(hashes.SHA256()))


VERIFY = {"RS256": _verify_rs256, "ES256": _verify_es256}
_B64URL = re.compile(r"[A-Za-z0-9_-]+")
# Header parameters the fast path understands; anything else (crit, b64, jku, x5u …)
# goes to joserfc, which knows the rules for them.
_PLAIN_HEADER = frozenset(("alg", "kid", "typ"))


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def verify_compact(
    token: str, verifiers: dict[str, tuple[str, Any]], algorithms: tuple[str, ...]
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    """The compact JWS serialisation (RFC 7515 §7.1) of one of our published keys, with
    a header of only ``alg``, ``kid`` and ``typ``: verified with ``cryptography``
    directly (joserfc's generic path cost ~4 times the signature check; decision 0014).
    Returns None when the token is not of that plain shape, so that joserfc decides (and
    refuses what it must); raises ``InvalidToken`` when it is and does not verify. The
    algorithm must be the key's own (RFC 8725 §3.1) and among ``algorithms``."""
    if not isinstance(token, str) or token.count(".") != 2:
        return None
    h64, c64, s64 = token.split(".")
    if not (_B64URL.fullmatch(h64) and _B64URL.fullmatch(c64) and _B64URL.fullmatch(s64)):
        return None
    try:
        header = json.loads(_b64(h64))
    except ValueError:
        return None
    if not isinstance(header, dict) or not header.keys() <= _PLAIN_HEADER:
        return None
    kid, alg = header.get("kid"), header.get("alg")
    found = verifiers.get(kid) if isinstance(kid, str) else None
    if found is None or alg != found[0] or alg not in algorithms:
        return None
    try:
        VERIFY[alg](found[1], _b64(s64), f"{h64}.{c64}".encode("ascii"))
        claims = json.loads(_b64(c64))
    except (InvalidSignature, ValueError) as exc:
        raise InvalidToken(type(exc).__name__) from exc
    if not isinstance(claims, dict):
        raise InvalidToken("claims are not a JSON object")
    return header, claims
