"""Alembic environment. The URL comes from the Config (set by idp.migrate) or, when run
as ``alembic`` from the repository, from the same ``IDP_`` settings as the app."""

from __future__ import annotations

from alembic import context

import idp.models  # noqa: F401  (registers every table)
from idp.accounts.indexes import UNMODELLED
from idp.db import Base, make_engine, normalise_url

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if url:
        return url
    from idp.config import Settings

    return normalise_url(Settings().database_url)


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connectable = config.attributes.get("connection")
    if connectable is None:
        engine = make_engine(_url())
        try:
            with engine.connect() as connection:
                _run(connection)
        finally:
            engine.dispose()
    else:
        _run(connectable)


def _run(connection) -> None:
    pg = connection.dialect.name == "postgresql"

    def include_object(obj, name, type_, reflected, compare_to) -> bool:
        # Indexes marked postgresql_only (pg_trgm GIN, idp/accounts/indexes.py) are
        # created on PostgreSQL only; SQLite has none to compare.
        if type_ == "index" and reflected and name in UNMODELLED:
            return False  # an expression index its migration made
        return pg or type_ != "index" or not obj.info.get("postgresql_only")

    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
