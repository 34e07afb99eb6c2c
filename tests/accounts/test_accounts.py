"""Account creation rules, on PostgreSQL and SQLite."""

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.accounts import service as accounts
from idp.accounts.models import Account
from idp.directory.models import OutboxEntry
from idp.errors import Conflict, DuplicateEmail, InvalidCitizenId, InvalidInput
from tests import factories

VALID_CID = "1103702345679"


@pytest.fixture
def agency(db, unique):
    return factories.agency(db, f"acc-{unique}", domains=[f"{unique}.go.th"])


def make(db, agency, email, hasher, cipher, **kw):
    return factories.account(db, email, agency.code, hasher=hasher, cipher=cipher, **kw)


def test_email_is_lower_cased_and_unique_case_insensitively(db, agency, unique, hasher, cipher):
    a = make(db, agency, f"Somchai.J@{unique.upper()}.GO.TH", hasher, cipher)
    assert a.email == f"somchai.j@{unique}.go.th"
    with pytest.raises(DuplicateEmail, match="already exists"):
        make(db, agency, f"SOMCHAI.j@{unique}.go.th", hasher, cipher)


def test_database_enforces_email_uniqueness_too(db, agency, unique):
    """Even a writer that bypasses the service cannot create a case-variant duplicate."""
    db.add(Account(agency_id=agency.id, email=f"dup@{unique}.go.th"))
    db.flush()
    db.add(Account(agency_id=agency.id, email=f"DUP@{unique}.go.th"))
    with pytest.raises(IntegrityError), db.begin_nested():
        db.flush()


def test_email_must_be_in_agency_or_parent_domains(db, agency, unique, hasher, cipher):
    child = factories.agency(db, f"child-{unique}", parent=agency.code)
    # The child has no domain of its own: its parent's domain applies.
    ok = factories.account(db, f"p@{unique}.go.th", child.code, hasher=hasher, cipher=cipher)
    assert ok.agency_id == child.id
    with pytest.raises(InvalidInput, match="mail domains") as exc:
        make(db, agency, "someone@gmail.com", hasher, cipher)
    assert exc.value.field == "email"


@pytest.mark.parametrize("email", ["no-at-sign", "a@b", "two@@x.go.th", "sp ace@x.go.th", ""])
def test_malformed_email(db, agency, email, hasher, cipher):
    with pytest.raises(InvalidInput, match="not a valid email"):
        make(db, agency, email, hasher, cipher)


def test_citizen_id_is_encrypted_with_last4_and_unique(db, agency, unique, hasher, cipher):
    a = make(db, agency, f"c1@{unique}.go.th", hasher, cipher, citizen_id="1-1037-02345-67-9")
    assert a.citizen_id_last4 == "5679"
    assert VALID_CID not in (a.citizen_id_enc or "")
    assert cipher.decrypt(a.citizen_id_enc, accounts.CITIZEN_ID_PURPOSE) == VALID_CID.encode()
    with pytest.raises(Conflict, match="another account"):
        make(db, agency, f"c2@{unique}.go.th", hasher, cipher, citizen_id=VALID_CID)


def test_invalid_citizen_id_writes_nothing(db, agency, unique, hasher, cipher):
    with pytest.raises(InvalidCitizenId):
        make(db, agency, f"bad@{unique}.go.th", hasher, cipher, citizen_id="1103702345670")
    assert accounts.get_by_email(db, f"bad@{unique}.go.th") is None


def test_password_is_hashed_with_argon2id(db, agency, unique, hasher, cipher):
    pw = "correct horse battery staple"
    a = make(db, agency, f"pw@{unique}.go.th", hasher, cipher, password=pw)
    assert a.password_hash.startswith("$argon2id$")
    assert pw not in a.password_hash
    assert hasher.verify(pw, a.password_hash)
    assert not hasher.verify("wrong", a.password_hash)
    with pytest.raises(InvalidInput, match="at least 15 characters"):
        make(db, agency, f"short@{unique}.go.th", hasher, cipher, password="short")
    with pytest.raises(InvalidInput, match="common"):
        make(db, agency, f"common@{unique}.go.th", hasher, cipher, password="passwordpassword")


def test_create_queues_directory_add_and_audits(db, agency, unique, hasher, cipher):
    from idp.audit.models import AuditEvent

    a = make(db, agency, f"ob@{unique}.go.th", hasher, cipher, aliases=[f"alias@{unique}.go.th"])
    entry = db.scalar(select(OutboxEntry).where(OutboxEntry.account_id == a.id))
    assert entry.op == "add" and entry.payload["aliases"] == [f"alias@{unique}.go.th"]
    ev = db.scalar(select(AuditEvent).where(AuditEvent.subject == str(a.id)))
    assert ev.type == "admin.account.created" and ev.details["email"] == a.email


def test_list_accounts_is_scoped_to_subtree(db, unique, hasher, cipher):
    t = factories.tree(db, unique)
    for code, local in [("dept", "d"), ("office1", "o1"), ("dept2", "d2")]:
        factories.account(db, f"{local}@{unique}.go.th", t[code].code, hasher=hasher, cipher=cipher)
    got = sorted(a.email.split("@")[0] for a in accounts.list_accounts(db, under=t["dept"]))
    assert got == ["d", "o1"]
    assert accounts.list_accounts(db, under=t["other"]) == []
    assert [
        a.email for a in accounts.list_accounts(db, under=t["ministry"], email_prefix="o1")
    ] == [f"o1@{unique}.go.th"]


def test_quotas_default_from_agency(db, agency, unique, hasher, cipher):
    a = make(db, agency, f"q@{unique}.go.th", hasher, cipher)
    assert (a.mailbox_quota_mb, a.attachment_limit_mb) == (6144, 25)
    b = make(db, agency, f"q2@{unique}.go.th", hasher, cipher, mailbox_quota_mb=20480)
    assert b.mailbox_quota_mb == 20480
