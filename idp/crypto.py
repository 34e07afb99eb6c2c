"""Encryption of secrets at rest, keyed HMACs and random tokens.

AES-256-GCM with keys derived from ``IDP_DATA_KEY``; a purpose string is bound as
associated data so a ciphertext moved from one column to another fails to decrypt.

A keyring: ``IDP_DATA_KEY`` encrypts, ``IDP_DATA_KEY_PREVIOUS`` keys still
decrypt. Every value written names the key that encrypted it (``v2:<key id>:<data>``; the
key id is derived from the key and reveals nothing of it), so a value under a key that is
no longer configured is named as such instead of failing as "corrupt". Values written
before key ids (``v1:<data>``) are tried with every key (GCM authenticates: a wrong key
fails, it never yields wrong plaintext). ``idp keys rotate-data-key`` rewrites every
value under the current key (idp/keys/data_rotation.py).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from collections.abc import Sequence

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_LEGACY = "v1"  # v1:<nonce+ciphertext>, no key id (before the keyring)
_VERSION = "v2"  # v2:<key id>:<nonce+ciphertext>


class DataKeyError(ValueError):
    """A value no configured data key opens (unknown key id, or no key fits)."""


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


def data_key_id(key: bytes) -> str:
    """8 hex characters naming a data key (HKDF output: says nothing about the key)."""
    return _derive(key, b"govid/key-id/v1")[:4].hex()


class _Key:
    __slots__ = ("aead", "kid", "mac_key")

    def __init__(self, key: bytes) -> None:
        if len(key) != 32:
            raise ValueError("data key must be 32 bytes")
        self.kid = data_key_id(key)
        self.aead = AESGCM(_derive(key, b"govid/aead/v1"))
        self.mac_key = _derive(key, b"govid/blind-index/v1")


class DataCipher:
    """``keys[0]`` encrypts and computes blind indexes; every key decrypts."""

    def __init__(self, keys: bytes | Sequence[bytes]) -> None:
        ring = [_Key(keys)] if isinstance(keys, bytes) else [_Key(k) for k in keys]
        if not ring:
            raise ValueError("no data key")
        by_id = {k.kid: k for k in ring}
        if len(by_id) != len(ring):
            raise ValueError("the same data key is listed twice (IDP_DATA_KEY_PREVIOUS)")
        self._ring, self._by_id = ring, by_id

    @property
    def key_id(self) -> str:
        """The current key's id (what new values are encrypted under)."""
        return self._ring[0].kid

    @property
    def key_ids(self) -> tuple[str, ...]:
        return tuple(k.kid for k in self._ring)

    def encrypt(self, plaintext: bytes, purpose: str) -> str:
        key = self._ring[0]
        nonce = secrets.token_bytes(12)
        ct = key.aead.encrypt(nonce, plaintext, purpose.encode())
        body = base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")
        return f"{_VERSION}:{key.kid}:{body}"

    def decrypt(self, token: str, purpose: str) -> bytes:
        version, _, rest = token.partition(":")
        if version == _VERSION:
            kid, _, body = rest.partition(":")
            key = self._by_id.get(kid)
            if key is None:
                raise DataKeyError(
                    f"encrypted with data key {kid!r}, which is neither IDP_DATA_KEY nor in "
                    "IDP_DATA_KEY_PREVIOUS"
                )
            candidates = [key]
        elif version == _LEGACY:
            body, candidates = rest, self._ring
        else:
            raise DataKeyError("unknown ciphertext version")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        for key in candidates:
            try:
                return key.aead.decrypt(raw[:12], raw[12:], purpose.encode())
            except InvalidTag:
                continue
        raise DataKeyError(
            f"no configured data key opens this value (key {candidates[0].kid!r} does not fit)"
            if version == _VERSION
            else "written before key ids (v1) and no configured data key opens it: "
            "the key that wrote it is missing from IDP_DATA_KEY_PREVIOUS"
        )

    def key_id_of(self, token: str) -> str | None:
        """The key id a value names (None for a v1 value)."""
        version, _, rest = token.partition(":")
        return rest.partition(":")[0] if version == _VERSION else None

    def _mac(self, key: _Key, value: str, purpose: str) -> str:
        msg = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(key.mac_key, msg, hashlib.sha256).hexdigest()

    def blind_index(self, value: str, purpose: str) -> str:
        """Keyed HMAC-SHA256 under the current key: lets us find/unique a value without
        storing it."""
        return self._mac(self._ring[0], value, purpose)

    def blind_indexes(self, value: str, purpose: str) -> list[str]:
        """The value's blind index under every configured key (current first): what a
        look-up matches while a rotation has not rewritten every row yet."""
        return [self._mac(k, value, purpose) for k in self._ring]


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def random_identifier(nbytes: int = 16) -> str:
    """A random public identifier (client ids): base64url that never starts with ``-``,
    which command lines read as an option (``idp clients show -Xy…`` failed as a usage
    error for one client id in 64)."""
    while True:
        value = secrets.token_urlsafe(nbytes)
        if not value.startswith("-"):
            return value


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
