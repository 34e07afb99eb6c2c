"""Redis for GovID: one client per process with timeouts, Sentinel URLs, and a
breaker so that a Redis outage costs a request at most one timeout and then nothing.

URLs (``IDP_REDIS_URL``):

- ``redis://[:password@]host:port/db`` or ``rediss://...``: one server (redis-py's own
  ``from_url``);
- ``redis+sentinel://[:password@]host1:port1,host2:port2/<master name>[/<db>]``: the
  master named by the Sentinels listed (redis-py's ``Sentinel.master_for``); the password
  is the master's; ``?sentinel_password=`` is the Sentinels' own if they have one. After a
  failover the client asks the Sentinels again on its next connection.

Redis holds only what may be lost (throttle and rate-limit counters): when it does not
answer, callers use the database instead (``FallbackThrottleStore``) and ``/readyz`` says
so; ``RedisBreaker`` stops trying for ``IDP_REDIS_RETRY_SECONDS`` after a failure.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from prometheus_client import Gauge

from idp import metrics

log = logging.getLogger(__name__)

DEGRADED = Gauge(
    "govid_redis_degraded",
    "1 while Redis does not answer and its counters are kept in the database",
    registry=metrics.REGISTRY,
)

SENTINEL_SCHEMES = ("redis+sentinel", "rediss+sentinel")


def _hosts(netloc: str) -> list[tuple[str, int]]:
    hosts = []
    for item in netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = item.strip().rpartition(":")
        if not host:  # no port given
            host, port = port, "26379"
        hosts.append((host.strip("[]"), int(port)))
    return hosts


def make_client(url: str, timeout: float):
    """A redis-py client for ``url`` with ``timeout`` on connect and on every answer."""
    import redis

    parts = urlsplit(url)
    common: dict[str, Any] = {
        "socket_timeout": timeout,
        "socket_connect_timeout": timeout,
        "health_check_interval": 30,
    }
    if parts.scheme not in SENTINEL_SCHEMES:
        return redis.Redis.from_url(url, **common)
    from redis.sentinel import Sentinel

    segments = [s for s in parts.path.split("/") if s]
    if not segments:
        raise ValueError("IDP_REDIS_URL: redis+sentinel:// needs /<master name> after the hosts")
    name = unquote(segments[0])
    db = int(segments[1]) if len(segments) > 1 else 0
    query = parse_qs(parts.query)
    password = unquote(parts.password) if parts.password else None
    sentinel_kwargs = dict(common)
    if "sentinel_password" in query:
        sentinel_kwargs["password"] = query["sentinel_password"][0]
    ssl = parts.scheme.startswith("rediss")
    sentinel = Sentinel(_hosts(parts.netloc), sentinel_kwargs=sentinel_kwargs, ssl=ssl, **common)
    return sentinel.master_for(name, db=db, password=password, ssl=ssl, **common)


def redacted(url: str) -> str:
    """The URL without its password (for logs and /readyz)."""
    parts = urlsplit(url)
    if parts.password:
        netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
        return parts._replace(netloc=netloc).geturl()
    return url


class RedisBreaker:
    """After a failure, Redis is not tried again for ``retry_seconds`` (every request would
    otherwise wait a timeout first); one request then tries it again."""

    def __init__(self, client, retry_seconds: float) -> None:
        self.client = client
        self.retry_seconds = retry_seconds
        self._down_until = 0.0
        self._lock = threading.Lock()
        self.last_error: str | None = None

    def available(self) -> bool:
        return time.monotonic() >= self._down_until

    def failed(self, exc: BaseException) -> None:
        with self._lock:
            first = self.available()
            self._down_until = time.monotonic() + self.retry_seconds
            self.last_error = type(exc).__name__
        DEGRADED.set(1)
        if first:
            log.warning(
                "redis unavailable (%s): using the database for %g s",
                type(exc).__name__,
                self.retry_seconds,
            )

    def succeeded(self) -> None:
        if self.last_error is not None:
            with self._lock:
                if self.last_error is not None:
                    log.warning("redis answers again")
                self.last_error = None
                DEGRADED.set(0)

    def probe(self) -> str | None:
        """Ping now (``/readyz``): None when Redis answers, else the kind of failure."""
        try:
            self.client.ping()
        except Exception as exc:
            self.failed(exc)
            return type(exc).__name__
        self._down_until = 0.0
        self.succeeded()
        return None


def redis_errors() -> tuple[type[BaseException], ...]:
    from redis import exceptions

    # ConnectionError covers refused, reset and "no master" from the Sentinels
    # (MasterNotFoundError); TimeoutError no answer in time; a READONLY replica after a
    # failover is a ResponseError.
    return (exceptions.ConnectionError, exceptions.TimeoutError, exceptions.ReadOnlyError)
