"""Append audit events to a hash chain, in the caller's transaction (DESIGN §7).

``hash = SHA-256(prev_hash || canonical JSON of the row)``. The chain head is read and
extended under a lock (a transaction-scoped advisory lock on PostgreSQL; SQLite
serialises writers), so concurrent writers still produce one chain with gapless seq.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from idp.audit.events import is_known
from idp.audit.models import AuditEvent
from idp.db import utcnow

GENESIS_HASH = "0" * 64
_ADVISORY_LOCK_KEY = 0x60D1D_A0D1  # arbitrary, constant: "GovID audit"

# Keys that would mean a secret is being logged; refused outright (issue 8).
_SECRET_KEYS = frozenset(
    {
        "password",
        "new_password",
        "current_password",
        "secret",
        "client_secret",
        "token",
        "access_token",
        "refresh_token",
        "id_token",
        "auth_code",
        "authorization_code",
        "code_verifier",
        "totp",
        "otp",
        "cookie",
        "session_cookie",
        "recovery_code",
    }
)


class UnknownEventType(ValueError):
    pass


def _clean(value: str | None, limit: int) -> str | None:
    if value is None:
        return None
    # CR/LF-safe: a header value must not be able to forge a log line.
    return value.replace("\r", " ").replace("\n", " ")[:limit]


def _check_no_secrets(details: dict[str, Any]) -> None:
    for key, value in details.items():
        if key.lower() in _SECRET_KEYS:
            raise ValueError(f"audit details must not carry secrets (key {key!r})")
        if isinstance(value, dict):
            _check_no_secrets(value)


def canonical(row: dict[str, Any]) -> bytes:
    return json.dumps(
        row, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    ).encode()


def row_material(ev: AuditEvent) -> dict[str, Any]:
    return {
        "seq": ev.seq,
        "at": ev.at.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
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


def compute_hash(prev_hash: str, ev: AuditEvent) -> str:
    return hashlib.sha256(prev_hash.encode() + canonical(row_material(ev))).hexdigest()


def _lock_head(session: Session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_LOCK_KEY})


def record(
    session: Session,
    event_type: str,
    *,
    outcome: str = "success",
    actor: str | None = None,
    agency_id: uuid.UUID | None = None,
    subject: str | None = None,
    client_id: str | None = None,
    session_id: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
    details: dict[str, Any] | None = None,
    at: dt.datetime | None = None,
) -> AuditEvent:
    if not is_known(event_type):
        raise UnknownEventType(f"unknown audit event type {event_type!r}")
    details = dict(details or {})
    _check_no_secrets(details)
    _lock_head(session)
    head = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (head[0] + 1, head[1]) if head else (1, GENESIS_HASH)
    ev = AuditEvent(
        seq=seq,
        at=at or utcnow(),
        type=event_type,
        outcome=outcome,
        actor=_clean(actor, 128),
        agency_id=agency_id,
        subject=_clean(subject, 128),
        client_id=_clean(client_id, 128),
        session_id=_clean(session_id, 128),
        ip=_clean(ip, 64),
        user_agent=_clean(user_agent, 512),
        details=details,
        prev_hash=prev_hash,
    )
    ev.hash = compute_hash(prev_hash, ev)
    session.add(ev)
    session.flush()
    return ev


def verify_chain(session: Session) -> int | None:
    """Return the first seq whose hash or link is wrong (or missing), else None."""
    expected_prev = GENESIS_HASH
    expected_seq = None
    for ev in session.scalars(select(AuditEvent).order_by(AuditEvent.seq)).yield_per(1000):
        if expected_seq is not None and ev.seq != expected_seq:
            return expected_seq
        if ev.prev_hash != expected_prev or compute_hash(ev.prev_hash, ev) != ev.hash:
            return ev.seq
        expected_prev = ev.hash
        expected_seq = ev.seq + 1
    return None
