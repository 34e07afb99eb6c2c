"""Parked directory changes are visible in /admin/v1 and can be retried (issue 9)."""

from sqlalchemy import update

from idp.db import utcnow
from idp.directory.models import OutboxEntry

A = "/admin/v1/outbox"


def test_parked_rows_are_listed_in_scope_and_retried(client, db, world):
    a1 = world.accounts["user_a1"]
    other = world.accounts["user_o"]
    db.execute(
        update(OutboxEntry)
        .where(OutboxEntry.account_id.in_([a1.id, other.id]))
        .values(parked_at=utcnow(), last_error="objectClassViolation: no quota")
    )
    db.flush()
    h = world.headers("admin_a")
    r = client.get(f"{A}?status=parked", headers=h)
    assert r.status_code == 200, r.text
    ids = {i["account_id"]: i for i in r.json()["items"]}
    assert str(a1.id) in ids and str(other.id) not in ids  # another ministry: invisible
    row = ids[str(a1.id)]
    assert "objectClassViolation" in str(row)
    r = client.post(f"{A}/{row['id']}/retry", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    # Another agency's row: the same 404 as a missing one; auditors cannot retry.
    oth = client.get(f"{A}?status=parked", headers=world.headers("operator")).json()["items"]
    other_id = next(i["id"] for i in oth if i["account_id"] == str(other.id))
    assert client.post(f"{A}/{other_id}/retry", headers=h).status_code == 404
    assert client.post(f"{A}/999999999/retry", headers=h).status_code == 404
    r = client.post(f"{A}/{other_id}/retry", headers=world.headers("auditor_a"))
    assert r.status_code in (403, 404)
    assert client.get(f"{A}?status=bogus", headers=h).status_code in (400, 422)
