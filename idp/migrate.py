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
                record_compatibility(lock)
            finally:
                lock.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": UPGRADE_LOCK_KEY})
    finally:
        engine.dispose()


def downgrade(database_url: str, revision: str = "base") -> None:
    command.downgrade(alembic_config(database_url), revision)
    if not normalise_url(database_url).startswith("sqlite"):
        from idp.db import make_engine

        engine = make_engine(database_url)
        try:
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                if conn.dialect.has_table(conn, "alembic_version"):
                    record_compatibility(conn)
        finally:
            engine.dispose()


def head_revisions() -> frozenset[str]:
    """The revisions of this code (normally one; several while branches are being merged)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


# Rolling upgrades (docs/operations.md "Upgrades"). A migration that only
# expands the schema (new tables, nullable columns, indexes: nothing the previous code
# reads or writes changes) says so with ``govid_expand = True`` in its module: code at its
# ``down_revision`` runs on it. ``idp db upgrade`` records in the database the oldest
# revision whose code runs on the schema it leaves ("compatible since"); a GovID whose
# code is older than the schema reads it there (it cannot know the newer migrations) and
# is ready when its own head is that revision or comes after it. A migration without the
# mark (a contract: dropping or renaming what older code uses) makes the schema ready
# only for code at its own revision. PostgreSQL only, as a comment on alembic_version
# (no table of GovID's own to migrate); SQLite runs one host: no rolling upgrade.
COMPAT_PREFIX = "govid-compatible-since:"


def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config("sqlite://"))


def compatible_since(revision: str, script: ScriptDirectory | None = None) -> str:
    """The oldest revision whose code runs on a schema at ``revision``."""
    script = script or _script()
    rev = script.get_revision(revision)
    while getattr(rev.module, "govid_expand", False) and isinstance(rev.down_revision, str):
        rev = script.get_revision(rev.down_revision)
    return rev.revision


def record_compatibility(conn) -> None:
    """After an upgrade on PostgreSQL (``conn`` in autocommit): record which code runs on
    the schema now (one head; nothing is recorded while branches are unmerged)."""
    from sqlalchemy import text

    heads = MigrationContext.configure(conn).get_current_heads()
    if len(heads) != 1:
        return
    since = compatible_since(heads[0])
    # COMMENT takes no bind parameters; a revision id is [0-9a-z_] (checked here).
    if not since.replace("_", "").isalnum():
        raise ValueError(f"unexpected revision id {since!r}")
    conn.execute(text(f"COMMENT ON TABLE alembic_version IS '{COMPAT_PREFIX}{since}'"))


def recorded_compatibility(conn) -> str | None:
    """What ``record_compatibility`` wrote (None on SQLite or before any)."""
    from sqlalchemy import text

    if conn.dialect.name != "postgresql":
        return None
    comment = conn.execute(
        text("SELECT obj_description('alembic_version'::regclass, 'pg_class')")
    ).scalar()
    if comment and comment.startswith(COMPAT_PREFIX):
        return comment[len(COMPAT_PREFIX) :]
    return None


def runs_on(current: frozenset[str], since: str | None) -> bool:
    """Whether this code runs on a schema at ``current``: at this code's head, or newer
    with a recorded compatibility this code's head satisfies (``since`` is this code's
    head or one of its ancestors)."""
    heads = head_revisions()
    if current == heads:
        return True
    script = _script()
    known = {r.revision for r in script.walk_revisions()}
    if current & known or since is None or since not in known:
        return False  # older (run `idp db upgrade`), or newer and incompatible
    return any(
        since == r.revision for head in heads for r in script.iterate_revisions(head, "base")
    )


def current_revisions(engine: Engine) -> frozenset[str]:
    with engine.connect() as conn:
        return frozenset(MigrationContext.configure(conn).get_current_heads())


def describe(revisions: frozenset[str]) -> str | None:
    return ",".join(sorted(revisions)) or None
