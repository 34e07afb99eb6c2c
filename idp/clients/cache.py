"""A short-lived, per-process cache of client registrations (decision 0008).

Every call to ``/token``, ``/revoke``, ``/introspect`` and ``/authorize`` authenticates or
looks up a client; reading the row each time was 12–17 % of a machine token's CPU.
Entries are detached snapshots of ``Client`` rows (read only; nothing may add them to a
session), kept for ``Settings.client_cache_seconds`` (default 5 s; 0 turns the cache off).

Freshness:
- In this process a committed change to a client (admin API, CLI, anything that flushes
  a ``Client`` through the ORM) drops its entry at commit, so the next request reads the
  new row.
- Another process sees the change within the TTL. A disabled client or a rotated secret
  can therefore still obtain tokens from another worker for at most that long; tokens it
  holds are checked against the database (``validate_access_token``), so they stop
  working at once.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable

from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.clients.models import Client
from idp.clients.service import get_active
from idp.clock import Clock, SystemClock

_caches: weakref.WeakSet[ClientCache] = weakref.WeakSet()
_PENDING = "govid_changed_clients"


class ClientCache:
    def __init__(
        self, ttl_seconds: float, *, max_entries: int = 10_000, clock: Clock | None = None
    ) -> None:
        self.ttl = ttl_seconds
        self.clock = clock or SystemClock()
        self.max_entries = max_entries
        self._entries: dict[str, tuple[float, Client | None]] = {}
        self._lock = threading.Lock()
        self._generation = 0  # bumped by every invalidation
        _caches.add(self)

    def get(self, client_id: str, load: Callable[[], Client | None]) -> Client | None:
        """The active client ``client_id`` (or None), from the cache or from ``load``,
        which must return a row of a session that is about to be discarded or None."""
        if self.ttl <= 0:
            return load()
        now = self.clock.monotonic()
        hit = self._entries.get(client_id)
        if hit is not None and hit[0] > now:
            return hit[1]
        generation = self._generation
        row = load()
        if row is not None:
            session = Session.object_session(row)
            if session is not None:
                session.expunge(row)  # a snapshot: commits elsewhere cannot expire it
        with self._lock:
            # A change committed while we were loading may have been read or not: keep
            # nothing, so the next request reads again (a stale row would live a TTL).
            if generation != self._generation:
                return row
            if len(self._entries) >= self.max_entries:
                self._entries.clear()  # unknown ids cannot grow the cache without bound
            self._entries[client_id] = (now + self.ttl, row)
        return row

    def active(self, client_id: str, session: Callable[[], Session]) -> Client | None:
        """The active client ``client_id`` or None; on a miss read with ``session()``
        (called only then, so a request that has no session yet need not open one)."""
        return self.get(client_id, lambda: get_active(session(), client_id))

    def invalidate(self, client_id: str | None = None) -> None:
        with self._lock:
            self._generation += 1
            if client_id is None:
                self._entries.clear()
            else:
                self._entries.pop(client_id, None)


def invalidate_everywhere(client_id: str | None = None) -> None:
    """Drop ``client_id`` (or everything) from every cache of this process."""
    for cache in list(_caches):
        cache.invalidate(client_id)


@event.listens_for(Session, "after_flush")
def _note_changed_clients(session: Session, _ctx) -> None:
    changed = [
        obj.client_id
        for obj in (*session.new, *session.dirty, *session.deleted)
        if isinstance(obj, Client)
    ]
    if changed:
        session.info.setdefault(_PENDING, set()).update(changed)


@event.listens_for(Session, "after_commit")
def _drop_changed_clients(session: Session) -> None:
    for client_id in session.info.pop(_PENDING, ()):
        invalidate_everywhere(client_id)
