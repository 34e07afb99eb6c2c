"""Audit events form a hash chain written in the caller's transaction."""

import datetime as dt
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update

from idp.audit import events
from idp.audit import service as audit
from idp.audit.chain import GENESIS_HASH, compute_hash
from idp.audit.models import AuditEvent
from idp.auditing.verify import verify_chain

DOCS = Path(__file__).resolve().parents[2] / "docs" / "audit.md"


def test_events_chain_and_verify(db):
    a = audit.record(db, "oidc.login.succeeded", actor="x", details={"acr": "1"})
    b = audit.record(db, "oidc.login.failed", outcome="failure", details={"reason": "r"})
    assert b.seq == a.seq + 1
    assert b.prev_hash == a.hash
    assert verify_chain(db) is None


def test_edit_is_detected(db):
    audit.record(db, "oidc.login.succeeded", actor="x")
    ev = audit.record(db, "oidc.login.succeeded", actor="y")
    audit.record(db, "oidc.login.succeeded", actor="z")
    db.execute(update(AuditEvent).where(AuditEvent.seq == ev.seq).values(actor="mallory"))
    db.expire_all()
    assert verify_chain(db) == ev.seq


def test_unknown_type_refused(db):
    with pytest.raises(audit.UnknownEventType):
        audit.record(db, "oidc.made.up")


@pytest.mark.parametrize("key", ["password", "client_secret", "refresh_token", "totp"])
def test_secrets_refused_in_details(db, key):
    with pytest.raises(ValueError, match="secrets"):
        audit.record(db, "oidc.login.failed", details={"nested": {key: "hunter2"}})


def test_crlf_in_user_agent_is_neutralised(db):
    ev = audit.record(db, "oidc.login.failed", user_agent="evil\r\nforged: line")
    stored = db.scalar(select(AuditEvent.user_agent).where(AuditEvent.seq == ev.seq))
    assert "\n" not in stored and "\r" not in stored


def test_seq_is_gapless_and_time_is_utc_microseconds_in_seq_order(db):
    evs = [audit.record(db, "admin.account.resumed", subject=str(i)) for i in range(20)]
    assert [e.seq for e in evs] == list(range(evs[0].seq, evs[0].seq + 20))
    db.expire_all()
    rows = db.scalars(
        select(AuditEvent).where(AuditEvent.seq >= evs[0].seq).order_by(AuditEvent.seq)
    ).all()
    for prev, row in zip(rows, rows[1:], strict=False):
        assert row.prev_hash == prev.hash and row.at >= prev.at
    assert all(r.at.tzinfo is not None and r.at.utcoffset() == dt.timedelta(0) for r in rows)
    assert len({r.at.microsecond for r in rows}) > 1  # microseconds survive the database


def test_a_rolled_back_event_gives_its_seq_back(db):
    before = audit.record(db, "admin.account.resumed")
    nested = db.begin_nested()
    audit.record(db, "admin.account.suspended", details={"reason": "x"})
    nested.rollback()
    after = audit.record(db, "admin.account.deleted")
    assert after.seq == before.seq + 1 and after.prev_hash == before.hash
    assert verify_chain(db) is None


def test_given_time_must_be_aware_and_is_stored_as_utc(db):
    with pytest.raises(ValueError, match="naive"):
        audit.record(db, "admin.account.resumed", at=dt.datetime(2026, 1, 1))
    bkk = dt.timezone(dt.timedelta(hours=7))
    ev = audit.record(db, "admin.account.resumed", at=dt.datetime(2026, 1, 1, 7, tzinfo=bkk))
    db.expire_all()
    stored = db.get(AuditEvent, ev.seq)
    assert stored.at == dt.datetime(2026, 1, 1, 0, tzinfo=dt.UTC)


def test_outcome_and_documented_fields_are_enforced(db):
    with pytest.raises(ValueError, match="outcome"):
        audit.record(db, "admin.account.resumed", outcome="maybe")
    with pytest.raises(ValueError, match="not documented"):
        audit.record(db, "admin.account.suspended", details={"reason": "x", "mood": "bad"})


def test_details_are_stored_exactly_as_hashed(db):
    """JSON round trip (tuples, UUIDs, integral floats) so both databases re-hash alike."""
    agency = uuid.uuid4()
    ev = audit.record(
        db,
        "admin.role.granted",
        agency_id=agency,
        details={"role": ("auditor",), "agency": agency, "expires_at": 1e20},
    )
    db.expire_all()
    stored = db.get(AuditEvent, ev.seq)
    assert stored.details == {"role": ["auditor"], "agency": str(agency), "expires_at": 10**20}
    assert compute_hash(stored.prev_hash, stored) == stored.hash
    with pytest.raises(ValueError, match="finite"):
        audit.record(db, "admin.role.granted", details={"expires_at": float("nan")})


def test_first_event_links_to_genesis_hash():
    assert GENESIS_HASH == "0" * 64


def test_registry_names_and_field_lists_parse():
    events.check_registry()
    assert events.fields("admin.account.created") == {"email", "agency"}
    assert events.fields("oidc.login.failed") == {"reason", "method"}  # a note is no field
    assert events.fields("admin.account.resumed") == {"reason"}  # "(optional)" is a note
    assert events.fields("admin.account.password_reset") == frozenset()


def _doc_row(event_type: str) -> str:
    cell = ", ".join(
        f"`{name}`" + (f" ({note})" if note else "") for name, note in events.field_docs(event_type)
    )
    return f"| `{event_type}` | " + (cell or "—").replace("|", "\\|") + " |"


def test_every_registered_type_is_documented():
    text = DOCS.read_text(encoding="utf-8")
    missing = [_doc_row(t) for t in events.EVENT_TYPES if f"| `{t}` |" not in text]
    assert not missing, "add to the table in docs/audit.md §8:\n" + "\n".join(missing)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ua=st.text(max_size=600),
    actor=st.text(max_size=200),
    reason=st.text(max_size=50),
)
def test_any_text_is_stored_as_one_line_and_verifies(db, ua, actor, reason):
    ev = audit.record(
        db, "oidc.login.failed", actor=actor, user_agent=ua, details={"reason": reason}
    )
    db.expire_all()
    stored = db.get(AuditEvent, ev.seq)
    for value in (stored.user_agent or "", stored.actor or "", stored.details["reason"]):
        assert not any(c in value for c in "\r\n\x00\u2028\u2029\x85")
    assert len(stored.user_agent or "") <= 512 and len(stored.actor or "") <= 128
    assert compute_hash(stored.prev_hash, stored) == stored.hash
