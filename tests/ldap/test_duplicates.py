"""One account, one entry: re-applied rows, stale copies and reconcile (audit defects 3, 4).

With ``IDP_LDAP_DISABLE_MODE=move`` an entry can exist in two containers. A row applied
once, then again after its lease ran out (the worker crashed before *complete*), must not
leave a second entry; nor must any other operation; reconcile reports such duplicates and
``--fix`` keeps the entry in the right container.
"""

from __future__ import annotations

import datetime as dt

import pytest
from ldap3 import SUBTREE
from sqlalchemy import select, update

from idp.accounts import service as accounts
from idp.audit.models import AuditEvent
from idp.db import utcnow
from idp.directory import entries, worker
from idp.directory.ldap import DirectoryError
from idp.directory.mail import LdapMailDirectory
from idp.directory.models import OutboxEntry
from idp.directory.reconcile import reconcile
from tests import factories
from tests.ldap.conftest import directory_settings, outbox_rows


@pytest.fixture
def move_settings(mail_slapd, ldap_base):
    return directory_settings(mail_slapd, ldap_base, disable_mode="move", lease_seconds=30)


@pytest.fixture
def move_directory(move_settings):
    d = LdapMailDirectory(move_settings)
    yield d
    d.close()


@pytest.fixture
def new(db, mail_agency, unique, hasher, cipher):
    def make(local: str):
        return factories.account(
            db, f"{local}@m{unique}.go.th", mail_agency.code, hasher=hasher, cipher=cipher
        )

    return make


def entries_of(slapd, base: str, uid: str) -> list[dict]:
    """Every entry with this uid under ``base``, read independently of the code."""
    conn = slapd.admin()
    try:
        conn.search(base, f"(uid={uid})", SUBTREE, attributes=["*"])
        out = []
        for e in conn.entries:
            attrs = {k.lower(): [str(v) for v in e[k].values] for k in e.entry_attributes}
            out.append({"dn": e.entry_dn, **attrs})
        return out
    finally:
        conn.unbind()


def stage_copy(slapd, s, account, container: str, status: str) -> str:
    """Put a (stale) copy of the account's entry in ``container`` by hand."""
    desired = entries.desired_state(account.id, account, s)
    attrs = entries.add_attributes(desired)
    attrs[s.status_attribute] = [status]
    dn = f"uid={account.id},{container}"
    slapd.add_entry(dn, attrs.pop("objectClass"), attrs)
    return dn


def test_add_reapplied_after_the_lease_does_not_duplicate(
    db, sessions, move_directory, move_settings, ldap_base, mail_slapd, new
):
    s = move_settings
    a = new("crash")
    # The worker claims and applies the add, then dies before "complete".
    with sessions() as session, session.begin():
        (row,) = worker.claim(session, 10, s.lease_seconds)
    assert row.op == "add"
    desired = entries.desired_state(a.id, a, s)
    assert move_directory.apply(desired, hint=row.op) == "added"
    # Meanwhile an admin suspends the account; then the lease runs out.
    accounts.suspend(db, a, actor="admin")
    db.flush()
    db.execute(update(OutboxEntry).values(next_try_at=utcnow() - dt.timedelta(seconds=1)))

    result = worker.run_once(sessions, move_directory, s)
    assert result.parked == 0 and result.done == 2, result.to_dict()
    (entry,) = entries_of(mail_slapd, ldap_base, str(a.id))
    assert entry["dn"] == f"uid={a.id},{s.disabled_dn}"
    assert entry["govidaccountstatus"] == ["disabled"]
    assert all(r.done_at is not None and r.parked_at is None for r in outbox_rows(db))
    assert reconcile(db, move_directory, s, a.agency.code).to_dict()["in_sync"]


@pytest.mark.parametrize("hint", ["add", "disable", "modify"])
def test_suspended_account_with_copies_in_both_containers_converges(
    db, move_directory, move_settings, ldap_base, mail_slapd, new, hint
):
    s = move_settings
    a = new(f"both{hint}")
    accounts.suspend(db, a, actor="admin")
    stage_copy(mail_slapd, s, a, s.people_dn, "active")
    stage_copy(mail_slapd, s, a, s.disabled_dn, "active")  # wrong status too
    move_directory.apply(entries.desired_state(a.id, a, s), hint=hint)
    (entry,) = entries_of(mail_slapd, ldap_base, str(a.id))
    assert entry["dn"] == f"uid={a.id},{s.disabled_dn}"
    assert entry["govidaccountstatus"] == ["disabled"]


@pytest.mark.parametrize("hint", ["add", "enable"])
def test_active_account_with_a_stale_disabled_copy_converges(
    db, move_directory, move_settings, ldap_base, mail_slapd, new, hint
):
    s = move_settings
    a = new(f"stale{hint}")
    stage_copy(mail_slapd, s, a, s.disabled_dn, "disabled")
    if hint == "enable":  # the target exists too: the move must not fail (was 68)
        stage_copy(mail_slapd, s, a, s.people_dn, "active")
    move_directory.apply(entries.desired_state(a.id, a, s), hint=hint)
    (entry,) = entries_of(mail_slapd, ldap_base, str(a.id))
    assert entry["dn"] == f"uid={a.id},{s.people_dn}"
    assert entry["govidaccountstatus"] == ["active"]


def test_reconcile_reports_and_fixes_duplicates(
    db, move_directory, move_settings, ldap_base, mail_slapd, new, mail_agency
):
    s = move_settings
    a, b = new("dupa"), new("dupb")
    accounts.suspend(db, b, actor="admin")
    db.flush()
    stage_copy(mail_slapd, s, a, s.people_dn, "active")
    stale_a = stage_copy(mail_slapd, s, a, s.disabled_dn, "disabled")
    stale_b = stage_copy(mail_slapd, s, b, s.people_dn, "active")
    stage_copy(mail_slapd, s, b, s.disabled_dn, "disabled")

    report = reconcile(db, move_directory, s, mail_agency.code)
    assert report.entries == 4
    got = {(d.kind, d.account_id, d.dn) for d in report.differences}
    assert got == {("duplicate", str(a.id), stale_a), ("duplicate", str(b.id), stale_b)}
    assert report.counts()["duplicate"] == 2 and len(entries_of(mail_slapd, ldap_base, "*")) == 4

    fixed = reconcile(db, move_directory, s, mail_agency.code, fix=True, actor="test")
    assert all(d.fixed and not d.error for d in fixed.differences)
    event = db.scalars(
        select(AuditEvent).where(AuditEvent.type == "directory.reconcile.fixed")
    ).one()
    assert event.details["duplicate"] == 2 and event.details["failed"] == 0
    (ea,) = entries_of(mail_slapd, ldap_base, str(a.id))
    (eb,) = entries_of(mail_slapd, ldap_base, str(b.id))
    assert ea["dn"] == f"uid={a.id},{s.people_dn}" and eb["dn"] == f"uid={b.id},{s.disabled_dn}"
    assert reconcile(db, move_directory, s, mail_agency.code).to_dict()["in_sync"]


class FailingFor:
    """The real directory, except that applying one account's state fails."""

    def __init__(self, inner, account_id, *, transient: bool) -> None:
        self.inner, self.account_id, self.transient = inner, account_id, transient

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def apply(self, desired, *, hint=""):
        if desired.account_id == self.account_id:
            raise DirectoryError("modify: objectClassViolation (65)", transient=self.transient)
        return self.inner.apply(desired, hint=hint)


def test_reconcile_fix_goes_on_after_one_entry_fails(
    db, move_directory, move_settings, ldap_base, mail_slapd, new, mail_agency
):
    s = move_settings
    bad, good = new("aaa-bad"), new("zzz-good")  # the failing one comes first
    report = reconcile(
        db, FailingFor(move_directory, bad.id, transient=False), s, mail_agency.code, fix=True
    )
    by_id = {d.account_id: d for d in report.differences}
    assert by_id[str(bad.id)].error == "modify: objectClassViolation (65)"
    assert not by_id[str(bad.id)].fixed and by_id[str(good.id)].fixed
    assert report.failed == 1 and report.aborted is None
    assert len(entries_of(mail_slapd, ldap_base, str(good.id))) == 1
    assert report.to_dict()["failed"] == 1


def test_reconcile_fix_stops_when_the_directory_goes_away(
    db, move_directory, move_settings, new, mail_agency
):
    s = move_settings
    bad, later = new("aaa-down"), new("zzz-later")
    report = reconcile(
        db, FailingFor(move_directory, bad.id, transient=True), s, mail_agency.code, fix=True
    )
    by_id = {d.account_id: d for d in report.differences}
    assert report.aborted and by_id[str(later.id)].error.startswith("not attempted")
    assert not any(d.fixed for d in report.differences)
