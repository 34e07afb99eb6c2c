"""How an agency is shown on the sign-in page (its names and logo), kept per process
for a short time like the client cache (decision 0008, issue 22 S3).

Every sign-in page names the app and the agency that runs it; reading the agency and its
logo was two statements, a transaction and a thread-pool hop per page, for text that
changes a few times a year. Entries live ``ttl`` seconds (the client cache's
``Settings.client_cache_seconds``; 0 turns this off too). A change committed in this
process (a name, a logo uploaded or removed) drops every entry at commit; another
process shows it within the TTL (at worst a page names the old name, or its old logo,
which is no longer served, for that long).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session

from idp.agencies import logos
from idp.agencies.models import Agency, AgencyLogo


@dataclass(frozen=True)
class Shown:
    name_th: str
    name_en: str
    logo: str | None  # logos.logo_path: its own or the nearest one above it

    def name(self, locale: str) -> str:
        return self.name_th if locale == "th" else self.name_en


_MAX_ENTRIES = 10_000
_entries: dict[uuid.UUID, tuple[float, Shown | None]] = {}
_lock = threading.Lock()
_generation = 0  # bumped by every invalidation
_PENDING = "govid_changed_agencies"


def shown(
    db: Callable[[], Session], agency_id: uuid.UUID, *, ttl: float, now: float
) -> Shown | None:
    """The agency ``agency_id`` as the sign-in page shows it, or None (no such agency).
    ``db()`` is called only on a miss; ``now`` is the clock's monotonic time."""
    hit = _entries.get(agency_id)
    if hit is not None and hit[0] > now:
        return hit[1]
    generation = _generation
    session = db()
    agency = session.get(Agency, agency_id)
    value = (
        None
        if agency is None
        else Shown(agency.name_th, agency.name_en, logos.logo_path(session, agency))
    )
    if ttl > 0:
        with _lock:
            # A change committed while we were reading may have been seen or not.
            if generation == _generation:
                if len(_entries) >= _MAX_ENTRIES:
                    _entries.clear()
                _entries[agency_id] = (now + ttl, value)
    return value


def invalidate() -> None:
    global _generation
    with _lock:
        _generation += 1
        _entries.clear()


@event.listens_for(Session, "after_flush")
def _note_changed(session: Session, _ctx) -> None:
    if any(
        isinstance(obj, (Agency, AgencyLogo))
        for obj in (*session.new, *session.dirty, *session.deleted)
    ):
        session.info[_PENDING] = True


@event.listens_for(Session, "after_commit")
def _drop_changed(session: Session) -> None:
    if session.info.pop(_PENDING, False):
        invalidate()
