"""Audit events form a hash chain written in the caller's transaction."""

import pytest
from sqlalchemy import select, update

from idp.audit import service as audit
from idp.audit.models import AuditEvent


def test_events_chain_and_verify(db):
    a = audit.record(db, "oidc.login.succeeded", actor="x", details={"acr": "1"})
    b = audit.record(db, "oidc.login.failed", outcome="failure", details={"reason": "r"})
    assert b.seq == a.seq + 1
    assert b.prev_hash == a.hash
    assert audit.verify_chain(db) is None


def test_edit_is_detected(db):
    audit.record(db, "oidc.login.succeeded", actor="x")
    ev = audit.record(db, "oidc.login.succeeded", actor="y")
    audit.record(db, "oidc.login.succeeded", actor="z")
    db.execute(update(AuditEvent).where(AuditEvent.seq == ev.seq).values(actor="mallory"))
    db.expire_all()
    assert audit.verify_chain(db) == ev.seq


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
