"""The object graph built once per process from ``Settings``: engine, session factory,
hasher, cipher. ``create_app`` and the CLI both build one; nothing is a module global."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from idp.audit.batch import AuditBatcher, make_batcher
from idp.clients.cache import ClientCache
from idp.clock import Clock, make_clock
from idp.config import Settings
from idp.credentials.passwords import PasswordHasher
from idp.credentials.throttle import (
    DbThrottleStore,
    FallbackThrottleStore,
    RedisThrottleStore,
    ThrottleStore,
)
from idp.crypto import DataCipher
from idp.db import DbTimeouts, make_engine, make_session_factory
from idp.keys.service import KeyRing


@dataclass
class Services:
    settings: Settings
    # The IDP_DB_* limits toward PostgreSQL (idp.db.DbTimeouts): on for the service; the
    # CLI's long jobs (imports, audit verify and export) run without them.
    timeouts: bool = True
    # Wall and monotonic time for every expiry, timeout, window and auth_time (idp/clock.py);
    # tests pass a FakeClock, a dev/test server reads IDP_CLOCK_OFFSET_FILE.
    clock: Clock = None  # type: ignore[assignment]  # set in __post_init__ when not given
    engine: Engine = field(init=False)
    sessions: sessionmaker[Session] = field(init=False)

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = make_clock(self.settings.clock_offset_file)
        limits = DbTimeouts.of(self.settings) if self.timeouts else None
        self.engine = make_engine(self.settings.database_url, timeouts=limits)
        self.sessions = make_session_factory(self.engine)

    @cached_property
    def hasher(self) -> PasswordHasher:
        return PasswordHasher(self.settings)

    @cached_property
    def cipher(self) -> DataCipher:
        return DataCipher(self.settings.data_keys_bytes)

    @cached_property
    def redis(self):
        """A redis-py client (timeouts, Sentinel URLs: idp/redis_client.py), or None."""
        if not self.settings.redis_url:
            return None
        from idp.redis_client import make_client

        return make_client(self.settings.redis_url, self.settings.redis_timeout_seconds)

    @cached_property
    def redis_breaker(self):
        from idp.redis_client import RedisBreaker

        return RedisBreaker(self.redis, self.settings.redis_retry_seconds)

    def redis_problem(self) -> str | None:
        """None when Redis answers or is not configured, else the kind of failure."""
        if self.redis is None:
            return None
        return self.redis_breaker.probe()

    def throttle_store(self, db: Session) -> ThrottleStore:
        """Redis when configured (shared by hosts) and answering, else the database."""
        if self.redis is not None:
            return FallbackThrottleStore(
                RedisThrottleStore(self.redis), DbThrottleStore(db), self.redis_breaker
            )
        return DbThrottleStore(db)

    @cached_property
    def client_address(self):
        """The client's address behind IDP_TRUSTED_PROXIES (idp/net.py)."""
        from idp.net import ClientAddress, parse_networks

        return ClientAddress(parse_networks(self.settings.trusted_proxies))

    @cached_property
    def rate_limiter(self):
        """Per-process slices of the shared rate-limit budgets (idp/ratelimit/budget.py)."""
        from idp.ratelimit.budget import RateLimiter

        return RateLimiter(self)

    @cached_property
    def client_cache(self) -> ClientCache:
        return ClientCache(self.settings.client_cache_seconds, clock=self.clock)

    @cached_property
    def keys(self) -> KeyRing:
        return KeyRing(self.sessions, self.cipher)

    @cached_property
    def audit_batcher(self) -> AuditBatcher:
        limits = DbTimeouts.of(self.settings) if self.timeouts else None
        return make_batcher(self.engine, limits)

    @cached_property
    def pg_reader(self):
        """Reads on the event loop (``idp.pg_reads``) on PostgreSQL; None on SQLite."""
        if self.engine.dialect.name != "postgresql":
            return None
        from idp.pg_reads import PgReader

        limits = DbTimeouts.of(self.settings) if self.timeouts else None
        return PgReader(self.engine, timeouts=limits)

    def close(self) -> None:
        if "rate_limiter" in self.__dict__:
            self.rate_limiter.refusals.flush()  # the last refusals' summary
        if "audit_batcher" in self.__dict__:
            self.audit_batcher.close()  # lets the writer finish what it holds
        self.engine.dispose()
