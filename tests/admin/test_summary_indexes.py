"""The console dashboard's counts (``GET /admin/v1/summary``) for an agency admin scan
neither ``account`` nor ``outbox`` and count parked outbox rows from their partial index
(migration 0013), on PostgreSQL over a few thousand accounts with sequential scans
discouraged; the times at 240,000 accounts are measured by bench/console_accounts.py."""

from __future__ import annotations

import pytest

from tests.admin.test_search_indexes import _nodes, many, plans  # noqa: F401  (fixtures)

pytestmark = pytest.mark.parametrize("backend", ["postgresql"], indirect=True)


def test_the_summary_for_a_subtree_reads_indexes_only(client, many, plans, db):  # noqa: F811
    r = client.get("/admin/v1/summary", headers=many.headers("admin_a"))
    assert r.status_code == 200, r.text
    assert r.json()["accounts"]["by_status"]["active"] >= 3000
    explained = plans()
    used: dict[str, str] = {}
    for _statement, doc in explained:
        for node in _nodes(doc[0]["Plan"]):
            if node.get("Relation Name") in ("account", "outbox"):
                assert node["Node Type"] != "Seq Scan", node
            if node.get("Index Name"):  # Bitmap Index Scan nodes name no relation
                used.setdefault(node["Index Name"], node["Node Type"])
    # Which account index serves depends on how the subtree's rows lie in the table (at
    # 240,000 interleaved accounts: an index-only scan of ix_account_agency_status, see
    # bench/console_accounts.py); here: no sequential scan, and the parked rows' index.
    assert "ix_outbox_parked_account" in used, sorted(used.items())


def test_a_search_repeated_keeps_plans_made_for_its_words(client, many, db):  # noqa: F811
    """psycopg prepares a statement run five times and PostgreSQL may then keep a generic
    plan, in which a prefix LIKE on a bound value cannot use its index (60-70 ms instead
    of 8-15 at 240,000 accounts). The search asks for custom plans: none is generic."""
    h = many.headers("admin_a")
    # Behave as PostgreSQL does once it judges the generic plan good enough (it did at
    # 240,000 accounts; with these few thousand rows it may not): generic by default.
    db.connection().exec_driver_sql("SET plan_cache_mode = force_generic_plan")
    for _ in range(9):
        r = client.get("/admin/v1/accounts", params={"q": "given12 family"}, headers=h)
        assert r.status_code == 200 and r.json()["items"], r.text
    rows = (
        db.connection()
        .exec_driver_sql(
            "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
            " WHERE position('given_name_en LIKE' in statement) > 0"
        )
        .all()
    )
    assert rows, "the search was never prepared: nothing to check"
    assert all(generic == 0 for generic, _custom in rows), rows


@pytest.mark.parametrize("sort", ["email", "-email", "created_at"])
def test_a_later_page_starts_in_the_index_where_the_last_one_ended(
    client,
    many,  # noqa: F811
    plans,  # noqa: F811
    sort,
):
    """Cursor pages: the sort column's bound is an index condition, so a deep page
    does not read (and filter out) every row before it."""
    h = many.headers("operator")
    first = client.get("/admin/v1/accounts", params={"sort": sort, "limit": 50}, headers=h)
    assert first.status_code == 200, first.text
    plans()  # forget the first page's statements
    r = client.get(
        "/admin/v1/accounts",
        params={"sort": sort, "limit": 50, "cursor": first.json()["next_cursor"]},
        headers=h,
    )
    assert r.status_code == 200 and len(r.json()["items"]) == 50
    column = sort.removeprefix("-")
    conds = [
        node.get("Index Cond", "")
        for _statement, doc in plans()
        for node in _nodes(doc[0]["Plan"])
        if node.get("Relation Name") == "account" and node.get("Index Name")
    ]
    assert any(column in c for c in conds), conds
