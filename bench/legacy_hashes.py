"""CPU of one wrong-password verification of a legacy (imported) hash at each scheme's
work limit (issue 17 item 5), against GovID's own argon2id, on this host.

    .venv/bin/python bench/legacy_hashes.py [--rounds 5]

Each hash is made at the limit of its scheme (``idp.credentials.hash_bounds``, the
``IDP_HASH_MAX_*`` defaults) and verified with a wrong password through GovID's
``PasswordHasher`` (production argon2id parameters, its slot bound), timing the CPU of
the process (argon2 with p > 1 uses threads); the best of ``--rounds`` counts. Then a
hash far beyond its limit, which the hasher refuses without verifying: its cost is the
dummy argon2id verification that keeps the answer's timing the same.

It is also the check at production work factors (bcrypt 12, sha512-crypt up to the limit)
that the test suite leaves out: every hash inside its limit must verify the right
password, or the script fails.
"""

from __future__ import annotations

import argparse
import logging
import time
import warnings

import argon2.low_level as a2
from passlib import hash as h

from idp.config import Settings
from idp.credentials.hash_bounds import HashBounds
from idp.credentials.passwords import PasswordHasher

PASSWORD = "the old mail password"


def cpu_ms(hasher: PasswordHasher, stored: str, rounds: int) -> float:
    hasher.verify("wrong password", stored)  # warm-up
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        assert hasher.verify("wrong password", stored) is False
        best = min(best, time.process_time() - started)
    return best * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    logging.disable(logging.WARNING)  # the refusals' log lines, once per verification
    warnings.simplefilter("ignore")  # passlib on the made-up bcrypt hash beyond the limit
    settings = Settings()
    hasher = PasswordHasher(settings)
    b = HashBounds.from_settings(settings)
    argon2_at_bound = a2.hash_secret(
        PASSWORD.encode(), b"sixteen byte slt", b.argon2_time_cost, b.argon2_memory_kib,
        b.argon2_parallelism, 32, a2.Type.ID,
    ).decode()  # fmt: skip
    rows = [
        (f"argon2id, GovID's own ({hasher.parameters})", hasher.hash(PASSWORD)),
        ("{SSHA} (fixed cost)", h.ldap_salted_sha1.hash(PASSWORD)),
        ("{SSHA512} (fixed cost)", h.ldap_salted_sha512.hash(PASSWORD)),
        ("sha512-crypt, rounds=5000 (glibc default)",
         h.sha512_crypt.using(rounds=5000).hash(PASSWORD)),
        ("{CRYPT}sha512-crypt, rounds=5000 (glibc default)",
         h.ldap_sha512_crypt.using(rounds=5000).hash(PASSWORD)),
        (f"sha512-crypt, rounds={b.sha_crypt_rounds} (limit)",
         h.sha512_crypt.using(rounds=b.sha_crypt_rounds).hash(PASSWORD)),
        (f"sha256-crypt, rounds={b.sha_crypt_rounds} (limit)",
         h.sha256_crypt.using(rounds=b.sha_crypt_rounds).hash(PASSWORD)),
        ("bcrypt, cost 10 (common)", h.bcrypt.using(rounds=10).hash(PASSWORD)),
        (f"bcrypt, cost {b.bcrypt_cost} (limit)",
         h.bcrypt.using(rounds=b.bcrypt_cost).hash(PASSWORD)),
        (f"{{PBKDF2}} SHA-1, rounds={b.pbkdf2_rounds} (limit)",
         h.ldap_pbkdf2_sha1.using(rounds=b.pbkdf2_rounds).hash(PASSWORD)),
        (f"{{PBKDF2-SHA256}}, rounds={b.pbkdf2_rounds} (limit)",
         h.ldap_pbkdf2_sha256.using(rounds=b.pbkdf2_rounds).hash(PASSWORD)),
        (f"{{PBKDF2-SHA512}}, rounds={b.pbkdf2_rounds} (limit)",
         h.ldap_pbkdf2_sha512.using(rounds=b.pbkdf2_rounds).hash(PASSWORD)),
        (f"argon2id m={b.argon2_memory_kib},t={b.argon2_time_cost},"
         f"p={b.argon2_parallelism} (limit)", argon2_at_bound),
        ("sha512-crypt, rounds=999999999 (refused, beyond)",
         "$6$rounds=999999999$saltsalt$" + "a" * 86),
        ("bcrypt, cost 31 (refused, beyond)", "$2b$31$" + "b" * 53),
        ("argon2id m=4194304,t=100000 (refused, beyond)",
         "$argon2id$v=19$m=4194304,t=100000,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43),
    ]  # fmt: skip
    print(f"argon2id backend: {hasher.backend}; slots: {hasher.areas.slots}")
    print(f"{'hash':58} {'CPU ms':>8}  verified?")
    for label, stored in rows:
        refused = hasher.out_of_bounds(stored)
        # The check at production work factors that tests/credentials skips (it hashes at
        # each scheme's lowest cost): the right password verifies up to each limit.
        if not refused and not hasher.verify(PASSWORD, stored):
            raise SystemExit(f"{label}: the right password does not verify")
        ms = cpu_ms(hasher, stored, args.rounds)
        print(f"{label:58} {ms:8.1f}  {'no: out of bounds' if refused else 'yes'}")


if __name__ == "__main__":
    main()
