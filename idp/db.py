"""Engine and session factory for PostgreSQL (psycopg 3) and SQLite.

No module-level engine: ``make_engine(settings.database_url)`` is called by
``create_app`` and by the CLI, and the result travels explicitly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import JSON, DateTime, Engine, MetaData, create_engine, event, insert
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import make_url
from sqlalchemy.orm import DeclarativeBase, Session, make_transient_to_detached, sessionmaker
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator

# Stable constraint names so Alembic migrations are the same on every database.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Timezone-aware UTC datetimes on both databases.

    PostgreSQL stores ``timestamptz``; SQLite has no time zones, so values are stored as
    naive UTC and made aware again on the way out.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use datetime.now(UTC)")
        value = value.astimezone(dt.UTC)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: dt.datetime | None, dialect):  # type: ignore[override]
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=dt.UTC)
        return value.astimezone(dt.UTC)


# JSON on SQLite, JSONB on PostgreSQL.
JSONType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


_INSERTS: dict[type, object] = {}


def insert_values(session: Session, model: type[Base], values: dict) -> None:
    """One row by a Core INSERT compiled once per model (column defaults fill what
    ``values`` leaves out), for rows nothing in the request reads back: cheaper than
    the unit of work's flush (issue 5, S3; docs/decisions/0009)."""
    stmt = _INSERTS.get(model)
    if stmt is None:
        stmt = _INSERTS[model] = insert(model.__table__)
    session.execute(stmt, values)


def insert_row(session: Session, model: type[Base], values: dict, **related: object):
    """Insert one row with a Core INSERT (compiled once per model) and return it attached
    to ``session`` as a persistent object, as if it had been loaded: ``values`` must name
    every column, and ``related`` sets loaded many-to-one relationships (no history, so
    no UPDATE follows). Later changes to the object flush as usual.

    For rows written on every sign-in (issue 5, S3): the unit of work's flush of a new
    object cost more than the statement itself (docs/decisions/0009)."""
    missing = set(model.__table__.columns.keys()) - set(values)
    if missing:
        raise ValueError(f"insert_row({model.__name__}): no value for {sorted(missing)}")
    insert_values(session, model, values)
    row = model(**values)
    make_transient_to_detached(row)
    session.add(row)
    for name, value in related.items():
        set_committed_value(row, name, value)
    return row


def normalise_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` URLs."""
    u = make_url(url)
    if u.drivername in ("postgresql", "postgres"):
        u = u.set(drivername="postgresql+psycopg")
    return u.render_as_string(hide_password=False)


def make_engine(url: str, *, echo: bool = False, pool_size: int = 10) -> Engine:
    url = normalise_url(url)
    u = make_url(url)
    if u.get_backend_name() == "sqlite":
        if u.database and u.database != ":memory:":
            Path(u.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"timeout": 30})

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - exercised via engine
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()

        return engine
    return create_engine(
        url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
    )


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
