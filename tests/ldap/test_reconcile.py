"""`reconcile` finds hand-made differences between the database and slapd, and fixes them."""

from __future__ import annotations

from ldap3 import MODIFY_REPLACE

from idp.audit.models import AuditEvent
from idp.directory import worker
from idp.directory.reconcile import reconcile
from tests import factories
from tests.ldap.test_provisioning import ldap_entries


def test_reconcile_reports_then_fixes_hand_made_differences(
    db, sessions, directory, ldap_settings, ldap_base, mail_slapd, mail_agency, unique, hasher,
    cipher,
):  # fmt: skip
    office = factories.agency(db, f"off-{unique}", parent=mail_agency.code)

    def make(local, code):
        return factories.account(db, f"{local}@m{unique}.go.th", code, hasher=hasher, cipher=cipher)

    a, b, c = (
        make("alpha", mail_agency.code),
        make("bravo", office.code),
        make("charlie", office.code),
    )
    worker.run_once(sessions, directory, ldap_settings)
    clean = reconcile(db, directory, ldap_settings, mail_agency.code)
    assert clean.to_dict()["in_sync"] and clean.accounts == 3 and clean.entries == 3

    # By hand, in the directory: a wrong quota, a lost entry, a stray entry.
    conn = mail_slapd.admin()
    conn.modify(
        f"uid={a.id},{ldap_settings.people_dn}", {"govidMailQuota": [(MODIFY_REPLACE, ["1"])]}
    )
    conn.delete(f"uid={b.id},{ldap_settings.people_dn}")
    conn.add(
        f"uid=stray,{ldap_settings.people_dn}",
        ["inetOrgPerson"],
        {"uid": "stray", "cn": "Stray", "sn": "Stray", "ou": office.code},
    )
    conn.unbind()
    # And in the database, a status change that never went through the outbox.
    c.status = "deleted"
    db.flush()

    report = reconcile(db, directory, ldap_settings, mail_agency.code)
    got = {(d.kind, d.account_id): d for d in report.differences}
    assert set(got) == {
        ("different", str(a.id)),
        ("missing", str(b.id)),
        ("unexpected", str(c.id)),
        ("orphan", "stray"),
    }
    assert got[("different", str(a.id))].attributes == ["govidMailQuota"]
    assert not any(d.fixed for d in report.differences)  # dry run by default
    assert str(b.id) not in ldap_entries(mail_slapd, ldap_base)

    fixed = reconcile(db, directory, ldap_settings, mail_agency.code, fix=True, actor="test")
    assert all(d.fixed for d in fixed.differences) and len(fixed.differences) == 4
    after = ldap_entries(mail_slapd, ldap_base)
    assert set(after) == {str(a.id), str(b.id)}
    assert after[str(a.id)]["govidmailquota"] == ["6144"]
    assert reconcile(db, directory, ldap_settings, mail_agency.code).to_dict()["in_sync"]

    ev = db.query(AuditEvent).filter(AuditEvent.type == "directory.reconcile.fixed").one()
    assert ev.details == {
        "agency": mail_agency.code,
        "missing": 1,
        "unexpected": 1,
        "different": 1,
        "orphan": 1,
        "duplicate": 0,
        "failed": 0,
    }


def test_reconcile_of_a_sub_agency_ignores_the_rest(
    db, sessions, directory, ldap_settings, mail_agency, unique, hasher, cipher
):
    office = factories.agency(db, f"sub-{unique}", parent=mail_agency.code)
    factories.account(db, f"top@m{unique}.go.th", mail_agency.code, hasher=hasher, cipher=cipher)
    factories.account(db, f"low@m{unique}.go.th", office.code, hasher=hasher, cipher=cipher)
    # Nothing provisioned yet: the office sees only its own missing account.
    report = reconcile(db, directory, ldap_settings, office.code)
    assert [(d.kind, d.email) for d in report.differences] == [("missing", f"low@m{unique}.go.th")]
