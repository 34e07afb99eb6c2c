"""Encryption of secrets at rest, keyed HMACs and random tokens.

AES-256-GCM with the 32-byte ``IDP_DATA_KEY``; a purpose string is bound as associated
data so a ciphertext moved from one column to another fails to decrypt.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_VERSION = "v1"


def _derive(key: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(key)


class DataCipher:
    def __init__(self, data_key: bytes) -> None:
        if len(data_key) != 32:
            raise ValueError("data key must be 32 bytes")
        self._aead = AESGCM(_derive(data_key, b"govid/aead/v1"))
        self._mac_key = _derive(data_key, b"govid/blind-index/v1")

    def encrypt(self, plaintext: bytes, purpose: str) -> str:
        nonce = secrets.token_bytes(12)
        ct = self._aead.encrypt(nonce, plaintext, purpose.encode())
        return f"{_VERSION}:" + base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")

    def decrypt(self, token: str, purpose: str) -> bytes:
        version, _, body = token.partition(":")
        if version != _VERSION:
            raise ValueError("unknown ciphertext version")
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        return self._aead.decrypt(raw[:12], raw[12:], purpose.encode())

    def blind_index(self, value: str, purpose: str) -> str:
        """Keyed HMAC-SHA256: lets us find/unique a value without storing it."""
        msg = purpose.encode() + b"\x00" + value.encode()
        return hmac.new(self._mac_key, msg, hashlib.sha256).hexdigest()


def random_token(nbytes: int = 32) -> str:
    return secrets.token_urlsafe(nbytes)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def constant_time_equal(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())
