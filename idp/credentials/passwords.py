"""Password hashing with argon2id through passlib's CryptContext (libpass).

Hashes imported from the old mail system ({SSHA}, {SSHA512}, {CRYPT}/$6$, bcrypt,
{PBKDF2}) verify through the same context and are marked deprecated, so the first
successful sign-in re-hashes them to argon2id (``needs_update``).

The argon2id computation itself runs in libsodium (PyNaCl) rather than in passlib's
argon2-cffi backend: the same RFC 9106 function and the same PHC string
(``$argon2id$v=19$m=…,t=…,p=…$salt$hash``, 16-byte salt, 32-byte tag), so either library
verifies what the other wrote (tested), but libsodium's block function is vectorised
with run-time CPU dispatch and is about 30 % faster on the same core (13 vs 18 ms for
m=19 MiB, t=2 here: ``bench/argon2_backends.py``). That time is most of a sign-in's CPU
(issue 5, S3). passlib still identifies schemes, parses parameters for ``needs_update``
and handles every legacy format; libsodium only creates p=1 hashes, so another
parallelism setting hashes through passlib.
"""

from __future__ import annotations

import nacl.exceptions
import nacl.pwhash.argon2id as sodium_argon2id
from passlib.context import CryptContext
from passlib.utils.handlers import PrefixWrapper

from idp.config import Settings

# Legacy schemes accepted at import, by the prefix that identifies them.
LEGACY_SCHEMES = (
    "ldap_salted_sha1",  # {SSHA}
    "ldap_salted_sha512",  # {SSHA512}
    "ldap_sha512_crypt",  # {CRYPT}$6$...
    "ldap_sha256_crypt",  # {CRYPT}$5$...
    "ldap_md5_crypt",  # {CRYPT}$1$...
    "sha512_crypt",  # $6$...
    "sha256_crypt",  # $5$...
    "bcrypt",  # $2a$/$2b$/$2y$
    "ldap_pbkdf2_sha1",  # {PBKDF2}
    "ldap_pbkdf2_sha256",  # {PBKDF2-SHA256}
    "ldap_pbkdf2_sha512",  # {PBKDF2-SHA512}
)


class UnknownHashScheme(ValueError):
    pass


def _parse(handler, stored: str) -> None:
    """Parse a hash fully (without the cost of verifying it); ValueError if malformed."""
    while isinstance(handler, PrefixWrapper):  # e.g. {CRYPT} around sha512_crypt
        stored = handler.orig_prefix + stored[len(handler.prefix) :]
        handler = handler.wrapped
    handler.from_string(stored)


_ARGON2ID = "$argon2id$"


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._sodium_hash = settings.argon2_parallelism == 1
        self._opslimit = settings.argon2_time_cost
        self._memlimit = settings.argon2_memory_kib * 1024
        self._ctx = CryptContext(
            schemes=["argon2", *LEGACY_SCHEMES],
            default="argon2",
            deprecated=list(LEGACY_SCHEMES),
            argon2__type="ID",
            argon2__memory_cost=settings.argon2_memory_kib,
            argon2__rounds=settings.argon2_time_cost,
            argon2__parallelism=settings.argon2_parallelism,
        )
        # Verified against when the account does not exist, so an unknown email costs
        # the same time as a wrong password (no user enumeration by timing).
        self._dummy = self.hash("govid-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        if self._sodium_hash:
            return sodium_argon2id.str(
                password.encode("utf-8"), opslimit=self._opslimit, memlimit=self._memlimit
            ).decode("ascii")
        return self._ctx.hash(password)

    def verify(self, password: str, stored: str | None) -> bool:
        if not stored:
            self._verify(password, self._dummy)
            return False
        try:
            return self._verify(password, stored)
        except (ValueError, TypeError):
            # A malformed stored hash: spend the same time, then refuse.
            self._verify(password, self._dummy)
            return False

    def _verify(self, password: str, stored: str) -> bool:
        if not stored.startswith(_ARGON2ID):
            return self._ctx.verify(password, stored)
        _parse(self._ctx.handler("argon2"), stored)  # ValueError when malformed
        try:
            return sodium_argon2id.verify(stored.encode("ascii"), password.encode("utf-8"))
        except nacl.exceptions.InvalidkeyError:
            return False
        except (nacl.exceptions.CryptoError, UnicodeEncodeError) as exc:
            raise ValueError("unusable argon2id hash") from exc

    def needs_update(self, stored: str) -> bool:
        return self._ctx.needs_update(stored)

    def scheme(self, stored: str) -> str | None:
        try:
            return self._ctx.identify(stored)
        except (ValueError, TypeError):
            return None

    def check_importable(self, stored: str) -> str:
        """The scheme of a hash from the old mail system, or UnknownHashScheme."""
        scheme = self.scheme(stored)
        if scheme is not None:
            try:  # identify() only looks at the prefix; parse the whole hash too
                _parse(self._ctx.handler(scheme), stored)
            except (ValueError, TypeError):
                scheme = None
        if scheme is None:
            prefix = stored[:12] + ("…" if len(stored) > 12 else "")
            raise UnknownHashScheme(
                f"unsupported password hash format {prefix!r}; accepted: {{SSHA}}, "
                "{SSHA512}, {CRYPT}$1$/$5$/$6$, $5$/$6$, bcrypt $2a$/$2b$/$2y$, {PBKDF2}, "
                "{PBKDF2-SHA256}, {PBKDF2-SHA512}, $argon2id$"
            )
        return scheme

    @property
    def parameters(self) -> str:
        return self._dummy.split("$")[3]
