"""Shared fixtures: real PostgreSQL (a fresh database per run) and SQLite, migrated once
per run; a transaction rolled back after every test.

Under ``CI=true`` an unreachable service fails the run; elsewhere it skips with a reason.
"""

from __future__ import annotations

import base64
import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from idp import migrate
from idp.config import Settings
from idp.credentials.passwords import PasswordHasher
from idp.crypto import DataCipher
from idp.db import make_engine

IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
PG_ADMIN_DSN = os.environ.get("GOVID_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

TEST_SECRET_KEY = "test-secret-key-" + "x" * 32
TEST_DATA_KEY = base64.b64encode(b"t" * 32).decode()


def service_missing(what: str) -> None:
    """A missing service fails under CI (no silent skips), skips on a laptop."""
    pytest.fail(f"{what} (CI=true: failing, not skipping)") if IN_CI else pytest.skip(what)


def make_settings(database_url: str, **overrides) -> Settings:
    values = dict(
        env="test",
        database_url=database_url,
        secret_key=TEST_SECRET_KEY,
        data_key=TEST_DATA_KEY,
        issuer="http://127.0.0.1:8000",
        # Fast hashing in unit tests; benchmarks use the production parameters.
        argon2_memory_kib=8192,
        argon2_time_cost=1,
        # In-process apps run inside the test's transaction, which on SQLite holds the
        # write lock the limiter's own short transaction would wait for. The limits are
        # tested against real servers (tests/protocol/test_rate_limits.py).
        rate_limits=False,
        # The "add a passkey" page after a password sign-in would stand between most
        # tests and the app; tests/e2e/test_passkeys.py turns it on.
        passkey_offer=False,
    )
    values.update(overrides)
    return Settings(**values)


class PgServer:
    """Creates and drops databases on the local PostgreSQL."""

    def __init__(self, admin_dsn: str) -> None:
        self.admin_dsn = admin_dsn
        self.created: list[str] = []

    def create_database(self, prefix: str = "govid_test") -> str:
        name = f"{prefix}_{os.getpid()}_{secrets.token_hex(4)}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        base = self.admin_dsn.rsplit("/", 1)[0]
        return f"{base}/{name}"

    def drop_all(self) -> None:
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            for name in self.created:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    try:
        psycopg.connect(PG_ADMIN_DSN, connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL unreachable at {PG_ADMIN_DSN}: {exc}")
    server = PgServer(PG_ADMIN_DSN)
    yield server
    server.drop_all()


@pytest.fixture
def pg_fresh_url(pg_server: PgServer) -> str:
    """An empty PostgreSQL database of its own (dropped at the end of the run)."""
    return pg_server.create_database("govid_fresh")


@pytest.fixture
def sqlite_fresh_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'fresh.db'}"


@pytest.fixture(scope="session")
def pg_url(pg_server: PgServer) -> str:
    """The run's PostgreSQL database, migrated to head."""
    url = pg_server.create_database()
    migrate.upgrade(url)
    return url


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'idp.db'}"
    migrate.upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"], scope="session")
def backend(request: pytest.FixtureRequest) -> str:
    return request.param


@pytest.fixture(scope="session")
def _engines() -> Iterator[dict[str, Engine]]:
    engines: dict[str, Engine] = {}
    yield engines
    for e in engines.values():
        e.dispose()


@pytest.fixture(scope="session")
def database_url(backend: str, request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("pg_url" if backend == "postgresql" else "sqlite_url")


@pytest.fixture(scope="session")
def engine(database_url: str, _engines: dict[str, Engine]) -> Engine:
    if database_url not in _engines:
        _engines[database_url] = make_engine(database_url)
    return _engines[database_url]


@pytest.fixture
def db(engine: Engine) -> Iterator[Session]:
    """A session whose work is rolled back after the test (commits become savepoints)."""
    conn = engine.connect()
    outer = conn.begin()
    session = Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)
    try:
        yield session
    finally:
        session.close()
        outer.rollback()
        conn.close()


@pytest.fixture
def settings(database_url: str) -> Settings:
    return make_settings(database_url)


@pytest.fixture(scope="session")
def hasher() -> PasswordHasher:
    return PasswordHasher(make_settings("sqlite://"))


@pytest.fixture(scope="session")
def cipher() -> DataCipher:
    return DataCipher(base64.b64decode(TEST_DATA_KEY))


@pytest.fixture
def unique() -> str:
    """A short unique token for names that must not collide across tests."""
    return uuid.uuid4().hex[:8]
