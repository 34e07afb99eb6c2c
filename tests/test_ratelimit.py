"""The rate limiter's shared budget (idp/ratelimit/budget.py, decision 0012): slices of one
per-window budget, the same assertions against Redis, PostgreSQL and SQLite; the
trusted-proxy rule for the client's address (idp/net.py)."""

from __future__ import annotations

import asyncio
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest

from idp.net import ClientAddress, parse_networks
from idp.ratelimit.budget import RateLimiter, SharedBudget
from idp.ratelimit.callers import bearer_caller
from idp.services import Services
from tests.conftest import make_settings, service_missing


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def shared_counter():
    counts: dict[tuple[str, int], int] = {}

    def lease(key: str, window: int, n: int, limit: int) -> int:
        counts[key, window] = total = counts.get((key, window), 0) + n
        return max(0, min(n, limit - (total - n)))

    return lease


def run(coro):
    """The coroutine on an event loop of its own, in a thread of its own: a browser test
    earlier in the run may still hold the main thread's loop (Playwright's sync API)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result(timeout=60)


def test_processes_never_grant_more_than_the_limit_and_recover_next_window():
    clock, lease = Clock(), shared_counter()
    a, b = SharedBudget(lease, 10, clock), SharedBudget(lease, 10, clock)

    async def burst(limit: int, n: int) -> list[int]:
        return [await (a if i % 2 else b).take("token:c", limit) for i in range(n)]

    waits = run(burst(30, 100))
    assert waits.count(0) == 30  # slices of 1 (30 // 20): exact
    assert set(waits) - {0} == {10}  # Retry-After: the rest of the window
    clock.t += 4
    assert run(a.take("token:c", 30)) == 6 and a.exhausted("token:c") == 6
    clock.t += 6  # the next window
    assert run(a.take("token:c", 30)) == 0 and a.exhausted("token:c") == 0


def test_large_budgets_are_taken_in_slices_and_at_most_one_slice_per_process_strands():
    clock, calls = Clock(), []
    inner = shared_counter()

    def lease(*args):
        calls.append(args)
        return inner(*args)

    a, b = SharedBudget(lease, 10, clock), SharedBudget(lease, 10, clock)
    granted = sum(run((a if i % 3 else b).take("token:big", 1000)) == 0 for i in range(1200))
    assert 1000 - 50 <= granted <= 1000  # slices of 50
    assert len(calls) <= 1000 // 50 + 2  # one shared round trip per slice, not per token


def test_a_given_back_request_does_not_count():
    clock = Clock()
    a = SharedBudget(shared_counter(), 10, clock)
    assert run(a.take("admin:x", 1)) == 0
    a.give_back("admin:x")
    assert run(a.take("admin:x", 1)) == 0
    assert run(a.take("admin:x", 1)) > 0


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def limiters(request):
    url = request.getfixturevalue("pg_url" if request.param != "sqlite" else "sqlite_url")
    extra = {}
    if request.param == "redis":
        import redis

        try:
            redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2).ping()
        except redis.ConnectionError as exc:
            service_missing(f"Redis unreachable on 127.0.0.1:6379: {exc}")
        extra["redis_url"] = "redis://127.0.0.1:6379/0"
    made = [Services(make_settings(url, rate_limits=True, **extra)) for _ in range(2)]
    yield [s.rate_limiter for s in made]
    for s in made:
        s.close()


def test_two_processes_share_one_budget_in_the_store(limiters):
    key = uuid.uuid4().hex  # a caller of its own on the shared store

    async def burst() -> list[int]:
        return [await limiters[i % 2].take("token", key, 7) for i in range(20)]

    waits = run(burst())
    assert waits.count(0) == 7
    assert all(1 <= w <= 10 for w in waits if w)
    refused = sum(lim.refusals.snapshot().get("token", 0) for lim in limiters)
    assert refused == 20 - 7  # counted one by one, for a /metrics exporter


def test_x_forwarded_for_is_read_only_behind_trusted_proxies():
    def scope(peer: str, *xff: str) -> dict:
        return {"client": (peer, 1234), "headers": [(b"x-forwarded-for", v.encode()) for v in xff]}

    nobody = ClientAddress(parse_networks(""))
    assert nobody(scope("127.0.0.1", "203.0.113.1")) == "127.0.0.1"
    proxies = ClientAddress(parse_networks("10.0.0.0/8, 192.0.2.10"))
    assert proxies(scope("198.51.100.1", "203.0.113.1")) == "198.51.100.1"  # not a proxy
    assert proxies(scope("10.1.2.3", "203.0.113.1")) == "203.0.113.1"
    # Right-most untrusted: a client cannot hide behind an address it writes itself.
    assert proxies(scope("10.1.2.3", "1.2.3.4, 203.0.113.1, 192.0.2.10")) == "203.0.113.1"
    assert proxies(scope("10.1.2.3", "1.2.3.4", "203.0.113.2")) == "203.0.113.2"
    assert proxies(scope("10.1.2.3", "[2001:db8::5]:443")) == "2001:db8::5"
    assert proxies(scope("10.1.2.3", "junk, 10.9.9.9")) == "10.9.9.9"
    assert proxies(scope("10.1.2.3")) == "10.1.2.3"


def test_the_caller_is_read_from_the_token_without_trusting_it():
    import base64
    import json

    claims = base64.urlsafe_b64encode(json.dumps({"client_id": "c1", "sub": "s1"}).encode())
    token = f"e30.{claims.decode().rstrip('=')}.sig"
    assert bearer_caller({"headers": [(b"authorization", f"Bearer {token}".encode())]}) == ("c1|s1")
    assert bearer_caller({"headers": [(b"authorization", b"Bearer opaque")]}) is None
    assert bearer_caller({"headers": []}) is None


def test_settings_refuse_a_bad_trusted_proxy():
    with pytest.raises(ValueError, match="IDP_TRUSTED_PROXIES"):
        make_settings("sqlite://", trusted_proxies="10.0.0.0/8, proxy.example")
    assert make_settings("sqlite://", trusted_proxies="10.0.0.1 ::1").trusted_proxies == (
        "10.0.0.1/32,::1/128"
    )


def test_rate_limiter_is_off_when_disabled():
    s = Services(make_settings("sqlite://", rate_limits=False))
    assert isinstance(s.rate_limiter, RateLimiter) and not s.rate_limiter.enabled
