"""What the admin console needs from /admin/v1 (issue 20), on both databases: account
search by name (Thai or English), email and citizen-ID last four; the second-factor and
locked filters and flags; a reason on resume and delete, audited; the dashboard summary
for the caller's subtree, with what an auditor may and may not see."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, update

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.audit.models import AuditEvent
from idp.credentials.models import MfaCredential
from idp.db import utcnow
from idp.directory.models import OutboxEntry
from tests import factories

A = "/admin/v1/accounts"
CITIZEN = "1101700223451"  # a valid check digit; last four 3451


def _emails(r) -> set[str]:
    assert r.status_code == 200, r.text
    return {i["email"] for i in r.json()["items"]}


def _somchai(world, agency="A1", **kw):
    return factories.account(
        world.db,
        f"somchai.j@{world.domain(agency)}",
        world.agencies[agency].code,
        hasher=world.services.hasher,
        cipher=world.services.cipher,
        given_name_th="สมชาย",
        family_name_th="ใจดี",
        given_name_en="Somchai",
        family_name_en="JAIDEE",
        **kw,
    )


def test_search_by_thai_and_english_names_email_and_citizen_id_last_four(client, world):
    s = _somchai(world, citizen_id=CITIZEN)
    # Another ministry's Somchai is never found by an agency admin.
    factories.account(
        world.db,
        f"somchai.o@{world.domain('O')}",
        world.agencies["O"].code,
        hasher=world.services.hasher,
        cipher=world.services.cipher,
        given_name_en="Somchai",
    )
    h = world.headers("admin_a")
    for q in ("สมชาย", "ใจดี", "somchai", "Somchai", "jaidee", "สมชาย ใจ", "somch jai", "3451"):
        assert _emails(client.get(A, params={"q": q}, headers=h)) == {s.email}, q
    assert _emails(client.get(A, params={"q": "somchai.j@"}, headers=h)) == {s.email}
    assert _emails(client.get(A, params={"q": "สมชาย Smith"}, headers=h)) == set()
    assert _emails(client.get(A, params={"q": "3452"}, headers=h)) == set()
    # The operator sees both Somchais; wildcards are literal.
    both = _emails(client.get(A, params={"q": "somchai"}, headers=world.headers("operator")))
    assert len(both) == 2
    assert _emails(client.get(A, params={"q": "som%"}, headers=h)) == set()
    # Limits: words and length; refused as problem+json naming the field.
    r = client.get(A, params={"q": "a b c d e"}, headers=h)
    assert r.status_code == 422, r.text
    assert [e["field"] for e in r.json()["errors"]] == ["q"]
    assert client.get(A, params={"q": "x" * 101}, headers=h).status_code == 422


def test_second_factor_and_locked_filters_and_flags(client, db, world):
    s = _somchai(world)
    db.add(MfaCredential(account_id=s.id, kind="totp", secret_enc="x", confirmed_at=utcnow()))
    other = world.accounts["user_a1"]
    db.add(MfaCredential(account_id=other.id, kind="totp", secret_enc="x"))  # unconfirmed
    db.execute(
        update(Account)
        .where(Account.id == other.id)
        .values(locked_until=utcnow() + dt.timedelta(minutes=10))
    )
    db.flush()
    db.expire_all()
    h = world.headers("admin_a")
    mfa = _emails(client.get(A, params={"has_second_factor": "true"}, headers=h))
    assert s.email in mfa and other.email not in mfa
    no_mfa = _emails(client.get(A, params={"has_second_factor": "false"}, headers=h))
    assert other.email in no_mfa and s.email not in no_mfa
    assert _emails(client.get(A, params={"locked": "true"}, headers=h)) == {other.email}
    assert other.email not in _emails(client.get(A, params={"locked": "false"}, headers=h))
    one = client.get(f"{A}/{s.id}", headers=h).json()
    assert one["has_second_factor"] is True and one["locked"] is False
    two = client.get(f"{A}/{other.id}", headers=h).json()
    assert two["has_second_factor"] is False and two["locked"] is True
    items = client.get(A, params={"q": "somchai"}, headers=h).json()["items"]
    assert items[0]["has_second_factor"] is True


def _events(db, type_, subject):
    return list(
        db.scalars(
            select(AuditEvent).where(AuditEvent.type == type_, AuditEvent.subject == subject)
        )
    )


def test_resume_and_delete_take_a_reason_that_is_audited(client, db, world):
    target = world.accounts["user_a1"]
    h = world.headers("admin_a", **{"Idempotency-Key": "k-susp"})
    assert client.post(f"{A}/{target.id}/suspend", json={"reason": "leave"}, headers=h).is_success
    h = world.headers("admin_a", **{"Idempotency-Key": "k-res"})
    r = client.post(f"{A}/{target.id}/resume", json={"reason": "back from leave"}, headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active"
    ev = _events(db, "admin.account.resumed", str(target.id))
    assert ev[-1].details["reason"] == "back from leave"
    etag = client.get(f"{A}/{target.id}", headers=world.headers("admin_a")).headers["etag"]
    r = client.request(
        "DELETE",
        f"{A}/{target.id}",
        json={"reason": "retired"},
        headers=world.headers("admin_a", **{"If-Match": etag}),
    )
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert _events(db, "admin.account.deleted", str(target.id))[-1].details["reason"] == "retired"
    # Still without a body, as before; a control character is refused.
    other = world.accounts["user_a"]
    etag = client.get(f"{A}/{other.id}", headers=world.headers("admin_a")).headers["etag"]
    bad = client.request(
        "DELETE",
        f"{A}/{other.id}",
        json={"reason": "a\x00b"},
        headers=world.headers("admin_a", **{"If-Match": etag}),
    )
    assert bad.status_code == 422
    ok = client.delete(f"{A}/{other.id}", headers=world.headers("admin_a", **{"If-Match": etag}))
    assert ok.status_code == 200


def test_summary_counts_the_callers_subtree_only(client, db, world):
    a1, o = world.accounts["user_a1"], world.accounts["user_o"]
    db.execute(
        update(Account)
        .where(Account.id.in_([a1.id, o.id]))
        .values(locked_until=utcnow() + dt.timedelta(minutes=5))
    )
    db.execute(
        update(OutboxEntry)
        .where(OutboxEntry.account_id.in_([a1.id, o.id]))
        .values(parked_at=utcnow(), last_error="x")
    )
    for agency, outcome in (("A", "oidc.login.succeeded"), ("O", "oidc.login.failed")):
        audit.record(db, outcome, agency_id=world.agencies[agency].id, subject="s")
    audit.record(db, "oidc.login.failed", agency_id=world.agencies["A1"].id, subject="s")
    db.flush()

    def get(who):
        r = client.get("/admin/v1/summary", headers=world.headers(who))
        assert r.status_code == 200, r.text
        return r.json()

    a = get("admin_a")
    in_a = db.scalar(select(Account.id).where(Account.agency_id.in_([world.agencies["A"].id])))
    assert in_a is not None
    accounts_a = {"admin_a", "auditor_a", "nobody", "user_a", "user_a1"}
    assert a["accounts"]["by_status"]["active"] == len(accounts_a)
    assert a["accounts"]["locked"] == 1  # not the other ministry's
    assert a["outbox"]["parked"] == 1
    assert a["sign_ins"]["succeeded"] == 1 and a["sign_ins"]["failed"] == 1
    assert "last_seq" in a["audit"]
    op = get("operator")
    assert op["accounts"]["locked"] >= 2 and op["sign_ins"]["failed"] >= 2
    # The auditor of A sees the same figures (read-only role)...
    assert get("auditor_a")["accounts"] == a["accounts"]
    # ...a machine with only admin:accounts gets no audit data, and one without any
    # admin scope is refused.
    bot = world.machine("bot_acc", "A", ("admin:accounts",))
    assert bot
    r = client.get("/admin/v1/summary", headers=world.headers("bot_acc")).json()
    assert r["sign_ins"] is None and r["audit"] is None
    assert client.get("/admin/v1/summary", headers=world.headers("bot_plain")).status_code == 403
    assert client.get("/admin/v1/summary", headers=world.headers("nobody")).status_code == 403
