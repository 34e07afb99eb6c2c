"""The rate limits' budgets (decision 0012, overview in ``idp.ratelimit``): a budget per
fixed window shared by every worker, spent locally by the slice; the limiter the app
holds (``Services.rate_limiter``) and its refusal counter."""

from __future__ import annotations

import logging
import math
import time
from collections import Counter
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool

from idp.credentials.throttle import DbThrottleStore, RedisThrottleStore, window_key

log = logging.getLogger(__name__)

MAX_KEY = 200


@dataclass
class _Slice:
    window: int
    available: int = 0
    exhausted: bool = False


class SharedBudget:
    """Per-process slices of budgets shared through ``lease(key, window, n, limit)``,
    which adds ``n`` to the shared counter and says how many of them fit the limit."""

    def __init__(self, lease, window_seconds: int, clock=time.time) -> None:
        self.lease = lease
        self.seconds = window_seconds
        self.clock = clock
        self.slices: dict[str, _Slice] = {}

    def _retry_after(self, window: int, now: float) -> int:
        return max(1, math.ceil((window + 1) * self.seconds - now))

    def _slice(self, key: str, window: int) -> _Slice:
        s = self.slices.get(key)
        if s is None or s.window != window:
            if s is None and len(self.slices) > 50_000:
                self.slices = {k: v for k, v in self.slices.items() if v.window >= window}
            s = self.slices[key] = _Slice(window)
        return s

    async def take(self, key: str, limit: int) -> int:
        """0 when the request may go on, else the seconds until the window ends."""
        now = self.clock()
        window = int(now // self.seconds)
        s = self._slice(key, window)
        if s.available > 0:
            s.available -= 1
            return 0
        if s.exhausted:
            return self._retry_after(window, now)
        want = max(1, min(limit // 20, 10_000))
        granted = await run_in_threadpool(self.lease, key, window, want, limit)
        s = self._slice(key, window)
        if granted <= 0:
            s.exhausted = True
            return self._retry_after(window, now)
        s.available += granted - 1
        return 0

    def give_back(self, key: str) -> None:
        s = self.slices.get(key)
        if s is not None and s.window == int(self.clock() // self.seconds):
            s.available += 1

    def exhausted(self, key: str) -> int:
        """The wait if this process already knows the key's budget is spent (no I/O)."""
        s = self.slices.get(key)
        now = self.clock()
        if s is not None and s.exhausted and s.window == int(now // self.seconds):
            return self._retry_after(s.window, now)
        return 0


class RefusalCounter:
    """Refusals per surface since start (for a /metrics exporter) and a log summary."""

    def __init__(self, every_seconds: float = 60.0) -> None:
        self.total: Counter[str] = Counter()
        self._pending: Counter[str] = Counter()
        self.every = every_seconds
        self._next = time.monotonic() + every_seconds

    def count(self, surface: str) -> None:
        self.total[surface] += 1
        self._pending[surface] += 1
        if time.monotonic() >= self._next:
            self.flush()

    def flush(self) -> None:
        self._next = time.monotonic() + self.every
        if self._pending:
            summary = ", ".join(f"{k}={v}" for k, v in sorted(self._pending.items()))
            log.warning("rate limits refused requests: %s", summary)
            self._pending.clear()

    def snapshot(self) -> dict[str, int]:
        return dict(self.total)


class RateLimiter:
    def __init__(self, services) -> None:
        self.services = services
        s = services.settings
        self.settings = s
        self.enabled = s.rate_limits
        self.budget = SharedBudget(self._lease, s.rate_limit_window_seconds, services.clock.time)
        self.refusals = RefusalCounter()
        self._next_purge = 0.0

    def _lease(self, key: str, window: int, n: int, limit: int) -> int:
        """Runs in the thread pool: one atomic increment in Redis or the database."""
        seconds = self.settings.rate_limit_window_seconds
        now = self.services.clock.now()
        counter, expires = window_key(f"rl:{key}", seconds, now)
        if int(now.timestamp() // seconds) != window:  # the window ended meanwhile
            return n
        try:
            total = None
            redis = self.services.redis
            if redis is not None and self.services.redis_breaker.available():
                try:
                    total = RedisThrottleStore(redis).add(counter, n, now, expires)
                except Exception as exc:  # Redis down: the database's counter
                    self.services.redis_breaker.failed(exc)
            if total is None:
                with self.services.sessions() as db, db.begin():
                    store = DbThrottleStore(db)
                    total = store.add(counter, n, now, expires)
                    if time.monotonic() >= self._next_purge:
                        self._next_purge = time.monotonic() + 60
                        store.purge(now)
        except Exception:  # the limiter must not turn an outage into refusals or 500s
            log.warning("rate limit store unavailable; allowing", exc_info=True)
            return n
        return max(0, min(n, limit - (total - n)))

    async def take(self, surface: str, key: str, limit: int) -> int:
        if not limit:
            return 0
        wait = await self.budget.take(f"{surface}:{key}"[:MAX_KEY], limit)
        if wait:
            self.refusals.count(surface)
        return wait

    def give_back(self, surface: str, key: str) -> None:
        self.budget.give_back(f"{surface}:{key}"[:MAX_KEY])

    def address_exhausted(self, ip: str | None) -> int:
        if not self.settings.rate_limit_per_address:
            return 0
        wait = self.budget.exhausted(f"addr:{ip}"[:MAX_KEY])
        if wait:
            self.refusals.count("addr")
        return wait

    async def charge_address(self, ip: str | None) -> None:
        """Spend from the address's budget after the fact (an unauthenticated answer);
        when it runs out, ``address_exhausted`` refuses the address's next requests."""
        limit = self.settings.rate_limit_per_address
        if limit:
            await self.budget.take(f"addr:{ip}"[:MAX_KEY], limit)
