"""Pooled PostgreSQL connections are pinged only after they sat idle (idp.db,
decision 0016): a busy pool sends no ping per request, and a connection the database
dropped while it sat idle is replaced before a request uses it."""

from __future__ import annotations

import psycopg
from sqlalchemy import text

from idp import db as idp_db
from idp.db import DbTimeouts, make_engine


def _pid(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(text("select pg_backend_pid()")).scalar_one()


def test_a_busy_connection_is_not_pinged(pg_url, monkeypatch):
    monkeypatch.setattr(idp_db, "PING_AFTER_IDLE_SECONDS", 60.0)
    engine = make_engine(pg_url, pool_size=1, timeouts=DbTimeouts())
    pings = []
    original = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(1) or original(c))
    try:
        first = _pid(engine)
        assert [_pid(engine) for _ in range(5)] == [first] * 5
        assert pings == []
    finally:
        engine.dispose()


def test_an_idle_connection_that_was_dropped_is_replaced_unseen(pg_url, monkeypatch):
    monkeypatch.setattr(idp_db, "PING_AFTER_IDLE_SECONDS", 0.0)  # every checkout is "idle"
    engine = make_engine(pg_url, pool_size=1, timeouts=DbTimeouts())
    try:
        pid = _pid(engine)
        dsn = pg_url.replace("postgresql+psycopg://", "postgresql://")
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("select pg_terminate_backend(%s)", (pid,))
        assert _pid(engine) != pid  # no error: the ping found it dead, a new one served
    finally:
        engine.dispose()
