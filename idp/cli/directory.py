"""``idp outbox ...`` and ``idp directory ...``: the mail directory (LDAP)."""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable
from functools import wraps
from typing import Annotated, Any

import typer

from idp.cli import common
from idp.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INVALID_INPUT,
    EXIT_UNAVAILABLE,
    CliError,
    JsonOpt,
    emit,
    load_settings,
    open_services,
    settings_message,
    table,
)

outbox_app = typer.Typer(
    help="Directory changes waiting for LDAP (the outbox)", no_args_is_help=True
)
directory_app = typer.Typer(
    help="Mail directory (LDAP): reconcile, federation", no_args_is_help=True
)


def handles_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """``common.handles_errors`` plus the directory's own failures and settings."""

    @common.handles_errors
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        from pydantic import ValidationError

        from idp.directory.ldap import DirectoryError

        try:
            fn(*args, **kwargs)
        except DirectoryError as exc:
            code = EXIT_UNAVAILABLE if exc.transient else EXIT_FAILURE
            raise CliError("directory_unavailable", exc.message, code) from None
        except ValidationError as exc:
            if exc.title != "DirectorySettings":
                raise  # another IDP_* setting: common.handles_errors names it
            raise CliError(  # IDP_LDAP_* (settings.ldap)
                "invalid_settings", settings_message(exc, "IDP_LDAP_"), EXIT_CONFIG
            ) from None

    return wrapper


def ldap_settings() -> Any:
    s = load_settings().ldap
    if not s.enabled:
        raise CliError(
            "invalid_settings",
            "IDP_LDAP_URLS is not set (e.g. ldaps://ldap.mail.go.th:636)",
            EXIT_CONFIG,
        )
    return s


# ---------------------------------------------------------------------------- outbox


@outbox_app.command("run")
@handles_errors
def outbox_run(
    once: Annotated[bool, typer.Option("--once", help="Apply what is due, then exit")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Apply pending changes to the directory (until Ctrl-C / SIGTERM, or --once)."""
    from idp.directory import worker
    from idp.directory.mail import LdapMailDirectory
    from idp.directory.outbox import counts

    s = ldap_settings()
    with open_services() as services:
        if once:
            directory = LdapMailDirectory(s)
            try:
                result = worker.run_once(services.sessions, directory, s, services.clock)
            finally:
                directory.close()
        else:
            stop = threading.Event()
            for sig in (signal.SIGINT, signal.SIGTERM):
                signal.signal(sig, lambda *_: stop.set())
            if not as_json:
                typer.echo(f"applying outbox to {', '.join(s.urls)} (Ctrl-C stops)")
            result = worker.run(services, stop, settings=s)
        with services.sessions() as session:
            left = counts(session)
    data = {**result.to_dict(), "outbox": left.to_dict()}

    def human() -> None:
        acts = ", ".join(f"{k} {v}" for k, v in sorted(result.actions.items())) or "nothing"
        typer.echo(f"applied {result.done} change(s) ({acts}); parked {result.parked}")
        typer.echo(f"outbox: {left.pending} pending ({left.due} due), {left.parked} parked")
        if result.error:
            typer.echo(f"directory unavailable, will retry: {result.error}", err=True)

    emit(as_json, data, human)
    if once and result.error:
        raise typer.Exit(EXIT_UNAVAILABLE)


@outbox_app.command("list")
@handles_errors
def outbox_list(
    status: Annotated[str, typer.Option(help="pending | parked | done | all")] = "pending",
    account: Annotated[str | None, typer.Option(help="Only this account id")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    after: Annotated[int | None, typer.Option(help="Rows after this id (paging)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List outbox rows (parked ones show the error that parked them)."""
    import uuid

    from idp.directory import outbox

    try:
        account_id = uuid.UUID(account) if account else None
    except ValueError:
        raise CliError(
            "invalid_input", f"not an account id: {account!r}", EXIT_INVALID_INPUT
        ) from None
    with open_services() as services, services.sessions() as session:
        rows = outbox.list_entries(
            session, status=status, account_id=account_id, limit=limit, after_id=after
        )
        data = [outbox.row_dict(r) for r in rows]
        total = outbox.counts(session)

    def human() -> None:
        table(
            [
                (d["id"], d["op"], d["status"], d["email"], d["attempts"], d["last_error"])
                for d in data
            ],
            ("id", "op", "status", "email", "attempts", "last error"),
        )
        typer.echo(
            f"\noutbox: {total.pending} pending ({total.due} due), {total.parked} parked,"
            f" {total.done} done"
        )

    emit(as_json, {"entries": data, "count": len(data), "outbox": total.to_dict()}, human)


@outbox_app.command("retry")
@handles_errors
def outbox_retry(
    entry_id: Annotated[int | None, typer.Argument(help="Outbox row id")] = None,
    all_parked: Annotated[bool, typer.Option("--all-parked", help="Every parked row")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Put a parked row (or all of them) back in the queue, e.g. after fixing the schema."""
    from idp.db import transaction
    from idp.directory import outbox

    if (entry_id is None) == (not all_parked):
        raise CliError(
            "invalid_input", "give an outbox id or --all-parked (not both)", EXIT_INVALID_INPUT
        )
    with open_services() as services, transaction(services.sessions) as session:
        if all_parked:
            n = outbox.retry_parked(session, actor="cli")
            data: dict[str, Any] = {"retried": n}
        elif entry_id is not None:  # (checked above: one of the two is given)
            row = outbox.retry(session, entry_id, actor="cli")
            data = {"retried": 1, "entry": outbox.row_dict(row)}
    emit(as_json, data, lambda: typer.echo(f"{data['retried']} row(s) queued again"))


# ------------------------------------------------------------------------- directory


@directory_app.command("reconcile")
@handles_errors
def directory_reconcile(
    agency: Annotated[str, typer.Option(help="Agency code (its whole subtree)")],
    fix: Annotated[bool, typer.Option("--fix", help="Repair (default: report only)")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Compare accounts with directory entries; report differences, or fix them."""
    from idp.db import transaction
    from idp.directory.mail import LdapMailDirectory
    from idp.directory.reconcile import reconcile

    s = ldap_settings()
    directory = LdapMailDirectory(s)
    try:
        with open_services() as services, transaction(services.sessions) as session:
            report = reconcile(session, directory, s, agency, fix=fix, actor="cli")
    finally:
        directory.close()
    data = report.to_dict()

    def human() -> None:
        table(
            [
                (d.kind, d.email or d.account_id, ",".join(d.attributes), d.dn, d.fixed)
                for d in report.differences
            ],
            ("kind", "account", "attributes", "dn", "fixed"),
        )
        verb = "fixed" if fix else "found (dry run; --fix repairs)"
        typer.echo(
            f"\n{report.agency}: {report.accounts} account(s), {report.entries} entr(ies); "
            f"{len(report.differences)} difference(s) {verb}"
        )
        for d in report.differences:
            if d.error:
                typer.echo(f"not fixed: {d.dn}: {d.error}", err=True)

    emit(as_json, data, human)
    # The report (and the fixes that worked) stand; the exit code says what did not.
    if report.aborted:
        raise typer.Exit(EXIT_UNAVAILABLE)
    if report.failed:
        raise typer.Exit(EXIT_FAILURE)
