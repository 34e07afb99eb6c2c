"""Waiting for something another process or thread does, without sleeping blind.

Tests move time with the Clock (``world.clock.advance``, ``FakeClock``); what is left is
waiting for a real process (a server listening, a row written by a worker, a mail
arriving): poll for the condition with a deadline, and fail saying what never happened.
This module holds the suite's one polling sleep.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(AssertionError):
    """The condition did not hold within the deadline (a test failure, not an error)."""


def poll(predicate: Callable[[], T], timeout: float, every: float = 0.05) -> T:
    """``predicate()``'s first truthy value, or its last (falsy) value after ``timeout``
    seconds. For callers that report the failure themselves; see ``wait_until``."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(every)


def wait_until(
    predicate: Callable[[], T],
    timeout: float,
    what: str | Callable[[], str],
    every: float = 0.05,
) -> T:
    """Poll ``predicate`` every ``every`` seconds until it returns something truthy and
    return that; after ``timeout`` seconds fail with "timed out after N s waiting for
    <what>" (``what`` may be a callable, evaluated only then, to show the state seen).
    An exception raised by the predicate (a server that exited, say) propagates."""
    value = poll(predicate, timeout, every)
    if not value:
        raise WaitTimeout(
            f"timed out after {timeout:g} s waiting for {what() if callable(what) else what}"
        )
    return value


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts TCP connections on ``host:port`` now."""
    try:
        socket.create_connection((host, port), timeout=0.5).close()
    except OSError:
        return False
    return True


def listening(check: Callable[[], object], *errors: type[BaseException]) -> Callable[[], bool]:
    """A predicate that is true once ``check()`` runs without raising one of ``errors``
    (a connection refused while a server starts): ``wait_until(listening(...), ...)``."""

    def predicate() -> bool:
        try:
            check()
        except errors:
            return False
        return True

    return predicate
