"""Retention: purge events older than ``IDP_AUDIT_RETENTION_DAYS`` (DESIGN §7).

Only a prefix of the chain is ever removed, and only as far as a signed checkpoint
already covers: events kept for the Computer Crime Act B.E. 2550 (s. 26, at least 90 days)
are never touched, and nothing is deleted that was not first vouched for by a signature.

Before deleting, the purged segment is verified (a purge must not launder a tampered
row). The boundary ``(seq, hash)`` of the last purged event is then signed as a ``purge``
checkpoint, which anchors the new first row (its ``prev_hash``), so ``verify`` still
passes; the purge is recorded as ``audit.purge.completed`` and checkpointed in turn.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from idp.audit.chain import format_at
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.audit.service import head, lock_head, record
from idp.auditing.checkpoints import Signer, sign_checkpoint
from idp.auditing.checkpoints import create as create_checkpoint
from idp.auditing.errors import AuditChainBroken
from idp.auditing.verify import verify
from idp.config import MIN_AUDIT_RETENTION_DAYS
from idp.db import utcnow
from idp.errors import InvalidInput
from idp.keys.service import InvalidToken


@dataclass
class PurgeResult:
    cutoff: dt.datetime
    count: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    hash: str | None = None
    event_seq: int | None = None
    reason: str = "nothing older than the retention period is covered by a checkpoint"

    def to_dict(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["cutoff"] = format_at(self.cutoff)
        return d


def _covered_to(session: Session, signer: Signer) -> int | None:
    """The highest seq vouched for by a checkpoint whose signature verifies."""
    for cp in session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc())):
        try:
            claims = signer.verify(cp.jws, archive=True)[1]
        except InvalidToken:
            continue
        if (claims.get("seq"), claims.get("hash")) == (cp.seq, cp.hash):
            return cp.seq
    return None


def plan(
    session: Session, signer: Signer, *, retention_days: int, now: dt.datetime | None = None
) -> PurgeResult:
    """What ``purge`` would delete, without deleting (``--dry-run``)."""
    if retention_days < MIN_AUDIT_RETENTION_DAYS:
        raise InvalidInput(
            f"retention must be at least {MIN_AUDIT_RETENTION_DAYS} days", field="retention_days"
        )
    cutoff = (now or utcnow()) - dt.timedelta(days=retention_days)
    result = PurgeResult(cutoff=cutoff)
    start = session.scalar(select(func.min(AuditEvent.seq)))
    if start is None:
        return result
    covered = _covered_to(session, signer)
    if covered is None:
        result.reason = "no signed checkpoint yet: run `idp audit checkpoint` first"
        return result
    # The oldest event young enough to keep ends the purge; `at` follows seq (record()).
    young = session.scalar(select(func.min(AuditEvent.seq)).where(AuditEvent.at >= cutoff))
    boundary = min(covered, (young - 1) if young is not None else head(session)[0])
    if boundary < start:
        return result
    result.first_seq, result.last_seq = start, boundary
    result.count = int(
        session.scalar(
            select(func.count()).select_from(AuditEvent).where(AuditEvent.seq <= boundary)
        )
        or 0
    )
    result.hash = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == boundary))
    result.reason = "purgeable"
    return result


def purge(
    session: Session,
    signer: Signer,
    *,
    retention_days: int,
    now: dt.datetime | None = None,
    actor: str = "system",
) -> PurgeResult:
    """Delete the purgeable prefix in the caller's transaction (see the module doc)."""
    signer.jwks()  # load keys before taking the lock (loading may write events)
    lock_head(session)
    result = plan(session, signer, retention_days=retention_days, now=now)
    if not result.count or result.last_seq is None or result.hash is None:
        return result
    # The segment must be intact up to and including its link to the first kept row.
    report = verify(session, signer, from_seq=result.first_seq, to_seq=result.last_seq + 1)
    if not report.ok:
        raise AuditChainBroken(f"refusing to purge: {report.message}")
    last_at = session.scalars(select(AuditEvent.at).where(AuditEvent.seq == result.last_seq)).one()
    # Signed with the age of what it removes (verify refuses a purge anchor whose events
    # are younger than the retention period), at the purge's clock if that is ahead.
    cp = sign_checkpoint(
        session,
        signer,
        result.last_seq,
        result.hash,
        "purge",
        at=max(now, utcnow()) if now else None,
        extra={"last_at": format_at(last_at), "retention_days": retention_days},
    )
    session.execute(delete(AuditEvent).where(AuditEvent.seq <= result.last_seq))
    ev = record(
        session,
        "audit.purge.completed",
        actor=actor,
        details={
            "before": format_at(result.cutoff),
            "retention_days": retention_days,
            "count": result.count,
            "first_seq": result.first_seq,
            "last_seq": result.last_seq,
            "hash": result.hash,
            "kid": cp.kid,
        },
    )
    result.event_seq = ev.seq
    result.reason = "purged"
    # Cover the purge event too, so the new tail is not left unsigned until the next tick.
    create_checkpoint(session, signer, reason="manual", actor=actor)
    return result
