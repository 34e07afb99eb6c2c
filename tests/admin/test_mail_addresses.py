"""Issue 17 rule 2: an address (primary email or alias) belongs to one account only, across
every account and agency, case-insensitively, enforced by the database (mail_address);
and it lies in the mail domains of the account's agency chain. Admin API, SCIM, imports;
the refusal never names the account or agency that holds the address."""

from __future__ import annotations

import io

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from idp.accounts import addresses
from idp.accounts import service as accounts
from idp.accounts.importing.rows import read_rows
from idp.accounts.importing.service import run_import
from idp.accounts.models import Account, MailAddress
from idp.accounts.purge import purge_deleted
from idp.authz.scope import Scope
from idp.db import utcnow
from idp.errors import DuplicateEmail
from tests import factories

A = "/admin/v1"
S = "/scim/v2"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
DUP = "urn:govid:problem:duplicate-email"
OUTSIDE = "urn:govid:problem:address-outside-domains"


def _rows(db, account) -> dict[str, str]:
    return dict(
        db.execute(
            select(MailAddress.address, MailAddress.kind).where(
                MailAddress.account_id == account.id
            )
        ).all()
    )


def _reveals_nothing(r, world, *names: str) -> None:
    """The refusal names neither the holder nor its agency."""
    text = r.text.lower()
    for name in names:
        holder = world.accounts[name]
        assert str(holder.id) not in text and holder.id.hex not in text
        assert str(holder.agency_id) not in text
        assert holder.agency.code.lower() not in text
        assert holder.agency.name_en.lower() not in text


def _give_alias(client, world, name: str, alias: str) -> None:
    """The operator gives ``name`` an alias (the holder lives outside admin_a's subtree)."""
    acc = world.accounts[name]
    h = {**world.headers("operator"), "If-Match": f'"{acc.version}"'}
    r = client.patch(f"{A}/accounts/{acc.id}", json={"aliases": [alias]}, headers=h)
    assert r.status_code == 200, r.text


def test_create_refuses_an_address_held_by_another_account(client, db, world):
    u, h = world.u, world.headers("admin_a")
    _give_alias(client, world, "user_b", f"shared@{u}.go.th")
    a1 = world.agencies["A1"].code
    cases = [
        # another account's email as an alias (case variants too)
        ({"email": f"n1@{u}.go.th", "aliases": [f"user_m@{u}.go.th"]}, "aliases", "user_m"),
        ({"email": f"n2@{u}.go.th", "aliases": [f"USER_M@{u.upper()}.GO.TH"]}, "aliases", "user_m"),
        # another account's alias as the email, and as an alias
        ({"email": f"Shared@{u}.go.th"}, "email", "user_b"),
        ({"email": f"n3@{u}.go.th", "aliases": [f"SHARED@{u}.go.th"]}, "aliases", "user_b"),
        # another account's email as the email, in another case
        ({"email": f"User_M@{u}.Go.Th"}, "email", "user_m"),
    ]
    for body, fld, holder in cases:
        r = client.post(f"{A}/accounts", json={**body, "agency": a1}, headers=h)
        assert r.status_code == 409, (body, r.text)
        p = r.json()
        assert p["type"] == DUP and p["code"] == "duplicate_email" and p["field"] == fld
        _reveals_nothing(r, world, holder)
    assert db.scalar(select(Account.id).where(Account.email.like(f"n_@{u}.go.th"))) is None


def test_change_refuses_an_address_held_by_another_account(client, db, world):
    u, h = world.u, world.headers("admin_a")
    _give_alias(client, world, "user_b", f"shared@{u}.go.th")
    target = world.accounts["user_a1"]
    url = f"{A}/accounts/{target.id}"
    cases = [
        ({"aliases": [f"user_m@{u}.go.th"]}, "aliases", "user_m"),
        ({"aliases": [f"ok@{u}.go.th", f"USER_M@{u}.go.th"]}, "aliases", "user_m"),
        ({"aliases": [f"Shared@{u}.go.th"]}, "aliases", "user_b"),
    ]
    for body, fld, holder in cases:
        r = client.patch(url, json=body, headers={**h, "If-Match": f'"{target.version}"'})
        assert r.status_code == 409, (body, r.text)
        assert r.json()["type"] == DUP and r.json()["field"] == fld
        _reveals_nothing(r, world, holder)
    assert _rows(db, target) == {f"user_a1@{u}.go.th": "primary"}
    r = client.patch(
        url, json={"aliases": [f"a1.alias@{u}.go.th"]}, headers={**h, "If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert _rows(db, target) == {f"user_a1@{u}.go.th": "primary", f"a1.alias@{u}.go.th": "alias"}
    # A rename (the service; the CLI's) is checked the same way.
    for email, holder in ((f"SHARED@{u}.go.th", "user_b"), (f"User_M@{u}.go.th", "user_m")):
        with pytest.raises(DuplicateEmail) as exc:
            accounts.update(db, target, accounts.AccountChanges(email=email))
        assert exc.value.field == "email"
        assert str(world.accounts[holder].id) not in exc.value.message
    # Its own addresses can be rearranged: an alias becomes the email, the old one freed.
    accounts.update(db, target, accounts.AccountChanges(email=f"A1.Alias@{u}.go.th"))
    assert target.email == f"a1.alias@{u}.go.th" and target.aliases == []
    assert _rows(db, target) == {f"a1.alias@{u}.go.th": "primary"}
    r = client.post(
        f"{A}/accounts",
        json={"email": f"user_a1@{u}.go.th", "agency": world.agencies["A"].code},
        headers=h,
    )
    assert r.status_code == 201, r.text  # the released address is free again


def test_addresses_must_lie_in_the_agency_chains_domains(client, db, world):
    u, h = world.u, world.headers("admin_a")
    a1 = world.agencies["A1"].code
    for body, fld in (
        ({"email": f"x1@{u}.go.th", "aliases": [f"x1@o{u}.go.th"]}, "aliases"),
        ({"email": f"x2@o{u}.go.th"}, "email"),
    ):
        r = client.post(f"{A}/accounts", json={**body, "agency": a1}, headers=h)
        assert r.status_code == 422, r.text
        assert r.json()["type"] == OUTSIDE and r.json()["errors"][0]["field"] == fld
    target = world.accounts["user_a1"]
    r = client.patch(
        f"{A}/accounts/{target.id}",
        json={"aliases": [f"boss@o{u}.go.th"]},
        headers={**h, "If-Match": '"1"'},
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "aliases"


def test_an_agency_chain_without_mail_domains_gets_no_address(client, db, world):
    u, h = world.u, world.headers("operator")
    factories.agency(db, f"bare-{u}")
    factories.agency(db, f"bare-child-{u}", parent=f"bare-{u}")
    for code in (f"bare-{u}", f"bare-child-{u}"):
        r = client.post(
            f"{A}/accounts", json={"email": f"anyone@{u}.go.th", "agency": code}, headers=h
        )
        assert r.status_code == 422, r.text
        p = r.json()
        assert p["type"] == OUTSIDE and p["errors"][0]["field"] == "email"
        assert "no mail domains" in p["detail"]


def test_deleted_accounts_keep_their_addresses_until_purge(client, db, world):
    u, h = world.u, world.headers("admin_a")
    gone = world.accounts["user_a"]
    r = client.patch(
        f"{A}/accounts/{gone.id}",
        json={"aliases": [f"old.alias@{u}.go.th"]},
        headers={**h, "If-Match": '"1"'},
    )
    assert r.status_code == 200
    r = client.delete(f"{A}/accounts/{gone.id}", headers={**h, "If-Match": '"2"'})
    assert r.status_code in (200, 204), r.text
    for email in (f"user_a@{u}.go.th", f"old.alias@{u}.go.th"):
        body = {"email": email, "agency": world.agencies["A"].code}
        assert client.post(f"{A}/accounts", json=body, headers=h).status_code == 409
    db.expire_all()
    import datetime as dt

    assert purge_deleted(db, older_than=dt.timedelta(0), now=utcnow()) >= 1
    assert _rows(db, gone) == {f"{gone.id.hex}@purged.invalid": "primary"}
    for email in (f"user_a@{u}.go.th", f"old.alias@{u}.go.th"):
        body = {"email": email, "agency": world.agencies["A"].code}
        assert client.post(f"{A}/accounts", json=body, headers=h).status_code == 201


def test_the_database_enforces_uniqueness(db, world):
    """A writer that skips the check (or a concurrent one that passed it) is refused by the
    primary key; the service answers it as a duplicate, in a savepoint."""
    u = world.u
    a, b = world.accounts["user_a"], world.accounts["user_b"]
    with pytest.raises(IntegrityError), db.begin_nested():
        db.add(MailAddress(address=f"user_b@{u}.go.th", account_id=a.id, kind="alias"))
        db.flush()
    a.aliases = [f"user_m@{u}.go.th"]
    db.flush()
    with pytest.raises(DuplicateEmail) as exc:
        addresses.sync(db, a)
    assert exc.value.field == "aliases" and str(b.id) not in exc.value.message
    assert _rows(db, a) == {f"user_a@{u}.go.th": "primary"}  # the session still works


# ----------------------------------------------------------------------------------- SCIM


def test_scim_refuses_an_address_held_by_another_account(client, db, world):
    world.machine("hr_a", "A", ("scim",))
    u, h = world.u, world.headers("hr_a")
    _give_alias(client, world, "user_b", f"shared@{u}.go.th")
    for user_name, holder in ((f"SHARED@{u}.go.th", "user_b"), (f"User_M@{u}.go.th", "user_m")):
        body = {
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": user_name,
            ENT: {"department": world.agencies["A1"].code},
        }
        r = client.post(f"{S}/Users", json=body, headers=h)
        assert r.status_code == 409, r.text
        assert r.json()["scimType"] == "uniqueness"
        _reveals_nothing(r, world, holder)
        body = {**body, "userName": f"fresh@{u}.go.th", "emails": [{"value": user_name}]}
        r = client.post(f"{S}/Users", json=body, headers=h)
        assert r.status_code == 409 and r.json()["scimType"] == "uniqueness", r.text
    body["emails"] = [{"value": f"fresh@o{u}.go.th", "primary": True}]
    r = client.post(f"{S}/Users", json=body, headers=h)
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text


# -------------------------------------------------------------------------------- imports


def _csv(rows) -> bytes:
    head = "email,agency,aliases\n"
    return (head + "".join(",".join(r) + "\n" for r in rows)).encode()


def test_import_checks_addresses_in_the_file_and_in_the_database(client, db, world):
    u = world.u
    _give_alias(client, world, "user_b", f"shared@{u}.go.th")
    factories.agency(db, f"bare-{u}")
    a, a1 = world.agencies["A"].code, world.agencies["A1"].code
    d = f"{u}.go.th"
    rows = [
        [f"i1@{d}", a, f"i1.alias@{d}"],  # 1 fine
        [f"I1.Alias@{d}", a1, ""],  # 2 row 1's alias as email
        [f"i3@{d}", a, f"I1@{d.upper()}"],  # 3 row 1's email as alias
        [f"i4@{d}", a, f"user_m@{d}"],  # 4 another account's email (outside the subtree)
        [f"Shared@{d}", a, ""],  # 5 another account's alias as email
        [f"i6@{d}", a, f"i6.x@{d};SHARED@{d}"],  # 6 another account's alias as alias
        [f"i7@{d}", a, f"i7@o{d}"],  # 7 another ministry's domain
        [f"i8@{d}", f"bare-{u}", ""],  # 8 no mail domains: outside the scope anyway
        [f"i9@{d}", a1, f"i9.alias@{d}"],  # 9 fine
    ]
    data = _csv(rows)
    expected = {
        (2, "email"),
        (3, "aliases"),
        (4, "aliases"),
        (5, "email"),
        (6, "aliases"),
        (7, "aliases"),
        (8, "agency"),
    }

    def go(**kw):
        return run_import(
            db, read_rows(io.BytesIO(data), "csv"), cipher=world.services.cipher,
            scope=Scope((world.agencies["A"],)), actor="test", **kw,
        )  # fmt: skip

    dry = go(dry_run=True)
    assert {(e["row"], e["field"]) for e in dry.errors} == expected, dry.errors
    text = repr(dry.errors).lower()
    for holder in ("user_m", "user_b"):
        acc = world.accounts[holder]
        assert str(acc.id) not in text and acc.agency.code.lower() not in text
    assert "row 1" in text
    real = go(mode="per_row")
    assert real.created == 2 and {(e["row"], e["field"]) for e in real.errors} == expected
    i1 = db.scalar(select(Account).where(Account.email == f"i1@{d}"))
    assert _rows(db, i1) == {f"i1@{d}": "primary", f"i1.alias@{d}": "alias"}
    # Again: now every row meets the database (the first and last as duplicates).
    again = go(dry_run=True)
    assert (1, "email") in {(e["row"], e["field"]) for e in again.errors}
    assert (9, "email") in {(e["row"], e["field"]) for e in again.errors}


def test_import_without_domains_is_refused_per_row(db, world, services):
    u = world.u
    bare = factories.agency(db, f"bare-{u}")
    data = _csv([[f"z@{u}.go.th", bare.code, ""]])
    result = run_import(
        db, read_rows(io.BytesIO(data), "csv"), cipher=services.cipher,
        scope=Scope((bare,)), actor="test", dry_run=True,
    )  # fmt: skip
    assert [(e["row"], e["field"]) for e in result.errors] == [(1, "email")]
    assert "no mail domains" in result.errors[0]["message"]


def test_a_department_with_its_own_domain_cannot_take_its_ministrys_addresses(
    client, db, world, services
):
    """Found by an independent check: a department admin gave an account of a department
    with its own domain an address in the ministry's domain (admin API, SCIM, import), so
    the ministry's mail would have gone to the department. The ministry's domain is handed
    out only by those whose authority covers the ministry; a department without domains
    of its own still uses its parent's."""
    u = world.u
    dept = factories.agency(db, f"dept-{u}", parent=world.agencies["A"].code)
    dept.mail_domains = [f"dept.{u}.go.th"]
    acc = factories.account(
        db, f"clerk@dept.{u}.go.th", dept.code, hasher=services.hasher, cipher=services.cipher
    )
    db.flush()
    ministry_address = f"director-general@{u}.go.th"
    for who, status in (("admin_a", 422), ("bot_a", 422), ("operator", 200)):
        db.refresh(acc)
        r = client.patch(
            f"{A}/accounts/{acc.id}",
            json={"aliases": [ministry_address]},
            headers={**world.headers(who), "If-Match": f'"{acc.version}"'},
        )
        assert r.status_code == status, (who, r.text)
        if status == 422:
            assert r.json()["type"] == OUTSIDE and r.json()["errors"][0]["field"] == "aliases"
    r = client.post(
        f"{A}/accounts",
        json={"email": f"hr@{u}.go.th", "agency": dept.code},
        headers=world.headers("admin_a"),
    )
    assert r.status_code == 422 and r.json()["type"] == OUTSIDE
    world.machine("hr_a", "A", ("scim",))
    r = client.post(
        f"{S}/Users",
        json={
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
            "userName": f"hr2@{u}.go.th",
            ENT: {"department": dept.code},
        },
        headers={**world.headers("hr_a"), "Content-Type": "application/scim+json"},
    )
    assert r.status_code == 400 and r.json()["scimType"] == "invalidValue", r.text
    assert db.scalar(select(Account.id).where(Account.email == f"hr2@{u}.go.th")) is None
    data = _csv([[f"imp@dept.{u}.go.th", dept.code, f"secretary@{u}.go.th"]])
    result = run_import(
        db, read_rows(io.BytesIO(data), "csv"), cipher=services.cipher,
        scope=Scope((world.agencies["A"],)), actor="test", dry_run=True,
    )  # fmt: skip
    assert [(e["row"], e["field"]) for e in result.errors] == [(1, "aliases")]
    # A department without domains of its own (A) still gives its parent's addresses.
    r = client.post(
        f"{A}/accounts",
        json={"email": f"newhire@{u}.go.th", "agency": world.agencies["A1"].code},
        headers=world.headers("admin_a"),
    )
    assert r.status_code == 201, r.text


def test_a_look_alike_spelling_of_a_taken_address_is_the_same_address(client, db, world):
    """Full-width letters fold to ASCII (NFKC), so they cannot make a second spelling of
    another account's address; other non-ASCII letters are not addresses at all."""
    u = world.u
    holder = world.accounts["user_a"]
    target = world.accounts["user_a1"]
    fullwidth = "ｕ" + holder.email[1:] if holder.email.startswith("u") else None
    assert fullwidth, holder.email
    r = client.patch(
        f"{A}/accounts/{target.id}",
        json={"aliases": [fullwidth]},
        headers={**world.headers("admin_a"), "If-Match": f'"{target.version}"'},
    )
    assert r.status_code == 409 and r.json()["type"] == DUP, r.text
    cyrillic = f"\u0430dmin@{u}.go.th"  # а (Cyrillic) + dmin
    r = client.patch(
        f"{A}/accounts/{target.id}",
        json={"aliases": [cyrillic]},
        headers={**world.headers("admin_a"), "If-Match": f'"{target.version}"'},
    )
    assert r.status_code == 422, r.text
