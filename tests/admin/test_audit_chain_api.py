"""``GET /admin/v1/audit/chain``: what the console's dashboard and audit screen show of the
audit chain (issue 20), on both databases: the head, the newest signed checkpoint, the
newest verification and a break no full verification has cleared; for callers who may
read audit events, refused to the rest."""

from __future__ import annotations

from sqlalchemy import update

from idp.audit.models import AuditEvent
from idp.auditing import checkpoints, verification
from idp.auditing.verify import verify

CHAIN = "/admin/v1/audit/chain"


def test_chain_status_for_auditors_and_refused_to_others(client, db, world):
    h = world.headers("auditor_a")
    r = client.get(CHAIN, headers=h)
    assert r.status_code == 200, r.text
    assert set(r.json()) >= {"last_seq", "last_checkpoint", "last_verification"}

    checkpoints.create(db, world.services.keys, reason="manual")
    verification.record(db, verify(db, world.services.keys), kind="full", actor="cli")
    db.flush()
    body = client.get(CHAIN, headers=h).json()
    last = body["last_verification"]
    assert last["ok"] is True and last["kind"] == "full" and last["by"] == "cli"
    assert last["checked_events"] > 0 and last["first_bad_seq"] is None
    assert body["last_checkpoint"]["seq"] >= 1 and body["last_checkpoint"]["reason"] == "manual"
    assert body["last_seq"] >= last["seq"]
    assert body["unresolved_failure"] is None

    # A break: shown to the agency admin and the operator too (both hold audit:read).
    seq = last["first_seq"]
    db.execute(update(AuditEvent).where(AuditEvent.seq == seq).values(ip="203.0.113.66"))
    verification.record(db, verify(db, world.services.keys), kind="full", actor="cli")
    db.flush()
    for who in ("admin_a", "operator", "auditor_a", "bot_a"):
        body = client.get(CHAIN, headers=world.headers(who)).json()
        bad = body["unresolved_failure"]
        assert bad["ok"] is False and bad["first_bad_seq"] == seq, who
        assert bad["problem"] == "hash_mismatch"

    # No audit:read, no chain: a machine without admin:audit and a person without a role.
    assert client.get(CHAIN, headers=world.headers("bot_plain")).status_code == 403
    assert client.get(CHAIN, headers=world.headers("nobody")).status_code == 403
    machine = world.machine("bot_acc_only", "A", ("admin:accounts",))
    assert machine
    assert client.get(CHAIN, headers=world.headers("bot_acc_only")).status_code == 403
