"""The clock (DESIGN §2 rule 4): wall time and monotonic time behind one small Protocol.

Expiry, idle timeouts, throttling and lockout, rate-limit windows, TOTP steps,
``auth_time`` and the lifetimes of signed links and interactions are decided with the
``Clock`` that ``Services`` holds, so tests move time instead of sleeping:

* ``SystemClock`` is the one real implementation;
* ``FakeClock`` is settable and moves only when told (in-process tests);
* ``OffsetFileClock`` is the system clock plus an offset that another process writes to a
  file: a test moves the time of a real ``idp serve`` subprocess with it. It is chosen by
  ``IDP_CLOCK_OFFSET_FILE``, which ``idp.config`` refuses when ``IDP_ENV=prod``.

tests/test_clock.py runs the same assertions against every implementation.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from pathlib import Path
from typing import Protocol


class Clock(Protocol):
    def now(self) -> dt.datetime:
        """The current time, timezone-aware UTC."""
        ...

    def time(self) -> float:
        """The current time in seconds since the epoch (``now().timestamp()``)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a clock that never goes back; only differences mean anything."""
        ...


class SystemClock:
    def now(self) -> dt.datetime:
        return dt.datetime.now(dt.UTC)

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock for tests: starts at ``start`` (default: the real time when made) and
    moves only by ``advance`` or ``set``; its monotonic time moves with it."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        start = start or dt.datetime.now(dt.UTC)
        if start.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        self._at = start.timestamp()
        self._mono = 1000.0

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self._at, dt.UTC)

    def time(self) -> float:
        return self._at

    def monotonic(self) -> float:
        return self._mono

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a clock does not go back; use set() to jump the wall time")
        self._at += seconds
        self._mono += seconds

    def set(self, when: dt.datetime) -> None:
        """Jump the wall time (monotonic time only ever moves forward)."""
        if when.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        self._mono += max(0.0, when.timestamp() - self._at)
        self._at = when.timestamp()


class OffsetFileClock:
    """The system clock plus the number of seconds written in ``path`` (an empty or a
    missing file: 0). The file is read at every reading, so another process, a test,
    moves this one's time by rewriting it (``write_offset``). For dev and test servers
    only (``IDP_CLOCK_OFFSET_FILE``): the read costs a few microseconds."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def offset(self) -> float:
        try:
            text = self.path.read_text().strip()
        except FileNotFoundError:
            return 0.0
        return float(text) if text else 0.0

    def now(self) -> dt.datetime:
        return dt.datetime.fromtimestamp(self.time(), dt.UTC)

    def time(self) -> float:
        return time.time() + self.offset()

    def monotonic(self) -> float:
        return time.monotonic() + self.offset()

    def advance(self, seconds: float) -> None:
        """Move this clock, and every process reading the same file, ``seconds`` on."""
        if seconds < 0:
            raise ValueError("a clock does not go back")
        write_offset(self.path, self.offset() + seconds)


def write_offset(path: str | Path, seconds: float) -> None:
    """Replace the offset atomically: readers never see a half-written number."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}")
    tmp.write_text(repr(float(seconds)))
    os.replace(tmp, path)


def make_clock(offset_file: str = "") -> Clock:
    """The clock ``Services`` holds: the system's, or for a dev/test server started with
    ``IDP_CLOCK_OFFSET_FILE`` the system's plus that file's offset."""
    return OffsetFileClock(offset_file) if offset_file else SystemClock()
