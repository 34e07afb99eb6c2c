"""Engine and session factory for PostgreSQL (psycopg 3) and SQLite.

No module-level engine: ``make_engine(settings.database_url)`` is called by
``create_app`` and by the CLI, and the result travels explicitly.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from sqlalchemy import (
    JSON,
    DateTime,
    Engine,
    Insert,
    MetaData,
    Table,
    create_engine,
    event,
    insert,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import CursorResult, Result, make_url
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


def rowcount(result: Result[Any]) -> int:
    """The rows an UPDATE or DELETE matched: ``Session.execute`` returns a
    ``CursorResult`` for them, though SQLAlchemy's types say ``Result``."""
    return cast(CursorResult[Any], result).rowcount


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def new_uuid() -> uuid.UUID:
    return uuid.uuid4()


def table(model: type[Base]) -> Table:
    """A mapped class's table (declarative types it as any FromClause)."""
    return cast(Table, model.__table__)


_INSERTS: dict[type, Insert] = {}


def insert_values(session: Session, model: type[Base], values: dict) -> None:
    """One row by a Core INSERT compiled once per model (column defaults fill what
    ``values`` leaves out), for rows nothing in the request reads back: cheaper than
    the unit of work's flush (decision 0009)."""
    stmt = _INSERTS.get(model)
    if stmt is None:
        stmt = _INSERTS[model] = insert(table(model))
    session.execute(stmt, values)


def insert_row(session: Session, model: type[Base], values: dict, **related: object):
    """Insert one row with a Core INSERT (compiled once per model) and return it attached
    to ``session`` as a persistent object, as if it had been loaded: ``values`` must name
    every column, and ``related`` sets loaded many-to-one relationships (no history, so
    no UPDATE follows). Later changes to the object flush as usual.

    For rows written on every sign-in: the unit of work's flush of a new
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


@dataclass(frozen=True)
class DbTimeouts:
    """Limits toward PostgreSQL (IDP_DB_* settings, docs/operations.md).

    The server enforces ``statement_ms``, ``lock_ms`` and ``idle_in_transaction_ms`` (libpq
    ``options``, 0 = none). A frozen server (SIGSTOP, a hung host, a lost network path
    whose TCP stack still answers) enforces nothing, so the client also stops waiting for
    any answer after ``client_s`` and drops that connection (``DeadlineConnection``)."""

    connect_s: int = 5
    statement_ms: int = 10_000
    lock_ms: int = 5_000
    idle_in_transaction_ms: int = 30_000
    client_s: float = 15.0
    pool_s: float = 5.0

    @classmethod
    def of(cls, settings) -> DbTimeouts:
        return cls(
            connect_s=settings.db_connect_timeout_seconds,
            statement_ms=settings.db_statement_timeout_ms,
            lock_ms=settings.db_lock_timeout_ms,
            idle_in_transaction_ms=settings.db_idle_in_transaction_timeout_ms,
            client_s=settings.db_client_timeout_seconds,
            pool_s=settings.db_pool_timeout_seconds,
        )

    def options(self) -> str:
        """The libpq ``options`` value setting the server-side limits."""
        return (
            f"-c statement_timeout={self.statement_ms} -c lock_timeout={self.lock_ms} "
            f"-c idle_in_transaction_session_timeout={self.idle_in_transaction_ms}"
        )

    def connect_params(self, params: Mapping[str, Any]) -> dict[str, Any]:
        """``params`` (psycopg connect keywords) with these limits added; an ``options``
        the URL already has is kept, ours come first so the URL's may override them."""
        out = dict(params)
        out["connect_timeout"] = out.get("connect_timeout") or self.connect_s
        out["options"] = " ".join(filter(None, [self.options(), out.get("options")]))
        return out


# A shorter client-side limit for the statements of one block of code (``/readyz``).
_client_deadline: ContextVar[float | None] = ContextVar("govid_db_deadline", default=None)


@contextmanager
def client_deadline(seconds: float) -> Iterator[None]:
    token = _client_deadline.set(seconds)
    try:
        yield
    finally:
        _client_deadline.reset(token)


class DatabaseNotAnswering(Exception):
    """Raised (as the cause of a psycopg OperationalError) when no answer came in time."""


def _deadline_connection_class():
    import psycopg
    from psycopg import errors as pg_errors

    class DeadlineConnection(psycopg.Connection):
        """A psycopg connection that stops waiting for the server after ``client_timeout``
        seconds (or the block's ``client_deadline``), closes itself and raises
        ``OperationalError``: SQLAlchemy then sees a disconnect and drops it from the pool.
        psycopg 3.3's ``wait`` takes a timeout; every query, fetch and commit goes
        through it."""

        client_timeout: float | None = None

        def wait(self, gen, interval=0.1, timeout=None):  # type: ignore[override]
            if timeout is None:
                timeout = _client_deadline.get() or self.client_timeout
            try:
                return super().wait(gen, interval=interval, timeout=timeout)
            except pg_errors._WaitTimeout:
                self.close()  # the server may answer later: nothing may read it then
                raise psycopg.OperationalError(
                    f"no answer from the database within {timeout:g} s"
                ) from DatabaseNotAnswering()

    return DeadlineConnection


def make_engine(
    url: str,
    *,
    echo: bool = False,
    pool_size: int = 10,
    timeouts: DbTimeouts | None = None,
) -> Engine:
    """``timeouts`` (PostgreSQL only): the service's limits (``Services`` passes them);
    None for migrations and tools, whose statements may rightly run long."""
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
    if timeouts is None:
        return create_engine(
            url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True
        )
    engine = create_engine(
        url,
        echo=echo,
        pool_size=pool_size,
        max_overflow=pool_size,
        pool_timeout=timeouts.pool_s,
    )
    _ping_when_idle(engine)
    connection_class = _deadline_connection_class()

    @event.listens_for(engine, "do_connect")
    def _connect(_dialect, _record, cargs, cparams):
        conn = connection_class.connect(*cargs, **timeouts.connect_params(cparams))
        conn.client_timeout = timeouts.client_s
        return conn

    return engine


def conninfo_of(engine: Engine, timeouts: DbTimeouts | None = None) -> str:
    """The libpq connection string of ``engine``'s URL, made by the dialect that makes the
    engine's own connections, so both reach the same server: the libpq multi-host form
    (``?host=a,b&port=5432,5433&target_session_attrs=read-write``) and SQLAlchemy's
    (``?host=a:5432&host=b:5433``) both become libpq's ``host=a,b port=5432,5433``
    (rendering the URL back as a string gave libpq a form it cannot read)."""
    from psycopg.conninfo import make_conninfo

    cargs, cparams = engine.dialect.create_connect_args(engine.url)
    cparams.pop("context", None)  # the dialect's adapters, not a libpq parameter
    if timeouts is not None:
        cparams = timeouts.connect_params(cparams)
    return make_conninfo(*cargs, **cparams)


# A pooled connection idle for longer than this is pinged before it is handed out.
PING_AFTER_IDLE_SECONDS = 1.0


def _ping_when_idle(engine: Engine) -> None:
    """SQLAlchemy's ``pool_pre_ping`` sends a ping with every checkout: a round trip per
    request (one of a userinfo's two, decision 0016). A connection that was in use less than
    ``PING_AFTER_IDLE_SECONDS`` ago is handed out as it is; an older one is pinged and,
    when the ping fails (the database restarted or failed over meanwhile), replaced
    before the request sees it, as pre-ping did. The window's price: a connection that
    breaks within a second of its last use fails its next statement (503, the outage
    answer), and SQLAlchemy then drops every connection the pool held before that."""
    import time

    from sqlalchemy.exc import DisconnectionError

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _mark(_dbapi_conn, record) -> None:
        record.info["govid_used_at"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping(dbapi_conn, record, _proxy) -> None:
        if time.monotonic() - record.info.get("govid_used_at", 0.0) < PING_AFTER_IDLE_SECONDS:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as exc:  # the pool replaces the connection and checks out again
            raise DisconnectionError(f"stale pooled connection: {type(exc).__name__}") from exc


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine, expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """One unit of work: commit on success, roll back on any error."""
    with factory() as session, session.begin():
        yield session
