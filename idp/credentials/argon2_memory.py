"""Reusable, bounded working memory for argon2id (speed, decision 0009; and a memory bound).

argon2id is memory-hard on purpose: each verification fills ``m`` KiB (19 MiB by
default) in a data-dependent order (RFC 9106 §3.4). Two things follow for a server:

- **A bound.** Sign-ins run in a thread pool (40 threads); left alone, 40 concurrent
  verifications would take 760 MiB and share one core's caches. ``WorkAreas`` lets at
  most ``slots`` computations run at once per process (default: the CPUs the process may
  run on); the others wait their turn, which costs no more time than sharing the CPU
  would, and the CPU caches serve one 19 MiB area instead of several (measured: ~20 %
  more CPU per hash with four threads on one core than with one).
- **Memory that is already there.** Each slot owns one area, mapped once, aligned to
  2 MiB and advised for transparent huge pages (``MADV_HUGEPAGE``; Linux's default THP
  mode is ``madvise``). argon2's random reads then miss the TLB far less, and no hash
  pays page faults for fresh memory (in a VM those cost ~1.5–2 µs per 4 KiB page).
  Measured here: 8–10 % less CPU per hash than argon2-cffi's own ``malloc``.

The computation is argon2-cffi's documented low-level binding to the reference code
(``argon2.low_level.core``, i.e. ``argon2_ctx``) with the context's ``allocate_cbk``
pointing at the slot's area; the stored tag is compared in constant time. Only hashes
that fit the areas go this way (a stored hash with a larger ``m`` — written under older
settings — is verified by ``argon2.low_level.verify_secret`` itself, still inside a slot).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import mmap
import os
import queue
from collections.abc import Iterator

import argon2.exceptions
import argon2.low_level as a2

_HUGE = 2 << 20  # a transparent huge page on x86-64 and arm64 (4 KiB base pages)
_ID = a2.Type.ID.value


def default_slots() -> int:
    """The CPUs this process may run on (``taskset``/cgroup cpusets narrow it)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _b64(text: str) -> bytes:
    # PHC strings use unpadded standard base64 (B64 in the PHC string format spec).
    return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)


class _Area:
    """One slot's working memory and the two C callbacks argon2 asks for it through."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._map = mmap.mmap(-1, size + _HUGE, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
        if hasattr(mmap, "MADV_HUGEPAGE"):
            with contextlib.suppress(OSError):  # THP off: plain pages, still reused
                self._map.madvise(mmap.MADV_HUGEPAGE)
        base = a2.ffi.from_buffer(self._map)
        start = int(a2.ffi.cast("uintptr_t", base))
        self._pointer = a2.ffi.cast("uint8_t *", base + (-start % _HUGE))

        @a2.ffi.callback("int(uint8_t **, size_t)")
        def allocate(memory, length):
            if length > self.size:
                return a2.lib.ARGON2_MEMORY_ALLOCATION_ERROR
            memory[0] = self._pointer
            return a2.lib.ARGON2_OK

        @a2.ffi.callback("void(uint8_t *, size_t)")
        def release(_memory, _length):
            pass  # the area stays for the next computation

        self._callbacks = (allocate, release)  # kept alive as long as the area

    def verify(self, stored: str, password: bytes) -> bool:
        """Verify an ``$argon2id$v=19$m=…,t=…,p=…$salt$tag`` string (already parsed by
        passlib, so well-formed) against ``password``; ValueError if argon2 refuses it."""
        fields = stored.split("$")
        if len(fields) != 6 or fields[2] != f"v={a2.ARGON2_VERSION}":
            return _verify_secret(stored, password)  # Argon2 1.0 (v=16)
        _, _, _, params, salt_b64, tag_b64 = fields
        try:
            cost = dict(kv.split("=", 1) for kv in params.split(","))
            m, t, p = int(cost["m"]), int(cost["t"]), int(cost["p"])
        except (KeyError, ValueError) as exc:
            raise ValueError("unusable argon2id hash") from exc
        if m * 1024 > self.size:
            return _verify_secret(stored, password)
        salt, tag = _b64(salt_b64), _b64(tag_b64)
        out = a2.ffi.new("uint8_t[]", len(tag))
        pwd = a2.ffi.new("uint8_t[]", password)
        c_salt = a2.ffi.new("uint8_t[]", salt)
        ctx = a2.ffi.new(
            "argon2_context *",
            {
                "out": out,
                "outlen": len(tag),
                "pwd": pwd,
                "pwdlen": len(password),
                "salt": c_salt,
                "saltlen": len(salt),
                "secret": a2.ffi.NULL,
                "secretlen": 0,
                "ad": a2.ffi.NULL,
                "adlen": 0,
                "t_cost": t,
                "m_cost": m,
                "lanes": p,
                "threads": p,
                "version": a2.ARGON2_VERSION,
                "allocate_cbk": self._callbacks[0],
                "free_cbk": self._callbacks[1],
                # Wipe the password buffer after use (the area is reused, not wiped:
                # the tag and the password cannot be read back from it).
                "flags": a2.lib.ARGON2_FLAG_CLEAR_PASSWORD,
            },
        )
        rc = a2.core(ctx, _ID)
        if rc != a2.lib.ARGON2_OK:
            raise ValueError(f"unusable argon2id hash: {a2.error_to_str(rc)}")
        return hmac.compare_digest(a2.ffi.buffer(out)[:], tag)


def _verify_secret(stored: str, password: bytes) -> bool:
    try:
        return a2.verify_secret(stored.encode("ascii"), password, a2.Type.ID)
    except argon2.exceptions.VerifyMismatchError:
        return False
    except argon2.exceptions.VerificationError as exc:
        raise ValueError("unusable argon2id hash") from exc


class WorkAreas:
    """``slots`` argon2 working areas of ``memory_kib`` each, mapped on first use."""

    def __init__(self, memory_kib: int, slots: int) -> None:
        self.slots = slots
        self._size = memory_kib * 1024
        self._free: queue.LifoQueue[_Area | None] = queue.LifoQueue()
        for _ in range(slots):
            self._free.put(None)  # mapped when first taken

    @contextlib.contextmanager
    def slot(self) -> Iterator[_Area]:
        """Wait for a free slot (the bound) and lend its area; the most recently used
        area first, as its pages are the likeliest still in the caches."""
        area = self._free.get()
        try:
            if area is None:
                area = _Area(self._size)
            yield area
        finally:
            self._free.put(area)
