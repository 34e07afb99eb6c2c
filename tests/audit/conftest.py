"""Fixtures for the audit tests.

``ring`` is a KeyRing that reads through the test's own connection, so its keys roll
back with the test. ``committed`` is a database of its own per backend whose writes are
really committed (concurrency, retention, the periodic job), emptied before each test.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, delete
from sqlalchemy.orm import Session, sessionmaker

from idp import migrate
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.db import make_engine
from idp.keys import service as keys
from idp.keys.service import KeyRing


@pytest.fixture
def ring(db: Session, cipher) -> KeyRing:
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    keys.ensure_keys(db, cipher)
    return KeyRing(factory, cipher, ttl=3600)


@dataclass
class CommittedDb:
    url: str
    engine: Engine
    sessions: sessionmaker[Session]
    ring: KeyRing
    backend: str


@pytest.fixture(scope="session")
def _committed_dbs() -> Iterator[dict[str, CommittedDb]]:
    made: dict[str, CommittedDb] = {}
    yield made
    for c in made.values():
        c.engine.dispose()


@pytest.fixture
def committed_db(request, tmp_path_factory, _committed_dbs, cipher):
    """``committed_db("postgresql" | "sqlite")``: an emptied committed database."""

    def get(backend: str) -> CommittedDb:
        if backend not in _committed_dbs:
            if backend == "postgresql":
                url = request.getfixturevalue("pg_server").create_database("govid_audit")
            else:
                url = f"sqlite:///{tmp_path_factory.mktemp('audit') / 'committed.db'}"
            migrate.upgrade(url)
            engine = make_engine(url)
            sessions = sessionmaker(bind=engine, expire_on_commit=False)
            with sessions.begin() as s:
                keys.ensure_keys(s, cipher)
            ring = KeyRing(sessions, cipher)
            _committed_dbs[backend] = CommittedDb(url, engine, sessions, ring, backend)
        c = _committed_dbs[backend]
        with c.sessions.begin() as s:  # an empty log (the signing keys stay)
            s.execute(delete(AuditEvent))
            s.execute(delete(AuditCheckpoint))
        return c

    return get


@pytest.fixture
def committed(backend, committed_db) -> CommittedDb:
    return committed_db(backend)


@pytest.fixture
def committed_pg(committed_db) -> CommittedDb:
    return committed_db("postgresql")
