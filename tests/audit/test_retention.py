"""Retention: only events older than the retention period AND covered by a checkpoint go;
the purge is anchored by a signed checkpoint, recorded, and `verify` still passes."""

import datetime as dt

import pytest
from sqlalchemy import delete, func, select, update

from idp.audit import service as audit
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.auditing import checkpoints, retention
from idp.auditing.errors import AuditChainBroken
from idp.auditing.verify import verify
from idp.errors import InvalidInput

NOW = dt.datetime.now(dt.UTC)
OLD = NOW - dt.timedelta(days=120)


def add(s, n, at=None):
    return [
        audit.record(
            s,
            "admin.account.resumed",
            subject=str(i),
            at=at + dt.timedelta(seconds=i) if at else None,
        )
        for i in range(n)
    ]


def seqs(s):
    return list(s.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))


def test_purges_old_covered_events_and_verify_still_passes(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        old = add(s, 5, at=OLD)
        checkpoints.create(s, ring)  # covers the five old events (its own event is new)
        add(s, 3)
    with committed.sessions.begin() as s:
        result = retention.purge(s, ring, retention_days=90, now=NOW)
    assert (result.count, result.first_seq, result.last_seq) == (5, 1, old[-1].seq)
    with committed.sessions() as s:
        assert seqs(s)[0] == old[-1].seq + 1
        anchor = s.scalar(select(AuditCheckpoint).where(AuditCheckpoint.reason == "purge"))
        assert (anchor.seq, anchor.hash) == (old[-1].seq, old[-1].hash)
        assert ring.verify(anchor.jws, archive=True)[1]["reason"] == "purge"
        event = s.get(AuditEvent, result.event_seq)
        assert event.type == "audit.purge.completed"
        assert event.details["count"] == 5 and event.details["last_seq"] == old[-1].seq
        report = verify(s, ring)
        assert report.ok, report.message
    with committed.sessions.begin() as s:
        add(s, 2)  # the chain goes on from the purge
    with committed.sessions() as s:
        assert verify(s, ring).ok


def test_uncovered_or_young_events_stay(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        add(s, 3, at=OLD)
        checkpoints.create(s, ring)
        add(s, 4, at=OLD + dt.timedelta(hours=1))  # old but not yet covered
    with committed.sessions.begin() as s:
        result = retention.purge(s, ring, retention_days=90, now=NOW)
    assert result.count == 3  # only what the checkpoint covers
    with committed.sessions.begin() as s:
        young = retention.purge(s, ring, retention_days=365, now=NOW)
    assert young.count == 0  # nothing is older than a year


def test_without_checkpoint_nothing_is_purged(committed):
    with committed.sessions.begin() as s:
        add(s, 3, at=OLD)
        result = retention.purge(s, committed.ring, retention_days=90, now=NOW)
        assert result.count == 0 and "checkpoint" in result.reason
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 3


def test_retention_below_ninety_days_is_refused(committed):
    with committed.sessions() as s, pytest.raises(InvalidInput, match="90"):
        retention.purge(s, committed.ring, retention_days=30)


def test_a_tampered_segment_is_not_purged(committed):
    with committed.sessions.begin() as s:
        evs = add(s, 4, at=OLD)
        checkpoints.create(s, committed.ring)
        s.execute(update(AuditEvent).where(AuditEvent.seq == evs[1].seq).values(actor="m"))
    with committed.sessions() as s, pytest.raises(AuditChainBroken, match="refusing"):
        retention.purge(s, committed.ring, retention_days=90, now=NOW)


def test_purging_everything_then_writing_again(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        add(s, 3)
        checkpoints.create(s, ring)
    later = NOW + dt.timedelta(days=200)
    with committed.sessions.begin() as s:
        first = retention.purge(s, ring, retention_days=90, now=later)
    with committed.sessions.begin() as s:  # the checkpoint's own event is not covered yet
        checkpoints.create(s, ring)
        second = retention.purge(s, ring, retention_days=90, now=later)
    assert first.count == 3 and second.count >= 1
    with committed.sessions.begin() as s:
        add(s, 1)
    with committed.sessions() as s:
        rows = seqs(s)
        assert rows == list(range(rows[0], rows[0] + len(rows)))
        report = verify(s, ring)
        assert report.ok, report.message


def test_deleting_rows_after_a_purge_is_still_caught(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        add(s, 3, at=OLD)
        checkpoints.create(s, ring)
        add(s, 3)
    with committed.sessions.begin() as s:
        result = retention.purge(s, ring, retention_days=90, now=NOW)
        s.execute(delete(AuditEvent).where(AuditEvent.seq == result.last_seq + 1))
    with committed.sessions() as s:
        report = verify(s, ring)
    assert (report.problem, report.first_bad_seq) == ("missing", result.last_seq + 1)


def test_dry_run_plan_deletes_nothing(committed):
    with committed.sessions.begin() as s:
        add(s, 2, at=OLD)
        checkpoints.create(s, committed.ring)
    with committed.sessions() as s:
        plan = retention.plan(s, committed.ring, retention_days=90, now=NOW)
        assert plan.count == 2 and plan.reason == "purgeable"
        assert len(seqs(s)) == 3
