"""When was the audit chain last verified, and did it hold (the console's dashboard
and audit screen, through the admin API).

Every verification is recorded in the chain itself as ``audit.chain.verified`` (outcome
``success`` or ``failure``), so the record is as tamper-evident as what it speaks of:

- ``full``: ``idp audit verify`` over the whole log;
- ``range``: ``idp audit verify --from/--to``;
- ``new_events``: housekeeping (``idp maintenance run`` and its schedule in ``idp serve
  --with-worker``) verifies the events written since the previous full or new-events
  verification, at most ``NEW_EVENTS_PER_RUN`` per run, linked to the last row verified
  before. Cheap and regular; a full ``idp audit verify`` (with ``--jwks``, keys kept off
  the host) is still what proves the whole log.

``status`` answers what a dashboard needs: the newest verification, and a failure that no
later full verification has cleared (a break found once stays shown, however many
new-events checks pass after it).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit import service as audit
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.auditing.verify import VerifyReport, verify

EVENT = "audit.chain.verified"
KINDS = ("full", "range", "new_events")
NEW_EVENTS_PER_RUN = 100_000
# How many successful verifications after a failure are read looking for a full one.
_CLEARING_LOOKBACK = 5_000


def record(session: Session, report: VerifyReport, *, kind: str, actor: str) -> None:
    """Append the verification's result to the chain (in ``session``'s transaction)."""
    if kind not in KINDS:
        raise ValueError(f"unknown verification kind {kind!r}")
    details: dict[str, Any] = {
        "kind": kind,
        "first_seq": report.first_seq,
        "last_seq": report.last_seq,
        "head_seq": report.head_seq,
        "checked_events": report.checked_events,
        "checked_checkpoints": report.checked_checkpoints,
        "independent_keys": report.keys_independent,
    }
    if not report.ok:
        details["first_bad_seq"] = report.first_bad_seq
        details["problem"] = report.problem
    audit.record(
        session,
        EVENT,
        outcome="success" if report.ok else "failure",
        actor=actor,
        details=details,
    )


def _newest(session: Session, *conds) -> AuditEvent | None:
    return session.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == EVENT, *conds)
        .order_by(AuditEvent.at.desc(), AuditEvent.seq.desc())
        .limit(1)
    ).first()


def _resume_after(session: Session) -> int:
    """The last seq a full or new-events verification found intact (0: none yet)."""
    rows = session.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == EVENT, AuditEvent.outcome == "success")
        .order_by(AuditEvent.at.desc(), AuditEvent.seq.desc())
        .limit(_CLEARING_LOOKBACK)
        .execution_options(yield_per=200)
    )
    for ev in rows:
        if ev.details.get("kind") in ("full", "new_events"):
            return int(ev.details.get("last_seq") or ev.details.get("head_seq") or 0)
    return 0


def verify_new_events(services, *, actor: str = "system", limit: int = NEW_EVENTS_PER_RUN):
    """Verify (and record) the events written since the last full or new-events
    verification; returns the report. A failure is recorded too, and the next run checks
    the same events again (the break stays visible until it is dealt with)."""
    with services.sessions() as db:
        start = _resume_after(db) + 1
        report = verify(db, services.keys, from_seq=start, to_seq=start + limit - 1)
    with services.sessions.begin() as db:
        record(db, report, kind="new_events", actor=actor)
    return report


def _view(ev: AuditEvent) -> dict[str, Any]:
    d = ev.details or {}
    return {
        "at": ev.at,
        "ok": ev.outcome == "success",
        "kind": d.get("kind"),
        "by": ev.actor,
        "first_seq": d.get("first_seq"),
        "last_seq": d.get("last_seq"),
        "checked_events": d.get("checked_events", 0),
        "independent_keys": bool(d.get("independent_keys")),
        "first_bad_seq": d.get("first_bad_seq"),
        "problem": d.get("problem"),
        "seq": ev.seq,
    }


def status(session: Session) -> dict[str, Any]:
    """The chain's head, newest signed checkpoint, newest verification and any failure
    not cleared since by a successful full verification."""
    head = session.scalars(
        select(AuditCheckpoint).order_by(AuditCheckpoint.id.desc()).limit(1)
    ).first()
    last = _newest(session)
    failure = _newest(session, AuditEvent.outcome == "failure")
    unresolved = None
    if failure is not None:
        later = session.scalars(
            select(AuditEvent)
            .where(
                AuditEvent.type == EVENT,
                AuditEvent.outcome == "success",
                AuditEvent.seq > failure.seq,
            )
            .order_by(AuditEvent.seq.desc())
            .limit(_CLEARING_LOOKBACK)
            .execution_options(yield_per=200)
        )
        if not any((ev.details or {}).get("kind") == "full" for ev in later):
            unresolved = _view(failure)
    last_full = None
    if last is not None:
        rows = session.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == EVENT)
            .order_by(AuditEvent.at.desc(), AuditEvent.seq.desc())
            .limit(_CLEARING_LOOKBACK)
            .execution_options(yield_per=200)
        )
        full = next((ev for ev in rows if (ev.details or {}).get("kind") == "full"), None)
        last_full = _view(full) if full is not None else None
    return {
        "last_seq": session.scalar(select(func.max(AuditEvent.seq))),
        "last_checkpoint": (
            {"at": head.at, "seq": head.seq, "reason": head.reason} if head is not None else None
        ),
        "last_verification": _view(last) if last is not None else None,
        "last_full_verification": last_full,
        "unresolved_failure": unresolved,
    }
