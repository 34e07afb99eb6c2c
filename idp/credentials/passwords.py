"""Password hashing with argon2id through passlib's CryptContext (libpass)."""

from __future__ import annotations

from passlib.context import CryptContext

from idp.config import Settings


class PasswordHasher:
    def __init__(self, settings: Settings) -> None:
        self._ctx = CryptContext(
            schemes=["argon2"],
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
        return self._ctx.verify(password, stored)

    def needs_update(self, stored: str) -> bool:
        return self._ctx.needs_update(stored)

    @property
    def parameters(self) -> str:
        return self._dummy.split("$")[3]
