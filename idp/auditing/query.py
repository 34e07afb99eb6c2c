"""Reading the audit log: filters, cursor-paginated lists, counts (auditor access).

Every read takes the caller's ``scope`` (the agency whose subtree they may see; None for
operators) and applies it here, in the service layer (DESIGN §6). Events without an
agency (keys, bootstrap, failed logins of unknown names) are visible to operators only.
A filter agency outside the scope is reported exactly like an unknown agency.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import events
from idp.audit.chain import format_at, row_material
from idp.audit.models import AuditEvent
from idp.audit.service import OUTCOMES
from idp.errors import InvalidInput, UnknownAgency

MAX_PAGE = 1000


@dataclass(frozen=True)
class EventFilter:
    """What an auditor asks for. Times are UTC; ``since`` inclusive, ``until`` exclusive.

    ``types`` holds exact names or prefixes ending in ``.*`` (``oidc.*``, ``admin.account.*``).
    ``account`` matches events about the account (subject) or by it (actor).
    """

    agency: Agency | None = None
    since: dt.datetime | None = None
    until: dt.datetime | None = None
    types: tuple[str, ...] = ()
    account: str | None = None
    client_id: str | None = None
    outcome: str | None = None
    from_seq: int | None = None
    to_seq: int | None = None

    def describe(self) -> dict[str, Any]:
        """JSON form for manifests and audit details (agency by code; only what is set)."""
        out: dict[str, Any] = {
            "agency": self.agency.code if self.agency else None,
            "since": format_at(self.since) if self.since else None,
            "until": format_at(self.until) if self.until else None,
            "types": list(self.types) or None,
            "account": self.account,
            "client_id": self.client_id,
            "outcome": self.outcome,
            "from_seq": self.from_seq,
            "to_seq": self.to_seq,
        }
        return {k: v for k, v in out.items() if v is not None}


@dataclass(frozen=True)
class EventPage:
    items: list[dict[str, Any]]
    next_cursor: str | None
    limit: int = 50

    def to_dict(self) -> dict[str, Any]:
        return {"items": self.items, "next_cursor": self.next_cursor, "limit": self.limit}


def _check_types(types: tuple[str, ...]) -> None:
    for t in types:
        if t.endswith(".*"):
            prefix = t[:-1]
            if not any(name.startswith(prefix) for name in events.EVENT_TYPES):
                raise InvalidInput(f"no event type starts with {prefix!r}", field="types")
        elif not events.is_known(t):
            raise InvalidInput(f"unknown event type {t!r}", field="types")


def validate(filters: EventFilter, scope: Agency | None) -> None:
    _check_types(filters.types)
    if filters.outcome is not None and filters.outcome not in OUTCOMES:
        raise InvalidInput(f"outcome must be one of {', '.join(OUTCOMES)}", field="outcome")
    for name in ("since", "until"):
        value = getattr(filters, name)
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} must carry a time zone", field=name)
    if filters.since and filters.until and filters.since >= filters.until:
        raise InvalidInput("since must be before until", field="since")
    if filters.from_seq and filters.to_seq and filters.from_seq > filters.to_seq:
        raise InvalidInput("from_seq must not exceed to_seq", field="from_seq")
    if (
        filters.agency is not None
        and scope is not None
        and not agencies.is_within(filters.agency, scope)
    ):
        # Forbidden and not-found look the same across agencies (DESIGN §6).
        raise UnknownAgency(f"unknown agency {filters.agency.code!r}", field="agency")


def where(stmt: Select, filters: EventFilter, scope: Agency | None) -> Select:
    """Add the scope and the filters to a SELECT over ``audit_event``."""
    validate(filters, scope)
    if scope is not None:
        stmt = stmt.where(AuditEvent.agency_id.in_(agencies.subtree_ids_stmt(scope)))
    if filters.agency is not None:
        stmt = stmt.where(AuditEvent.agency_id.in_(agencies.subtree_ids_stmt(filters.agency)))
    if filters.since is not None:
        stmt = stmt.where(AuditEvent.at >= filters.since)
    if filters.until is not None:
        stmt = stmt.where(AuditEvent.at < filters.until)
    if filters.types:
        exact = [t for t in filters.types if not t.endswith(".*")]
        conds: list[ColumnElement[bool]] = [AuditEvent.type.in_(exact)] if exact else []
        conds += [
            AuditEvent.type.startswith(t[:-1], autoescape=True)
            for t in filters.types
            if t.endswith(".*")
        ]
        stmt = stmt.where(or_(*conds))
    if filters.account:
        stmt = stmt.where(
            or_(AuditEvent.subject == filters.account, AuditEvent.actor == filters.account)
        )
    if filters.client_id:
        stmt = stmt.where(AuditEvent.client_id == filters.client_id)
    if filters.outcome:
        stmt = stmt.where(AuditEvent.outcome == filters.outcome)
    if filters.from_seq is not None:
        stmt = stmt.where(AuditEvent.seq >= filters.from_seq)
    if filters.to_seq is not None:
        stmt = stmt.where(AuditEvent.seq <= filters.to_seq)
    return stmt


def event_dict(ev: Any) -> dict[str, Any]:
    """One event as JSON values (an ORM object or a Core row)."""
    # The hashed fields, then the chain's links: one list of fields for both.
    return {**row_material(ev), "prev_hash": ev.prev_hash, "hash": ev.hash}


def encode_cursor(seq: int, order: str) -> str:
    raw = json.dumps({"s": seq, "o": order}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order: str) -> int:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        seq, cursor_order = data["s"], data["o"]
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc
    if not isinstance(seq, int) or cursor_order != order:
        raise InvalidInput("cursor does not belong to this listing", field="cursor")
    return seq


def list_events(
    session: Session,
    filters: EventFilter,
    *,
    scope: Agency | None = None,
    cursor: str | None = None,
    limit: int = 50,
    order: str = "desc",
) -> EventPage:
    """One page of events, newest first by default; pass ``next_cursor`` for the next.

    Keyset pagination on ``seq``: stable while new events arrive, O(limit) per page.
    """
    if order not in ("asc", "desc"):
        raise InvalidInput("order must be asc or desc", field="order")
    if not 1 <= limit <= MAX_PAGE:
        raise InvalidInput(f"limit must be 1-{MAX_PAGE}", field="limit")
    stmt = where(select(*AuditEvent.__table__.c), filters, scope)
    if cursor:
        after = decode_cursor(cursor, order)
        stmt = stmt.where(AuditEvent.seq < after if order == "desc" else AuditEvent.seq > after)
    key = AuditEvent.seq.desc() if order == "desc" else AuditEvent.seq.asc()
    rows = session.execute(stmt.order_by(key).limit(limit + 1)).all()
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = encode_cursor(rows[-1].seq, order) if more else None
    return EventPage([event_dict(r) for r in rows], next_cursor, limit)


def count_events(session: Session, filters: EventFilter, *, scope: Agency | None = None) -> int:
    stmt = where(select(func.count()).select_from(AuditEvent), filters, scope)
    return int(session.scalar(stmt) or 0)


def first_seq_at_or_after(session: Session, when: dt.datetime) -> int | None:
    return session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= when))


def last_seq_before(session: Session, when: dt.datetime) -> int | None:
    return session.scalar(select(func.max(AuditEvent.seq)).where(AuditEvent.at < when))
