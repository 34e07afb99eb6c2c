"""Signed checkpoints, and `verify` finding every kind of tampering done in the database.

Each test edits, deletes, reorders or truncates rows with plain SQL, as someone with
database access would, and expects the first broken seq and the kind of problem.
"""

import datetime as dt

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import delete, select, update

from idp.audit import service as audit
from idp.audit.chain import compute_hash
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.auditing import checkpoints
from idp.auditing.verify import verify, verify_chain
from idp.keys import service as keys


def events(db, n, **kw):
    return [audit.record(db, "admin.account.resumed", subject=f"acc-{i}", **kw) for i in range(n)]


def check(db, ring, **kw):
    db.flush()
    db.expire_all()
    return verify(db, ring, **kw)


def test_checkpoint_is_a_jws_over_the_head_and_is_itself_logged(db, ring):
    last = events(db, 3)[-1]
    info = checkpoints.create(db, ring)
    assert (info.seq, info.hash, info.reason) == (last.seq, last.hash, "manual")
    header, claims = ring.verify(info.jws, archive=True)
    assert header["typ"] == "govid-audit-checkpoint+jwt" and header["kid"] == info.kid
    assert claims == {"seq": last.seq, "hash": last.hash, "at": info.at, "reason": "manual"}
    logged = db.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()))
    assert logged.type == "audit.checkpoint.created" and logged.details["seq"] == last.seq
    report = check(db, ring)
    assert report.ok and report.latest_checkpoint_seq == last.seq
    assert report.uncovered_events == 1  # the checkpoint's own event


def test_periodic_job_checkpoints_only_when_something_new(db, ring):
    events(db, 1)
    assert checkpoints.is_due(db)
    checkpoints.create(db, ring, reason="periodic")
    assert not checkpoints.is_due(db)  # only the checkpoint's own event is new
    events(db, 1)
    assert checkpoints.is_due(db)


def test_intact_log_verifies(db, ring):
    events(db, 5)
    checkpoints.create(db, ring)
    events(db, 2)
    report = check(db, ring)
    assert report.ok and report.first_bad_seq is None and report.problem is None


def test_edited_row(db, ring):
    evs = events(db, 5)
    checkpoints.create(db, ring)
    db.execute(update(AuditEvent).where(AuditEvent.seq == evs[2].seq).values(actor="mallory"))
    report = check(db, ring)
    assert (report.ok, report.first_bad_seq, report.problem) == (
        False,
        evs[2].seq,
        "hash_mismatch",
    )


def test_edited_details_json(db, ring):
    evs = events(db, 3, details={})
    db.execute(update(AuditEvent).where(AuditEvent.seq == evs[1].seq).values(details={"x": 1}))
    assert check(db, ring).first_bad_seq == evs[1].seq


def test_edited_row_with_its_hash_recomputed_breaks_the_next_link(db, ring):
    evs = events(db, 4)
    row = db.get(AuditEvent, evs[1].seq)
    row.actor = "mallory"
    row.hash = compute_hash(row.prev_hash, row)
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (evs[2].seq, "link_broken")


def test_whole_chain_recomputed_after_an_edit_contradicts_the_checkpoint(db, ring):
    evs = events(db, 4)
    cp = checkpoints.create(db, ring)
    rows = db.scalars(
        select(AuditEvent).where(AuditEvent.seq >= evs[1].seq).order_by(AuditEvent.seq)
    )
    prev = evs[0].hash
    for row in rows:  # a careful attacker rewrites every later hash
        if row.seq == evs[1].seq:
            row.actor = "mallory"
        row.prev_hash, row.hash = prev, compute_hash(prev, row)
        prev = row.hash
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (cp.seq, "checkpoint_mismatch")


def test_deleted_row(db, ring):
    evs = events(db, 5)
    db.execute(delete(AuditEvent).where(AuditEvent.seq == evs[3].seq))
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (evs[3].seq, "missing")


def test_reordered_rows(db, ring):
    evs = events(db, 4)
    a, b = evs[1].seq, evs[2].seq
    db.execute(update(AuditEvent).where(AuditEvent.seq == a).values(seq=-1))
    db.execute(update(AuditEvent).where(AuditEvent.seq == b).values(seq=a))
    db.execute(update(AuditEvent).where(AuditEvent.seq == -1).values(seq=b))
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (a, "link_broken")


def test_reordered_timestamps(db, ring):
    base = audit.record(db, "admin.account.resumed").at
    evs = [
        audit.record(db, "admin.account.resumed", at=base + dt.timedelta(seconds=i))
        for i in (1, 2, 3)
    ]
    t1, t2 = evs[0].at, evs[1].at
    db.execute(update(AuditEvent).where(AuditEvent.seq == evs[0].seq).values(at=t2))
    db.execute(update(AuditEvent).where(AuditEvent.seq == evs[1].seq).values(at=t1))
    assert check(db, ring).first_bad_seq == evs[0].seq


def test_truncated_tail_is_visible_through_the_checkpoint(db, ring):
    evs = events(db, 6)
    checkpoints.create(db, ring)
    db.execute(delete(AuditEvent).where(AuditEvent.seq >= evs[3].seq))
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (evs[3].seq, "truncated")


def test_truncating_checkpoints_too_is_visible_through_the_logged_checkpoint(db, ring):
    events(db, 3)
    first = checkpoints.create(db, ring)
    events(db, 3)
    checkpoints.create(db, ring)
    # Remove the newest checkpoint row: its event in the chain still names it.
    newest = db.scalar(select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()))
    db.delete(newest)
    report = check(db, ring)
    assert report.problem == "checkpoint_missing" and report.first_bad_seq > first.seq


def test_forged_or_altered_checkpoints_are_refused(db, ring):
    events(db, 3)
    cp = checkpoints.create(db, ring)
    row = db.scalar(select(AuditCheckpoint).where(AuditCheckpoint.seq == cp.seq))
    row.hash = "f" * 64  # the row no longer says what was signed
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (cp.seq, "checkpoint_signature")
    foreign = RSAKey.generate_key(2048, parameters={"kid": cp.kid})
    row.hash = cp.hash
    row.jws = jwt.encode(
        {"alg": "RS256", "kid": cp.kid, "typ": checkpoints.TYP},
        {"seq": cp.seq, "hash": cp.hash, "at": cp.at, "reason": "purge"},
        foreign,
    )
    report = check(db, ring)
    assert (report.first_bad_seq, report.problem) == (cp.seq, "checkpoint_signature")


def test_deleted_beginning_without_a_purge_checkpoint(db, ring):
    first_seq = db.scalar(select(AuditEvent.seq).order_by(AuditEvent.seq)) or 1
    events(db, 4)
    checkpoints.create(db, ring)
    # A manual checkpoint does not anchor a chain whose start is gone; only a purge does.
    db.execute(delete(AuditEvent).where(AuditEvent.seq <= first_seq + 1))
    report = check(db, ring)
    assert report.problem == "missing" and report.first_bad_seq <= first_seq


def test_checkpoints_signed_by_a_retired_key_still_verify(db, ring, cipher):
    events(db, 2)
    old = checkpoints.create(db, ring)
    keys.rotate(db, cipher, token_lifetime=60)
    row = db.get(keys.SigningKey, old.kid)
    row.not_after = keys.utcnow()  # retired and gone from the JWKS
    db.flush()
    ring.invalidate()
    new = checkpoints.create(db, ring)
    assert new.kid != old.kid
    assert old.kid not in {k["kid"] for k in ring.jwks()["keys"]}
    assert check(db, ring).ok


def test_range_verification(db, ring):
    evs = events(db, 8)
    checkpoints.create(db, ring)
    db.execute(update(AuditEvent).where(AuditEvent.seq == evs[1].seq).values(actor="m"))
    whole = check(db, ring)
    assert whole.first_bad_seq == evs[1].seq
    later = check(db, ring, from_seq=evs[3].seq, to_seq=evs[6].seq)
    assert later.ok and (later.first_seq, later.last_seq) == (evs[3].seq, evs[6].seq)
    assert later.checked_events == 4
    covering = check(db, ring, from_seq=evs[0].seq, to_seq=evs[2].seq)
    assert covering.first_bad_seq == evs[1].seq


@pytest.mark.parametrize("n", [0, 1])
def test_verify_chain_compat(db, n):
    events(db, n)
    assert verify_chain(db) is None
