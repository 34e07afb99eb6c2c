"""Rows a sign-in writes with ``insert_row``: stored, attached, and changes still flush."""

import pytest
from sqlalchemy import select

from idp.db import insert_row
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession
from tests import factories


@pytest.fixture
def account(db, hasher, cipher):
    factories.agency(db, "rows", domains=("rows.go.th",))
    return factories.account(db, "someone@rows.go.th", "rows", hasher=hasher, cipher=cipher)


def test_a_new_session_is_stored_attached_and_later_changes_are_written(db, settings, account):
    new = sessions.create(
        db, settings, account, acr="a1", amr=["pwd"], ip="10.0.0.1", user_agent="x"
    )
    assert new.row in db and new.row.account is account  # no query for the account
    stored = db.execute(select(SsoSession.sid, SsoSession.acr).where(SsoSession.id == new.row.id))
    assert stored.one() == (new.row.sid, "a1")
    new.row.acr = "a2"  # e.g. a step-up in the same request
    db.flush()
    db.expire_all()
    assert db.get(SsoSession, new.row.id).acr == "a2"
    assert sessions.find(db, settings, new.cookie_value).id == new.row.id


def test_every_column_must_be_given(db, account):
    with pytest.raises(ValueError, match="no value for .*ended_at"):
        insert_row(db, SsoSession, {"id": account.id, "sid": "s"})
