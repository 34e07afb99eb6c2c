"""``idp db upgrade | current``: the database schema (Alembic migrations)."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.cli.common import JsonOpt, emit, handles_errors, load_settings, redact

db_app = typer.Typer(help="Database schema", no_args_is_help=True)


@db_app.command("upgrade")
@handles_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "heads",
    as_json: JsonOpt = False,
) -> None:
    """Apply database migrations (safe to run repeatedly)."""
    from idp import migrate
    from idp.db import make_engine

    settings = load_settings()
    migrate.upgrade(settings.database_url, revision)
    engine = make_engine(settings.database_url)
    try:
        current = migrate.describe(migrate.current_revisions(engine))
    finally:
        engine.dispose()
    emit(
        as_json,
        {"database": redact(settings.database_url), "revision": current},
        lambda: typer.echo(f"database {redact(settings.database_url)} at revision {current}"),
    )


@db_app.command("current")
@handles_errors
def db_current(as_json: JsonOpt = False) -> None:
    """Show the schema revision of the database and of this code."""
    from idp import migrate
    from idp.db import make_engine

    settings = load_settings()
    engine = make_engine(settings.database_url)
    try:
        current = migrate.current_revisions(engine)
    finally:
        engine.dispose()
    head = migrate.head_revisions()
    cur_s, head_s = migrate.describe(current), migrate.describe(head)
    emit(
        as_json,
        {"revision": cur_s, "head": head_s, "up_to_date": current == head},
        lambda: typer.echo(
            f"database at {cur_s or 'nothing'}, code at {head_s}"
            + ("" if current == head else " — run `idp db upgrade`")
        ),
    )
