"""Account changes reach a real slapd through the outbox worker (PostgreSQL and SQLite)."""

from __future__ import annotations

import pytest
from ldap3 import MODIFY_REPLACE, SUBTREE

from idp.accounts import service as accounts
from idp.audit.models import AuditEvent
from idp.clock import FakeClock
from idp.directory import entries, outbox, worker
from idp.directory.mail import LdapMailDirectory
from tests import factories
from tests.ldap.conftest import directory_settings, outbox_rows


def ldap_entries(slapd, base: str) -> dict[str, dict]:
    """uid → attributes, read independently of the code under test."""
    conn = slapd.admin()
    try:
        conn.search(base, "(objectClass=inetOrgPerson)", SUBTREE, attributes=["*"])
        out = {}
        for e in conn.entries:
            attrs = {k.lower(): [str(v) for v in e[k].values] for k in e.entry_attributes}
            attrs["dn"] = e.entry_dn
            assert attrs["uid"][0] not in out, "duplicate entry for one account"
            out[attrs["uid"][0]] = attrs
        return out
    finally:
        conn.unbind()


@pytest.fixture
def new(db, mail_agency, unique, hasher, cipher):
    def make(local: str, **kw):
        return factories.account(
            db, f"{local}@m{unique}.go.th", mail_agency.code, hasher=hasher, cipher=cipher, **kw
        )

    return make


def test_create_rename_suspend_resume_delete_propagate(
    db, sessions, directory, ldap_settings, ldap_base, mail_slapd, new, unique
):
    a = new(
        "somchai",
        given_name_en="Somchai",
        family_name_en="Jaidee",
        given_name_th="สมชาย",
        family_name_th="ใจดี",
        aliases=[f"sj@m{unique}.go.th"],
    )
    assert worker.run_once(sessions, directory, ldap_settings).actions == {"added": 1}
    e = ldap_entries(mail_slapd, ldap_base)[str(a.id)]
    assert e["dn"] == f"uid={a.id},{ldap_settings.people_dn}"
    assert set(e["mail"]) == {f"somchai@m{unique}.go.th", f"sj@m{unique}.go.th"}
    assert set(e["cn"]) == {"Somchai Jaidee", "สมชาย ใจดี"}
    assert set(e["sn"]) == {"Jaidee", "ใจดี"}
    assert e["displayname"] == ["สมชาย ใจดี"]
    assert e["govidmailquota"] == ["6144"] and e["govidattachmentlimit"] == ["25"]
    assert e["govidaccountstatus"] == ["active"] and e["ou"] == [a.agency.code]

    accounts.update(
        db,
        a,
        accounts.AccountChanges(
            email=f"somchai.j@m{unique}.go.th", mailbox_quota_mb=8192, aliases=[]
        ),
        actor="test",
    )
    assert worker.run_once(sessions, directory, ldap_settings).actions == {"modified": 1}
    e = ldap_entries(mail_slapd, ldap_base)[str(a.id)]
    assert e["mail"] == [f"somchai.j@m{unique}.go.th"]
    assert e["govidmailquota"] == ["8192"]

    accounts.suspend(db, a, actor="test", reason="left the agency")
    worker.run_once(sessions, directory, ldap_settings)
    assert ldap_entries(mail_slapd, ldap_base)[str(a.id)]["govidaccountstatus"] == ["disabled"]

    accounts.resume(db, a, actor="test")
    worker.run_once(sessions, directory, ldap_settings)
    assert ldap_entries(mail_slapd, ldap_base)[str(a.id)]["govidaccountstatus"] == ["active"]

    accounts.soft_delete(db, a, actor="test")
    assert worker.run_once(sessions, directory, ldap_settings).actions == {"deleted": 1}
    assert str(a.id) not in ldap_entries(mail_slapd, ldap_base)

    rows = outbox_rows(db)
    assert [r.op for r in rows if r.account_id == a.id] == [
        "add",
        "modify",
        "disable",
        "enable",
        "delete",
    ]
    assert all(r.done_at is not None and r.attempts == 0 for r in rows)


def test_move_mode_puts_suspended_entries_in_the_disabled_ou(
    db, sessions, mail_slapd, ldap_base, new
):
    s = directory_settings(mail_slapd, ldap_base, disable_mode="move", status_attribute="")
    d = LdapMailDirectory(s)
    try:
        a = new("malee")
        accounts.suspend(db, a, actor="test")  # suspended before the first sync
        worker.run_once(sessions, d, s)
        e = ldap_entries(mail_slapd, ldap_base)[str(a.id)]
        assert e["dn"] == f"uid={a.id},{s.disabled_dn}"
        assert "govidaccountstatus" not in e  # attribute flag switched off
        accounts.resume(db, a, actor="test")
        assert worker.run_once(sessions, d, s).actions == {"moved": 1}
        assert ldap_entries(mail_slapd, ldap_base)[str(a.id)]["dn"].endswith(s.people_dn)
    finally:
        d.close()


def test_applying_twice_is_harmless(db, directory, ldap_settings, ldap_base, mail_slapd, new):
    a = new("twice", given_name_en="Twice")
    desired = entries.desired_state(a.id, a, ldap_settings)
    assert directory.apply(desired, hint="add") == "added"
    assert directory.apply(desired, hint="add") == "unchanged"  # add on existing → compare
    assert directory.apply(desired) == "unchanged"
    # Someone edits the entry by hand: the next apply puts it back.
    conn = mail_slapd.admin()
    conn.modify(desired.dn, {"govidMailQuota": [(MODIFY_REPLACE, ["1"])]})
    conn.unbind()
    assert directory.apply(desired, hint="add") == "modified"
    gone = entries.desired_state(a.id, None, ldap_settings)
    assert directory.apply(gone) == "deleted"
    assert directory.apply(gone) == "unchanged"  # delete when absent → done
    assert ldap_entries(mail_slapd, ldap_base) == {}


def test_rows_of_one_account_are_claimed_one_at_a_time_in_order(
    db, sessions, directory, ldap_settings, new
):
    a, b = new("order1"), new("order2")
    accounts.update(db, a, accounts.AccountChanges(given_name_en="A1"), actor="t")
    accounts.update(db, a, accounts.AccountChanges(given_name_en="A2"), actor="t")
    db.flush()
    with sessions() as s, s.begin():
        claimed = worker.claim(s, 100, 60)
    # Only the oldest row of each account: a's later rows wait for its first one.
    assert [(c.account_id, c.op) for c in claimed] == [(a.id, "add"), (b.id, "add")]
    with sessions() as s, s.begin():
        assert worker.claim(s, 100, 60) == []  # leased rows still block the accounts
    rows = [r for r in outbox_rows(db) if r.account_id in (a.id, b.id)]
    assert [r.op for r in rows] == ["add", "add", "modify", "modify"]


def test_schema_error_parks_the_row_and_retry_applies_it_after_a_fix(
    db, sessions, mail_slapd, ldap_base, new, unique
):
    broken = directory_settings(mail_slapd, ldap_base, quota_attribute="noSuchQuotaAttr")
    d = LdapMailDirectory(broken)
    a = new("parked")
    clock = FakeClock()
    try:
        r1 = worker.run_once(sessions, d, broken, clock)
        assert (r1.retried, r1.parked, r1.error) == (1, 0, None)  # non-transient, 1st try
        row = next(r for r in outbox_rows(db) if r.account_id == a.id)
        assert row.parked_at is None and row.attempts == 1
        clock.advance(broken.backoff(1) * 0.9)
        early = worker.run_once(sessions, d, broken, clock)
        assert (early.retried, early.parked) == (0, 0)  # not due yet
        clock.advance(broken.backoff(1) * 0.1)
        r2 = worker.run_once(sessions, d, broken, clock)
        assert r2.parked == 1
    finally:
        d.close()
    row = next(r for r in outbox_rows(db) if r.account_id == a.id)
    assert outbox.status_of(row) == "parked" and row.attempts == 2
    assert "noSuchQuotaAttr" in row.last_error or "undefined" in row.last_error.lower()
    assert [r.id for r in outbox.list_entries(db, status="parked")] == [row.id]
    parked_events = db.query(AuditEvent).filter(AuditEvent.type == "directory.outbox.parked")
    assert parked_events.filter(AuditEvent.subject == str(a.id)).count() == 1

    # The operator fixes the mapping and retries: the change goes through.
    fixed = directory_settings(mail_slapd, ldap_base)
    outbox.retry(db, row.id, actor="test")
    db.flush()
    d = LdapMailDirectory(fixed)
    try:
        assert worker.run_once(sessions, d, fixed).actions == {"added": 1}
    finally:
        d.close()
    row = next(r for r in outbox_rows(db) if r.account_id == a.id)
    assert outbox.status_of(row) == "done"
    assert str(a.id) in ldap_entries(mail_slapd, ldap_base)


def test_a_newer_change_supersedes_a_parked_row(db, sessions, mail_slapd, ldap_base, new):
    s = directory_settings(mail_slapd, ldap_base, park_after=1)
    d = LdapMailDirectory(s)
    try:
        a = new("supersede")
        row = next(r for r in outbox_rows(db) if r.account_id == a.id)
        row.parked_at, row.last_error = row.created_at, "simulated schema violation"
        db.flush()
        accounts.update(db, a, accounts.AccountChanges(family_name_en="Fixed"), actor="t")
        assert worker.run_once(sessions, d, s).actions == {"added": 1}
    finally:
        d.close()
    assert all(r.done_at for r in outbox_rows(db) if r.account_id == a.id)
    assert ldap_entries(mail_slapd, ldap_base)[str(a.id)]["sn"] == ["Fixed"]
