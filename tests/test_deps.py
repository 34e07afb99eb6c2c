"""The request's transaction (idp.deps.get_db), through a real app and database: what a
handler added is committed before the response, what a failing handler did is not, and
a request that never touched the database costs no transaction."""

from __future__ import annotations

import datetime as dt
import secrets

from fastapi import FastAPI, HTTPException
from fastapi.testclient import TestClient

from idp.db import utcnow
from idp.deps import DbDep
from idp.migrate import upgrade
from idp.services import Services
from idp.tokens.models import ReplayEntry
from tests.conftest import make_settings


def make(tmp_path):
    url = f"sqlite:///{tmp_path / 'deps.db'}"
    upgrade(url)
    services = Services(make_settings(url))
    app = FastAPI()
    app.state.services = services

    @app.post("/add/{key}")
    def add(key: str, db: DbDep, fail: bool = False) -> dict:
        db.add(ReplayEntry(key=key, expires_at=utcnow() + dt.timedelta(minutes=5)))
        if fail:
            db.flush()
            raise HTTPException(409, "refused after writing")
        return {"added": key}  # never flushed by the handler: the commit must do it

    @app.get("/nothing")
    def nothing(db: DbDep) -> dict:
        return {"in_transaction": db.in_transaction()}

    return app, services


def stored(services: Services, key: str) -> bool:
    with services.sessions() as s:
        return s.get(ReplayEntry, key) is not None


def test_an_added_object_is_committed_before_the_answer(tmp_path):
    app, services = make(tmp_path)
    key = secrets.token_hex(8)
    with TestClient(app) as client:
        assert client.post(f"/add/{key}").status_code == 200
        assert stored(services, key)  # visible to another session right after


def test_a_failing_handler_leaves_nothing_behind(tmp_path):
    app, services = make(tmp_path)
    key = secrets.token_hex(8)
    with TestClient(app) as client:
        assert client.post(f"/add/{key}", params={"fail": True}).status_code == 409
        assert not stored(services, key)


def test_a_request_that_never_used_the_database_opens_no_transaction(tmp_path):
    app, _services = make(tmp_path)
    with TestClient(app) as client:
        assert client.get("/nothing").json() == {"in_transaction": False}
