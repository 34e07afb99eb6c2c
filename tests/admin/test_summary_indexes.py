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
