"""argon2id verification cost per backend, on one core (issue 5, S3).

    .venv/bin/python bench/argon2_backends.py [--rounds 40] [--m 19456] [--t 2]

Prints CPU milliseconds per verification of the same PHC hash with argon2-cffi (passlib's
argon2 backend; `make install` rebuilds it with AVX2 where the CPU has it) as the library
calls it (its own malloc) and in GovID's reusable huge-page work area
(idp/credentials/argon2_memory.py), with libsodium (PyNaCl), and with four threads at
once on the one core: unbounded library calls against GovID's hasher (one slot per CPU,
so one here). Then the sign-ins per second of one core that the hash alone would allow,
and the backend that idp.credentials.passwords chooses on this host
(``IDP_ARGON2_BACKEND=auto``).

node-oidc-provider's side of S3 (bench/node-oidc-provider, ``@node-rs/argon2``) at the
same parameters, for comparison in the same minute:
``taskset -c 0 node bench/node-oidc-provider/argon2_cpu.mjs 40``.
"""

from __future__ import annotations

import argparse
import os
import threading
import time

import nacl.pwhash.argon2id as sodium
from argon2 import PasswordHasher

from idp.credentials.argon2_memory import WorkAreas
from idp.credentials.passwords import fastest_backend


def threaded_ms(fn, rounds: int, threads: int = 4) -> float:
    """CPU ms per call with ``threads`` threads calling at once (as a server's pool does)."""
    fn()

    def worker() -> None:
        for _ in range(rounds // threads):
            fn()

    t = time.process_time()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()
    return (time.process_time() - t) / (rounds // threads * threads) * 1000


def cpu_ms(fn, rounds: int) -> float:
    fn()  # warm the allocator
    t = time.process_time()
    for _ in range(rounds):
        fn()
    return (time.process_time() - t) / rounds * 1000


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--rounds", type=int, default=40)
    p.add_argument("--m", type=int, default=19 * 1024, help="memory in KiB")
    p.add_argument("--t", type=int, default=2, help="passes")
    a = p.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {0})
    pw = "correct horse battery staple"
    stored = PasswordHasher(time_cost=a.t, memory_cost=a.m, parallelism=1).hash(pw)
    cffi = PasswordHasher()
    areas = WorkAreas(a.m, 1)  # one CPU: one slot, as the server pinned to CPU 0 has

    def in_area() -> bool:
        with areas.slot() as area:
            return area.verify(stored, pw.encode())

    assert in_area()
    rows = [
        ("argon2-cffi", cpu_ms(lambda: cffi.verify(stored, pw), a.rounds)),
        ("argon2-cffi, work area", cpu_ms(in_area, a.rounds)),
        ("libsodium", cpu_ms(lambda: sodium.verify(stored.encode(), pw.encode()), a.rounds)),
        ("argon2-cffi, 4 threads", threaded_ms(lambda: cffi.verify(stored, pw), a.rounds)),
        ("work area, 4 threads", threaded_ms(in_area, a.rounds)),
    ]
    print(f"argon2id m={a.m} KiB t={a.t} p=1, {a.rounds} verifications each, pinned to CPU 0")
    print(f"{'backend':<24} {'ms CPU':>8} {'verifications/s per core':>26}")
    for name, ms in rows:
        print(f"{name:<24} {ms:8.2f} {1000 / ms:26.1f}")
    print(f"libsodium / argon2-cffi time: {rows[2][1] / rows[0][1]:.2f}")
    print(f"GovID's hasher (auto) uses: {fastest_backend(stored, areas)}")


if __name__ == "__main__":
    main()
