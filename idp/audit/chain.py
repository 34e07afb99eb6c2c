"""The hash chain: canonical form of a row and ``hash = SHA-256(prev_hash || canonical)``.

Shared by the writer (``service.record``), the verifier and ``verify-export``, so all three
compute exactly the same bytes. The canonical form is JSON with sorted keys, no spaces,
UTF-8, and ``at`` as ``YYYY-MM-DDTHH:MM:SS.ffffffZ`` (UTC, microseconds).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Protocol

GENESIS_HASH = "0" * 64

# The row's columns in export order; ``prev_hash`` and ``hash`` follow them.
COLUMNS = (
    "seq",
    "at",
    "type",
    "outcome",
    "actor",
    "agency_id",
    "subject",
    "client_id",
    "session_id",
    "ip",
    "user_agent",
    "details",
)


class RowLike(Protocol):
    seq: int
    at: dt.datetime
    type: str
    outcome: str
    actor: str | None
    agency_id: Any
    subject: str | None
    client_id: str | None
    session_id: str | None
    ip: str | None
    user_agent: str | None
    details: dict | None
    prev_hash: str
    hash: str


def format_at(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_at(value: str) -> dt.datetime:
    return dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=dt.UTC)


def canonical(row: dict[str, Any]) -> bytes:
    return json.dumps(
        row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def row_material(ev: RowLike) -> dict[str, Any]:
    """The hashed fields of a row (an ORM object or a Core row), as plain JSON values."""
    return {
        "seq": ev.seq,
        "at": format_at(ev.at),
        "type": ev.type,
        "outcome": ev.outcome,
        "actor": ev.actor,
        "agency_id": str(ev.agency_id) if ev.agency_id else None,
        "subject": ev.subject,
        "client_id": ev.client_id,
        "session_id": ev.session_id,
        "ip": ev.ip,
        "user_agent": ev.user_agent,
        "details": ev.details or {},
    }


def hash_material(prev_hash: str, material: dict[str, Any]) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(material)).hexdigest()


def compute_hash(prev_hash: str, ev: RowLike) -> str:
    return hash_material(prev_hash, row_material(ev))
