"""Migration 0008 backfills mail_address from existing accounts on both databases: the
first holder of an address keeps it, later duplicates are logged, the upgrade never fails."""

import logging

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp import migrate
from idp.accounts.models import Account, MailAddress
from idp.db import make_engine
from tests import factories


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request):
    return request.getfixturevalue(
        "pg_fresh_url" if request.param == "postgresql" else "sqlite_fresh_url"
    )


def test_backfill_keeps_the_first_holder_and_logs_duplicates(fresh_url, hasher, cipher, caplog):
    migrate.upgrade(fresh_url)
    engine = make_engine(fresh_url)
    try:
        with Session(engine) as db, db.begin():
            factories.agency(db, "mig-m", domains=["mig.go.th"])
            a = factories.account(
                db, "a@mig.go.th", "mig-m", hasher=hasher, cipher=cipher, aliases=["x@mig.go.th"]
            )
            b = factories.account(db, "b@mig.go.th", "mig-m", hasher=hasher, cipher=cipher)
            # Data written before the rule: B holds A's alias and A's email as aliases.
            b.aliases = ["x@mig.go.th", "A@MIG.go.th", "y@mig.go.th"]
            ids = {"a": a.id, "b": b.id}
        migrate.downgrade(fresh_url, "0007_api_resources")
        with caplog.at_level(logging.WARNING):
            migrate.upgrade(fresh_url)
        with Session(engine) as db:
            rows = {
                r.address: (r.account_id, r.kind) for r in db.scalars(select(MailAddress)).all()
            }
            assert db.get(Account, ids["b"]).aliases[1] == "A@MIG.go.th"  # accounts untouched
    finally:
        engine.dispose()
    assert rows == {
        "a@mig.go.th": (ids["a"], "primary"),
        "x@mig.go.th": (ids["a"], "alias"),
        "b@mig.go.th": (ids["b"], "primary"),
        "y@mig.go.th": (ids["b"], "alias"),
    }
    logged = caplog.text
    assert "x@mig.go.th" in logged and "a@mig.go.th" in logged
    assert "2 duplicate address(es)" in logged
