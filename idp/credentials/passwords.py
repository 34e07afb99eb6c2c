"""Password hashing with argon2id through passlib's CryptContext (libpass).

Hashes imported from the old mail system ({SSHA}, {SSHA512}, {CRYPT}/$6$, bcrypt,
{PBKDF2}) verify through the same context and are marked deprecated, so the first
successful sign-in re-hashes them to argon2id (``needs_update``).
"""

from __future__ import annotations

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


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
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
        self._dummy = self._ctx.hash("govid-dummy-password-for-timing")

    def hash(self, password: str) -> str:
        return self._ctx.hash(password)

    def verify(self, password: str, stored: str | None) -> bool:
        if not stored:
            self._ctx.verify(password, self._dummy)
            return False
        try:
            return self._ctx.verify(password, stored)
        except (ValueError, TypeError):
            # A malformed stored hash: spend the same time, then refuse.
            self._ctx.verify(password, self._dummy)
            return False

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
