"""Password hashing with argon2id through passlib's CryptContext (libpass).

Hashes imported from the old mail system ({SSHA}, {SSHA512}, {CRYPT}/$6$, bcrypt,
{PBKDF2}) verify through the same context and are marked deprecated, so the first
successful sign-in re-hashes them to argon2id (``needs_update``).

The argon2id computation itself (RFC 9106) runs in one of two well-kept libraries, both
writing and reading the same PHC string (``$argon2id$v=19$m=…,t=…,p=…$salt$hash``, tested
both ways): argon2-cffi (the Argon2 authors' code; passlib's own backend) or libsodium
(PyNaCl). It is most of a sign-in's CPU (decision 0009), and which is faster depends on
the host (``bench/argon2_backends.py``):
- libsodium picks a vectorised block function at run time, but maps fresh memory for
  every hash (m = 19 MiB: ~4,900 page faults). Where page faults are cheap it was the
  faster (10.5 vs 14.4 ms); in a VM where they are dear they cost 8 ms of its 17.
- argon2-cffi reuses heap memory (no page faults). PyPI's wheel is built for SSE2 only;
  ``make install`` rebuilds it with AVX2 on a CPU that has it (9.7–10.5 ms where
  libsodium took 16–17).
- argon2-cffi computes in ``WorkAreas`` (idp/credentials/argon2_memory.py): one
  reusable 19 MiB area per slot, on transparent huge pages, and at most
  ``IDP_ARGON2_CONCURRENCY`` computations at once per process (every backend, hashing
  included), which bounds a worker's argon2 memory. Legacy verifications take a slot
  too, and a stored hash asking for more work than ``HashBounds`` allows is refused
  without being verified (idp/credentials/hash_bounds.py).
So with ``IDP_ARGON2_BACKEND=auto`` (the default) the hasher times one verification
with each at start-up (~0.1 s, once per process and parameter set) and uses the faster.
passlib still identifies schemes, parses parameters for ``needs_update`` and handles
every legacy format; libsodium only creates p=1 hashes, so another parallelism setting
hashes through passlib.
"""

from __future__ import annotations

import logging
import threading
import time

import argon2.exceptions
import argon2.low_level
import nacl.exceptions
import nacl.pwhash.argon2id as sodium_argon2id
from passlib.context import CryptContext
from passlib.utils.handlers import PrefixWrapper

from idp.config import Settings
from idp.credentials.argon2_memory import WorkAreas, default_slots
from idp.credentials.hash_bounds import HashBounds

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
BACKENDS = ("libsodium", "argon2-cffi")
log = logging.getLogger(__name__)


def _sodium_verify(stored: str, password: str, _area=None) -> bool:
    try:
        return sodium_argon2id.verify(stored.encode("ascii"), password.encode("utf-8"))
    except nacl.exceptions.InvalidkeyError:
        return False
    except (nacl.exceptions.CryptoError, UnicodeEncodeError) as exc:
        raise ValueError("unusable argon2id hash") from exc


def _cffi_verify(stored: str, password: str, area=None) -> bool:
    if area is not None:
        try:
            return area.verify(stored, password.encode("utf-8"))
        except UnicodeEncodeError as exc:
            raise ValueError("unusable password") from exc
    try:
        return argon2.low_level.verify_secret(
            stored.encode("ascii"), password.encode("utf-8"), argon2.low_level.Type.ID
        )
    except argon2.exceptions.VerifyMismatchError:
        return False
    except (argon2.exceptions.VerificationError, UnicodeEncodeError) as exc:
        raise ValueError("unusable argon2id hash") from exc


_VERIFY = {"libsodium": _sodium_verify, "argon2-cffi": _cffi_verify}
_measured: dict[tuple[int, int, int], str] = {}
_measure_lock = threading.Lock()


def fastest_backend(stored: str, areas: WorkAreas | None = None) -> str:
    """The backend that verifies ``stored`` (an argon2id hash with the configured
    parameters) in the least CPU time on this host: after one untimed run each (argon2-cffi
    reuses heap memory from its second hash on), each is timed twice, alternately, and its
    better time counts. Measured once per process and parameter set."""
    m, t, p = (int(v.split("=")[1]) for v in stored.split("$")[3].split(","))
    key = (m, t, p)
    with _measure_lock:
        if key not in _measured:
            areas = areas or WorkAreas(key[0], 1)
            best = dict.fromkeys(BACKENDS, float("inf"))
            with areas.slot() as area:
                for name in BACKENDS:  # untimed: the first use maps the memory
                    _VERIFY[name](stored, "govid-backend-probe", area)
                for _ in range(2):
                    for name in BACKENDS:
                        started = time.thread_time()
                        _VERIFY[name](stored, "govid-backend-probe", area)
                        best[name] = min(best[name], time.thread_time() - started)
            _measured[key] = min(BACKENDS, key=best.__getitem__)
            log.info(
                "argon2id m=%s t=%s p=%s: %s; using %s",
                *key,
                ", ".join(f"{n} {best[n] * 1000:.1f} ms" for n in BACKENDS),
                _measured[key],
            )
        return _measured[key]


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
        self.areas = WorkAreas(
            settings.argon2_memory_kib, settings.argon2_concurrency or default_slots()
        )
        self.bounds = HashBounds.from_settings(settings)
        choice = settings.argon2_backend
        self.backend: str = "libsodium" if choice == "auto" else choice  # until measured
        # Verified against when the account does not exist, so an unknown email costs
        # the same time as a wrong password (no user enumeration by timing).
        self._dummy = self.hash("govid-dummy-password-for-timing")
        self._current = self._dummy.rsplit("$", 2)[0] + "$"  # $argon2id$v=19$m=…,t=…,p=…$
        if choice == "auto":
            self.backend = fastest_backend(self._dummy, self.areas)
        self._argon2_verify = _VERIFY[self.backend]

    def hash(self, password: str) -> str:
        with self.areas.slot():  # the bound on concurrent argon2 memory
            if self._sodium_hash and self.backend == "libsodium":
                return sodium_argon2id.str(
                    password.encode("utf-8"), opslimit=self._opslimit, memlimit=self._memlimit
                ).decode("ascii")
            return self._ctx.hash(password)

    def verify(self, password: str, stored: str | None) -> bool:
        if not stored:
            self._verify(password, self._dummy)
            return False
        problem = self.out_of_bounds(stored)
        if problem:
            # Not verified at the cost it asks for: a wrong password.
            log.warning("stored password hash refused without verifying: %s", problem)
            self._verify(password, self._dummy)
            return False
        try:
            return self._verify(password, stored)
        except (ValueError, TypeError):
            # A malformed stored hash: spend the same time, then refuse.
            self._verify(password, self._dummy)
            return False

    def out_of_bounds(self, stored: str | None) -> str | None:
        """Why verifying ``stored`` would cost more than the work limits allow
        (idp/credentials/hash_bounds.py), or None. A hash with GovID's own parameters
        is inside without being parsed (the sign-in's hot path, decision 0009)."""
        if not stored or stored.startswith(self._current):
            return None
        return self.bounds.problem(stored)

    def _verify(self, password: str, stored: str) -> bool:
        if not stored.startswith(_ARGON2ID):
            # Legacy schemes too take a slot: at most IDP_ARGON2_CONCURRENCY
            # verifications of any scheme at once, so they cannot fill the thread pool.
            with self.areas.slot():
                return self._ctx.verify(password, stored)
        _parse(self._ctx.handler("argon2"), stored)  # ValueError when malformed
        with self.areas.slot() as area:
            return self._argon2_verify(stored, password, area)

    def needs_update(self, stored: str) -> bool:
        # Every sign-in asks; a hash written with the current parameters, salt and tag
        # sizes (the dummy's shape) is current without passlib's full parse.
        if len(stored) == len(self._dummy) and stored.startswith(self._current):
            return False
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
