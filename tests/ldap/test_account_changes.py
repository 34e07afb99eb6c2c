"""Account changes write an outbox row and an audit event in the same transaction."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.accounts import service as accounts
from idp.audit.models import AuditEvent
from idp.directory.models import OutboxEntry
from idp.errors import Conflict, DuplicateEmail, InvalidInput
from tests import factories


@pytest.fixture
def agency(db, unique):
    return factories.agency(db, f"chg-{unique}", domains=[f"c{unique}.go.th"])


@pytest.fixture
def account(db, agency, unique, hasher, cipher):
    return factories.account(db, f"nok@c{unique}.go.th", agency.code, hasher=hasher, cipher=cipher)


def trail(db, account) -> list[tuple[str, str]]:
    """(outbox op, audit type) in order, for the account, after creation."""
    ops = db.scalars(
        select(OutboxEntry.op).where(OutboxEntry.account_id == account.id).order_by(OutboxEntry.id)
    ).all()
    events = db.scalars(
        select(AuditEvent.type)
        .where(AuditEvent.subject == str(account.id))
        .order_by(AuditEvent.seq)
    ).all()
    return list(zip(ops, events, strict=True))[1:]


def test_update_rename_quota_aliases(db, account, unique):
    accounts.update(
        db,
        account,
        accounts.AccountChanges(
            email=f"Nok.S@c{unique}.GO.TH",
            mailbox_quota_mb=10240,
            aliases=[f"nok@c{unique}.go.th", f"NS@c{unique}.go.th"],
            given_name_en=" Nok ",
        ),
        actor="admin-1",
    )
    assert account.email == f"nok.s@c{unique}.go.th"
    assert account.aliases == [f"nok@c{unique}.go.th", f"ns@c{unique}.go.th"]
    assert account.given_name_en == "Nok"
    assert trail(db, account) == [("modify", "admin.account.updated")]
    ev = db.scalars(select(AuditEvent).where(AuditEvent.subject == str(account.id))).all()[-1]
    assert ev.details == {"changed": ["aliases", "email", "given_name_en", "mailbox_quota_mb"]}
    assert ev.actor == "admin-1"


def test_no_change_writes_nothing(db, account):
    accounts.update(db, account, accounts.AccountChanges(email=account.email.upper()))
    assert trail(db, account) == []


def test_update_checks(db, account, agency, unique, hasher, cipher):
    other = factories.account(
        db, f"other@c{unique}.go.th", agency.code, hasher=hasher, cipher=cipher
    )
    with pytest.raises(DuplicateEmail):
        accounts.update(db, account, accounts.AccountChanges(email=other.email))
    with pytest.raises(InvalidInput, match="mail domains"):
        accounts.update(db, account, accounts.AccountChanges(email="nok@elsewhere.go.th"))
    with pytest.raises(InvalidInput, match="positive"):
        accounts.update(db, account, accounts.AccountChanges(mailbox_quota_mb=0))
    with pytest.raises(Conflict, match="changed by someone else"):
        accounts.update(
            db,
            account,
            accounts.AccountChanges(given_name_en="X"),
            expected_version=account.version + 1,
        )
    assert trail(db, account) == []


def test_suspend_resume_delete(db, account):
    accounts.suspend(db, account, actor="a", reason="on leave")
    accounts.suspend(db, account, actor="a")  # idempotent: nothing new
    accounts.resume(db, account, actor="a", expected_version=account.version)
    accounts.soft_delete(db, account, actor="a")
    assert account.status == "deleted" and account.deleted_at is not None
    assert trail(db, account) == [
        ("disable", "admin.account.suspended"),
        ("enable", "admin.account.resumed"),
        ("delete", "admin.account.deleted"),
    ]
    with pytest.raises(Conflict):
        accounts.resume(db, account)
    with pytest.raises(Conflict):
        accounts.update(db, account, accounts.AccountChanges(given_name_en="Z"))
    accounts.soft_delete(db, account)  # idempotent
    assert len(trail(db, account)) == 3


def test_the_change_rolls_back_with_its_outbox_row_and_event(db, account):
    before = trail(db, account)
    with pytest.raises(RuntimeError), db.begin_nested():
        accounts.suspend(db, account, actor="a")
        raise RuntimeError("the request failed later")
    db.expire_all()
    assert trail(db, account) == before
    assert db.get(type(account), account.id).status == "active"
