"""Helpers shared by the audit tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from idp.audit.chain import compute_hash
from idp.audit.models import AuditEvent
from idp.audit.service import head

COLUMN_NAMES = [c.key for c in AuditEvent.__table__.columns]


def fast_chain(session: Session, n: int, *, at: dt.datetime | None = None, **fields) -> None:
    """Append ``n`` valid events without record()'s per-row work (bulk tests)."""
    seq, prev, _ = head(session)
    at = at or dt.datetime.now(dt.UTC)
    rows = []
    for i in range(n):
        row = AuditEvent(
            seq=seq + i + 1,
            at=at + dt.timedelta(microseconds=i),
            type="oidc.login.succeeded",
            outcome="success",
            actor=fields.get("actor", f"acc-{i % 97}"),
            agency_id=fields.get("agency_id"),
            subject=fields.get("subject", f"acc-{i % 97}"),
            client_id="bench-app",
            session_id=f"sid-{i}",
            ip="192.0.2.7",
            user_agent="Mozilla/5.0 ทดสอบ",
            details={"acr": "urn:govid:acr:2", "amr": ["pwd", "otp"], "method": "password"},
            prev_hash=prev,
        )
        row.hash = prev = compute_hash(prev, row)
        rows.append({c: getattr(row, c) for c in COLUMN_NAMES})
    session.execute(insert(AuditEvent), rows)


def all_rows(session: Session) -> list[AuditEvent]:
    return list(session.scalars(select(AuditEvent).order_by(AuditEvent.seq)))
