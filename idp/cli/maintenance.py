"""``idp maintenance run``: one housekeeping run (idp/maintenance.py)."""

from __future__ import annotations

import typer

from idp.cli.common import JsonOpt, emit, handles_errors, open_services

maintenance_app = typer.Typer(help="Housekeeping (expired protocol state)", no_args_is_help=True)


@maintenance_app.command("run")
@handles_errors
def maintenance_run(as_json: JsonOpt = False) -> None:
    """Remove expired codes, tokens, sessions, replay and throttle rows (in batches; one
    instance at a time, the others skip)."""
    from idp import maintenance

    with open_services() as services:
        result = maintenance.run(services, actor="cli")

    def human() -> None:
        if result.skipped:
            typer.echo("skipped: another instance is running housekeeping now")
            return
        for table, n in result.purged.items():
            typer.echo(f"{table:<16} {n:>8}")
        typer.echo(f"{'total':<16} {result.total:>8}  ({result.seconds:.2f} s)")
        if result.incomplete:
            typer.echo("rows left for the next run in: " + ", ".join(result.incomplete))

    emit(as_json, result.as_dict(), human)
