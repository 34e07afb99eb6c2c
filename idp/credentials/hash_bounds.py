"""The most work one stored password hash may ask of a verification.

A legacy hash carries its own work factor: ``$6$rounds=999999999$…`` (sha512-crypt),
bcrypt cost 31, ``$argon2id$v=19$m=4194304,t=100000,…``. Verifying a wrong password
against it costs whatever the hash says, and anyone may send a wrong password for any
email. One imported row with sha512-crypt ``rounds=2000000`` made a single
unauthenticated attempt take 9 s of CPU (at the format's maximum, about 1.5 h). So:

- imports refuse a hash whose work factor is beyond its scheme's bound, per row;
- at sign-in a stored hash beyond the bound (written before the bounds existed, or after
  an operator lowered one) is not verified: the answer is a wrong password and the audit
  event says ``password_hash_out_of_bounds`` (reset that account's password).

Defaults, with the CPU of one wrong-password verification at the limit on the project
VM, two runs of ``bench/legacy_hashes.py`` (GovID's own argon2id: 11.4-11.7 ms):

- sha512-crypt / sha256-crypt: rounds <= 100,000: 51-82 / 40-62 ms. The tightest, as
  libpass computes it in Python holding the GIL (the event loop waits); glibc's default
  is 5,000 (3-4 ms). passlib's own defaults (656,000 / 535,000) are beyond: raise the
  limit for such an export knowingly (~0.3-0.5 s per attempt).
- bcrypt: cost <= 12: 237-246 ms (the bcrypt package releases the GIL); cost 10, the
  usual, 61 ms.
- PBKDF2 (SHA-1, SHA-256, SHA-512): rounds <= 300,000: 109 / 102 / 157 ms (passlib's
  defaults, 131,000 / 29,000 / 25,000, are inside).
- argon2 (i, id): m <= 64 MiB, t <= 4, p <= 4: 161-227 ms; argon2-cffi's default
  (m=64 MiB, t=3, p=4) is inside.
- beyond a limit: refused without verifying, ~9-14 ms (the dummy argon2id that keeps
  the answer's timing).

{SSHA}, {SSHA512} and md5-crypt have a fixed, small cost. Settings (``IDP_`` prefix):
``HASH_MAX_SHA_CRYPT_ROUNDS``, ``HASH_MAX_BCRYPT_COST``, ``HASH_MAX_PBKDF2_ROUNDS``,
``HASH_MAX_ARGON2_MEMORY_KIB``, ``HASH_MAX_ARGON2_TIME_COST``,
``HASH_MAX_ARGON2_PARALLELISM``. GovID's own argon2id parameters are always inside.
"""

from __future__ import annotations

from dataclasses import dataclass

from passlib.context import CryptContext
from passlib.utils.handlers import PrefixWrapper

from idp.config import Settings

# The schemes a stored hash may have (the hasher's context, without its policy).
_SCHEMES = (
    "argon2",
    "ldap_salted_sha1",
    "ldap_salted_sha512",
    "ldap_sha512_crypt",
    "ldap_sha256_crypt",
    "ldap_md5_crypt",
    "sha512_crypt",
    "sha256_crypt",
    "bcrypt",
    "ldap_pbkdf2_sha1",
    "ldap_pbkdf2_sha256",
    "ldap_pbkdf2_sha512",
)
_IDENTIFY = CryptContext(schemes=list(_SCHEMES))


def _parse(stored: str):
    """passlib's parsed form of ``stored``; None when no accepted scheme claims it;
    ValueError/TypeError when one claims it but cannot read it."""
    scheme = _IDENTIFY.identify(stored)
    if scheme is None and stored[:7].upper() == "{CRYPT}":  # e.g. {CRYPT}$2b$ (bcrypt)
        stored = stored[7:]
        scheme = _IDENTIFY.identify(stored)
    if scheme is None:
        return None
    handler = _IDENTIFY.handler(scheme)
    while isinstance(handler, PrefixWrapper):  # e.g. {CRYPT} around sha512_crypt
        stored = handler.orig_prefix + stored[len(handler.prefix) :]
        handler = handler.wrapped
    return handler.from_string(stored)


def parsed(stored: str):
    """passlib's parsed form of ``stored`` (with ``rounds``, ``memory_cost``, …), or None
    for a hash no accepted scheme can read (see ``malformed``)."""
    try:
        return _parse(stored)
    except (ValueError, TypeError):
        return None


def malformed(stored: str) -> str | None:
    """Why a hash that looks like an accepted scheme can never verify (``$6$rounds=05000$``
    is zero-padded, ``rounds=999`` is below sha512-crypt's minimum), or None. Sign-in
    refuses such a hash at every attempt, so an import must refuse the row instead."""
    try:
        _parse(stored)
    except (ValueError, TypeError) as exc:
        return str(exc) or "unreadable"
    return None


@dataclass(frozen=True)
class HashBounds:
    sha_crypt_rounds: int = 100_000
    bcrypt_cost: int = 12
    pbkdf2_rounds: int = 300_000
    argon2_memory_kib: int = 64 * 1024
    argon2_time_cost: int = 4
    argon2_parallelism: int = 4

    @classmethod
    def from_settings(cls, settings: Settings) -> HashBounds:
        # GovID's own argon2id parameters are inside the bounds whatever the settings say
        # (raising IDP_ARGON2_MEMORY_KIB must not lock everyone out).
        return cls(
            sha_crypt_rounds=settings.hash_max_sha_crypt_rounds,
            bcrypt_cost=settings.hash_max_bcrypt_cost,
            pbkdf2_rounds=settings.hash_max_pbkdf2_rounds,
            argon2_memory_kib=max(settings.hash_max_argon2_memory_kib, settings.argon2_memory_kib),
            argon2_time_cost=max(settings.hash_max_argon2_time_cost, settings.argon2_time_cost),
            argon2_parallelism=max(
                settings.hash_max_argon2_parallelism, settings.argon2_parallelism
            ),
        )

    def problem(self, stored: str) -> str | None:
        """None when verifying ``stored`` stays within the bounds (or it is no hash an
        accepted scheme reads); otherwise what is too large, and the bound."""
        h = parsed(stored)
        if h is None:
            return None
        name = h.name
        checks: list[tuple[str, int, int, str]] = []
        if name in ("sha512_crypt", "sha256_crypt"):
            checks.append(("rounds", h.rounds, self.sha_crypt_rounds, "HASH_MAX_SHA_CRYPT_ROUNDS"))
        elif name == "bcrypt":
            checks.append(("cost", h.rounds, self.bcrypt_cost, "HASH_MAX_BCRYPT_COST"))
        elif name.startswith("pbkdf2_"):
            checks.append(("rounds", h.rounds, self.pbkdf2_rounds, "HASH_MAX_PBKDF2_ROUNDS"))
        elif name == "argon2":
            checks += [
                ("m (KiB)", h.memory_cost, self.argon2_memory_kib, "HASH_MAX_ARGON2_MEMORY_KIB"),
                ("t", h.rounds, self.argon2_time_cost, "HASH_MAX_ARGON2_TIME_COST"),
                ("p", h.parallelism, self.argon2_parallelism, "HASH_MAX_ARGON2_PARALLELISM"),
            ]
        for what, value, bound, setting in checks:
            if value > bound:
                return f"{name} {what} {value} is above the work limit {bound} (IDP_{setting})"
        return None
