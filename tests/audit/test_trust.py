"""Who vouches for a checkpoint: a purge anchor is only accepted when its purge is recorded
and what it removed was older than the retention period; a key that appeared after a
checkpoint cannot have signed it; a key set kept off the database is not fooled by a key
someone added to it (defect 1 of the audit-trail review)."""

import datetime as dt
import secrets

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import delete, select

from idp.audit import service as audit
from idp.audit.chain import format_at
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.auditing import checkpoints, retention
from idp.auditing.verify import verify
from idp.auditing.verify_export import JwksKeys
from idp.keys.models import SigningKey
from tests.audit.test_retention import add

NOW = dt.datetime.now(dt.UTC)


def trusted(s):
    """The key set an auditor saved before the attack (idp audit trust-anchor)."""
    rows = s.scalars(select(SigningKey)).all()
    return JwksKeys({"keys": [{**r.public_jwk, "kid": r.kid, "alg": r.alg} for r in rows]})


@pytest.fixture
def committed(committed):
    """The committed database, without the keys a test forged into it afterwards."""
    yield committed
    with committed.sessions.begin() as s:
        s.execute(delete(SigningKey).where(SigningKey.private_key_enc == "forged"))
    committed.ring.invalidate()


def forge(s, ring, seq, *, key_created, claimed_at, reason="purge"):
    """What someone with SQL access only can do: add a key, sign with it."""
    kid = f"rs256-20260101-{secrets.token_hex(4)}"
    key = RSAKey.generate_key(2048, parameters={"kid": kid})
    s.add(
        SigningKey(
            kid=kid,
            alg="RS256",
            state="retired",
            private_key_enc="forged",
            public_jwk=key.as_dict(private=False),
            created_at=key_created,
            retired_at=key_created,
            not_after=key_created,
        )
    )
    hash_ = s.scalar(select(AuditEvent.hash).where(AuditEvent.seq == seq))
    header = {"alg": "RS256", "kid": kid, "typ": checkpoints.TYP}
    claims = {"seq": seq, "hash": hash_, "at": format_at(claimed_at), "reason": reason}
    s.add(
        AuditCheckpoint(
            seq=seq, hash=hash_, at=claimed_at, kid=kid, reason=reason,
            jws=jwt.encode(header, claims, key),
        )
    )  # fmt: skip
    ring.invalidate()  # as a new process would: it reads the added key


def test_forged_purge_checkpoint_with_an_added_key_is_refused(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        add(s, 12)
        checkpoints.create(s, ring)
        anchor_keys = trusted(s)
    with committed.sessions.begin() as s:
        old = NOW - dt.timedelta(days=400)
        forge(s, ring, 5, key_created=old, claimed_at=NOW)
        s.execute(delete(AuditEvent).where(AuditEvent.seq <= 5))
    with committed.sessions() as s:
        report = verify(s, ring)
        assert not report.ok and report.problem == "purge_unrecorded"
        assert report.first_bad_seq == 1 and "audit.purge.completed" in report.message
        assert report.keys_source == "database" and not report.keys_independent
        assert "database being verified" in report.trust
        independent = verify(s, anchor_keys, keys_source="file anchor.json")
        assert not independent.ok and independent.first_bad_seq == 1
        assert independent.keys_independent and "anchor.json" in independent.trust


def test_purge_anchor_over_young_events_is_refused(committed):
    """Even with a genuine key: a purge of events younger than its retention is BROKEN."""
    ring = committed.ring
    with committed.sessions.begin() as s:
        young = add(s, 4)
        checkpoints.create(s, ring)
    with committed.sessions.begin() as s:
        audit.lock_head(s)
        last = young[-1]
        cp = checkpoints.sign_checkpoint(s, ring, last.seq, last.hash, "purge")
        s.execute(delete(AuditEvent).where(AuditEvent.seq <= last.seq))
        audit.record(
            s,
            "audit.purge.completed",
            details={
                "before": format_at(NOW), "retention_days": 90, "count": 4,
                "first_seq": 1, "last_seq": last.seq, "hash": last.hash, "kid": cp.kid,
            },
        )  # fmt: skip
    with committed.sessions() as s:
        report = verify(s, ring)
    assert not report.ok and report.problem == "purge_too_young", report.message
    assert "90-day retention" in report.message


def test_a_real_purge_signs_the_age_of_what_it_removed(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        add(s, 3, at=NOW - dt.timedelta(days=120))
        checkpoints.create(s, ring)
    with committed.sessions.begin() as s:
        result = retention.purge(s, ring, retention_days=90)
    with committed.sessions() as s:
        anchor = s.scalar(select(AuditCheckpoint).where(AuditCheckpoint.reason == "purge"))
        claims = ring.verify(anchor.jws, archive=True)[1]
        assert claims["retention_days"] == 90 and claims["last_at"] < claims["at"]
        assert result.count == 3 and verify(s, ring).ok
        assert verify(s, trusted(s), keys_source="file").ok


def test_checkpoint_signed_by_a_key_added_after_it_is_refused(committed):
    ring = committed.ring
    with committed.sessions.begin() as s:
        add(s, 6)
    with committed.sessions.begin() as s:
        forge(s, ring, 6, key_created=NOW, claimed_at=NOW - dt.timedelta(days=30), reason="manual")
    with committed.sessions() as s:
        report = verify(s, ring)
    assert not report.ok and (report.first_bad_seq, report.problem) == (6, "checkpoint_key_late")
    assert "only added on" in report.message


def test_empty_and_reversed_ranges_at_the_library_level(committed):
    with committed.sessions.begin() as s:
        add(s, 3)
        checkpoints.create(s, committed.ring)
    with committed.sessions() as s:
        past_head = verify(s, committed.ring, from_seq=40)
        assert (
            past_head.ok and past_head.checked_events == 0 and "newest event" in past_head.message
        )
        empty = verify(s, committed.ring, from_seq=3, to_seq=2)
        assert empty.ok and empty.checked_events == 0
