"""SCIM's unfiltered ``totalResults`` and the dashboard's accounts by status come from
``account_tally`` (kept by triggers, migration 0016), not from counting accounts: they
must equal a count of the accounts after every kind of change, for an agency admin's
subtree and for an operator, and roll back with the transaction that made them.
PostgreSQL: writers in one agency never wait on each other, housekeeping's folding
keeps every total, and the trigram indexes keep their pending lists short."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import delete, event, func, insert, select, text, update
from sqlalchemy.orm import Session

from idp.accounts import tally
from idp.accounts.models import ACCOUNT_STATUSES, Account, AccountTally
from idp.agencies.models import Agency
from idp.authz.scope import Scope
from idp.db import utcnow

S = "/scim/v2"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def _truth(db, root: Agency | None) -> dict[str, int]:
    stmt = select(Account.status, func.count()).group_by(Account.status)
    if root is not None:
        stmt = stmt.join(Agency, Agency.id == Account.agency_id).where(
            Agency.path.startswith(root.path)
        )
    out = {s: 0 for s in ACCOUNT_STATUSES}
    out.update(dict(db.execute(stmt).all()))
    return out


def _agrees(client, w, db) -> dict[str, int]:
    """The admin's dashboard and the HR system's SCIM list say what a count says."""
    truth = _truth(db, w.agencies["A"])
    r = client.get("/admin/v1/summary", headers=w.headers("admin_a"))
    assert r.status_code == 200, r.text
    assert r.json()["accounts"]["by_status"] == truth
    r = client.get(f"{S}/Users", params={"count": 1}, headers=w.headers("hr_a"))
    assert r.status_code == 200, r.text
    assert r.json()["totalResults"] == truth["active"] + truth["suspended"]
    return truth


def _rows(agency: Agency, n: int, tag: str) -> list[dict]:
    now = utcnow()
    return [
        {
            "id": uuid.uuid4(),
            "agency_id": agency.id,
            "email": f"bulk{i}-{tag}@example.go.th",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n)
    ]


@pytest.fixture
def w(world):
    world.machine("hr_a", "A", ("scim",))
    return world


def test_the_counts_follow_every_change_of_accounts(client, db, w):
    start = _agrees(client, w, db)
    # Created through SCIM in a sub-agency, suspended, deleted (SCIM's soft delete).
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "userName": f"tally.new@{w.u}.go.th",
        "name": {"givenName": "Tally", "familyName": "New"},
        ENT: {"department": w.agencies["A1"].code},
    }
    r = client.post(f"{S}/Users", json=body, headers=w.headers("hr_a"))
    assert r.status_code == 201, r.text
    uid = r.json()["id"]
    assert _agrees(client, w, db)["active"] == start["active"] + 1
    ops = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    assert client.patch(f"{S}/Users/{uid}", json=ops, headers=w.headers("hr_a")).status_code == 200
    assert _agrees(client, w, db)["suspended"] == start["suspended"] + 1
    assert client.delete(f"{S}/Users/{uid}", headers=w.headers("hr_a")).status_code == 204
    assert _agrees(client, w, db)["deleted"] == start["deleted"] + 1
    # Many rows in one statement (as an import writes them), then some removed in one.
    rows = _rows(w.agencies["A"], 30, w.u)
    db.execute(insert(Account), rows)
    assert _agrees(client, w, db)["active"] == start["active"] + 30
    db.execute(delete(Account).where(Account.id.in_([r["id"] for r in rows[:10]])))
    db.execute(update(Account).where(Account.id == rows[10]["id"]).values(status="suspended"))
    after = _agrees(client, w, db)
    assert (after["active"], after["suspended"]) == (start["active"] + 19, start["suspended"] + 1)
    # An account moved to another ministry's agency leaves the subtree's counts.
    moved = db.get(Account, rows[11]["id"])
    moved.agency_id = w.agencies["O"].id
    db.flush()
    assert _agrees(client, w, db)["active"] == start["active"] + 18
    # What a transaction rolled back never counted.
    nested = db.begin_nested()
    db.execute(insert(Account), _rows(w.agencies["A1"], 5, f"gone-{w.u}"))
    db.execute(update(Account).where(Account.id == rows[12]["id"]).values(status="deleted"))
    nested.rollback()
    assert _agrees(client, w, db)["active"] == start["active"] + 18
    # The operator's figure: every account.
    r = client.get("/admin/v1/summary", headers=w.headers("operator"))
    assert r.json()["accounts"]["by_status"] == _truth(db, None)


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_unfiltered_scim_list_counts_no_accounts(client, db, w):
    """The count of every account in scope is the statement that took ~0.2 s at 240,000
    accounts: it is not made; a filtered list still counts its matches."""
    seen: list[str] = []

    def before(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.lower().split()))

    conn = db.connection()
    event.listen(conn, "before_cursor_execute", before)
    try:
        client.get(f"{S}/Users", headers=w.headers("hr_a"))
        unfiltered = list(seen)
        seen.clear()
        client.get(f"{S}/Users", params={"filter": 'userName sw "user"'}, headers=w.headers("hr_a"))
    finally:
        event.remove(conn, "before_cursor_execute", before)
    assert not [s for s in unfiltered if "count(" in s and "from account " in s], unfiltered
    assert [s for s in seen if "count(" in s and "from account " in s], seen


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_writers_in_one_agency_do_not_wait_on_each_other(engine, unique):
    """Each change adds its own rows: a second sign-up in an agency does not wait for
    the first one's transaction (a shared counter row would hold it until commit)."""
    with Session(engine) as s, s.begin():
        agency = Agency(code=f"tally-{unique}", name_th="x", name_en="x", path=f"/t{unique}/")
        agency.depth, agency.mail_domains = 0, []
        s.add(agency)
        s.flush()
        agency_id = agency.id
    first, second = engine.connect(), engine.connect()
    try:
        t1, t2 = first.begin(), second.begin()
        first.execute(insert(Account), _rows_for(agency_id, "one", unique))
        second.exec_driver_sql("SET LOCAL lock_timeout = '2s'")
        second.execute(insert(Account), _rows_for(agency_id, "two", unique))
        t2.commit()
        t1.commit()
        with engine.connect() as c:
            n = c.scalar(
                select(func.sum(AccountTally.n)).where(AccountTally.agency_id == agency_id)
            )
        assert n == 2
    finally:
        first.close()
        second.close()
        with engine.begin() as c:
            c.execute(delete(Account).where(Account.agency_id == agency_id))
            c.execute(delete(AccountTally).where(AccountTally.agency_id == agency_id))
            c.execute(delete(Agency).where(Agency.id == agency_id))


def _rows_for(agency_id, name: str, tag: str) -> list[dict]:
    now = utcnow()
    return [{"id": uuid.uuid4(), "agency_id": agency_id, "email": f"{name}-{tag}@x.go.th",
             "created_at": now, "updated_at": now}]  # fmt: skip


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_folding_keeps_every_total(client, db, w):
    rows = _rows(w.agencies["A1"], 12, w.u)
    for i in range(0, 12, 3):  # four statements: four rows of +3
        db.execute(insert(Account), rows[i : i + 3])
    db.execute(update(Account).where(Account.id == rows[0]["id"]).values(status="suspended"))
    before = _agrees(client, w, db)
    mine = select(func.count()).where(AccountTally.agency_id == w.agencies["A1"].id)
    many = db.scalar(mine)
    assert tally.fold(db) > 0
    assert db.scalar(mine) < many
    assert _agrees(client, w, db) == before
    scope = Scope((w.agencies["A"],))
    assert tally.not_deleted(db, scope) == before["active"] + before["suspended"]


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_trigram_indexes_keep_short_pending_lists(db):
    """Rows inserted since the last vacuum wait unsorted in a GIN index's pending list and
    every substring search reads all of it: 4 MB by default (15-25 ms a statement after
    an import), 256 kB here."""
    opts = dict(
        db.execute(
            text(
                "SELECT relname, array_to_string(reloptions, ',') FROM pg_class WHERE relname"
                " IN ('ix_account_email_trgm', 'ix_account_external_id_external_id_trgm')"
            )
        ).all()
    )
    assert len(opts) == 2 and all("gin_pending_list_limit=256" in (v or "") for v in opts.values())


def test_a_filtered_list_counts_its_matches_on_every_page(client, db, w):
    """The total comes with the page's rows (one pass over the matches on PostgreSQL);
    past the last page, and with count=0, it is still the number of matches."""
    db.execute(insert(Account), _rows(w.agencies["A1"], 7, w.u))
    h, f = w.headers("hr_a"), 'userName sw "bulk"'
    seen, totals = [], set()
    for start, count in ((1, 3), (4, 3), (7, 3), (10, 3), (1, 0)):
        r = client.get(
            f"{S}/Users", params={"filter": f, "startIndex": start, "count": count}, headers=h
        )
        assert r.status_code == 200, r.text
        totals.add(r.json()["totalResults"])
        seen += [u["userName"] for u in r.json()["Resources"]]
    assert totals == {7}
    assert len(seen) == 7 and set(seen) == {f"bulk{i}-{w.u}@example.go.th" for i in range(7)}


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_an_import_leaves_one_row_per_agency_and_status(client, db, w):
    """Each chunk's COPY adds a row per agency it touched; the import folds them, so a
    240,000-account import leaves ~2,500 rows to sum, not ~120,000."""
    from tests.admin import test_import as imp

    result = imp.run_import(
        db, imp.read_rows(io.BytesIO(imp._csv(w, imp._rows(w, bad=False))), "csv"),
        cipher=w.services.cipher, scope=Scope((w.agencies["A"],)), actor="test", chunk_size=1,
    )  # fmt: skip
    assert result.created == 3
    ids = [w.agencies[k].id for k in ("A", "A1")]
    per_group = db.execute(
        select(func.count()).where(AccountTally.agency_id.in_(ids))
        .group_by(AccountTally.agency_id, AccountTally.status)
    ).scalars().all()  # fmt: skip
    assert per_group and set(per_group) == {1}
    _agrees(client, w, db)
