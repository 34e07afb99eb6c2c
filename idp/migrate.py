"""Alembic driven from code, so ``idp db upgrade`` works from an installed package."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

from idp.db import normalise_url

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    # '%' must be doubled for configparser interpolation.
    cfg.set_main_option("sqlalchemy.url", normalise_url(database_url).replace("%", "%%"))
    return cfg


# pg_advisory_lock key held by `idp db upgrade` (any constant; "GovIDmig" as an int64).
UPGRADE_LOCK_KEY = 0x476F7649444D6967


def upgrade(database_url: str, revision: str = "heads") -> None:
    """Migrate to ``revision``. On PostgreSQL under a session advisory lock, so two
    ``idp db upgrade`` at once (replicas starting together) run one after the other: the
    second finds the schema at head and does nothing. SQLite needs no lock (one host)."""
    if normalise_url(database_url).startswith("sqlite"):
        command.upgrade(alembic_config(database_url), revision)
        return
    from sqlalchemy import text

    from idp.db import make_engine

    engine = make_engine(database_url)
    try:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as lock:
            lock.execute(text("SELECT pg_advisory_lock(:k)"), {"k": UPGRADE_LOCK_KEY})
            try:
                command.upgrade(alembic_config(database_url), revision)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": UPGRADE_LOCK_KEY})
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)


def head_revisions() -> frozenset[str]:
    """The revisions of this code (normally one; several while branches are being merged)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def describe(revisions: frozenset[str]) -> str | None:
    return ",".join(sorted(revisions)) or None
