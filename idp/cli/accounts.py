"""``idp accounts create | list | import | purge``: civil servants' accounts.

``accounts import`` shows a progress bar (rich) on stderr.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from idp.cli.common import (
    EXIT_INVALID_INPUT,
    CliError,
    JsonOpt,
    emit,
    handles_errors,
    open_services,
    table,
)

accounts_app = typer.Typer(help="Accounts (civil servant mailboxes)", no_args_is_help=True)

Mode = Annotated[
    str,
    typer.Option(help="all_or_nothing (default): write only if every row is valid; per_row"),
]


def account_dict(a: Any) -> dict[str, Any]:
    from idp.db import utcnow

    return {
        "id": str(a.id),
        "email": a.email,
        "agency": a.agency.code,
        "given_name_th": a.given_name_th,
        "family_name_th": a.family_name_th,
        "given_name_en": a.given_name_en,
        "family_name_en": a.family_name_en,
        "status": a.status,
        "citizen_id_last4": a.citizen_id_last4,
        "mailbox_quota_mb": a.mailbox_quota_mb,
        "attachment_limit_mb": a.attachment_limit_mb,
        "aliases": a.aliases,
        "has_password": a.password_hash is not None,
        "locale": a.locale,
        "locked": a.locked_until is not None and a.locked_until > utcnow(),
        "locked_until": a.locked_until.isoformat() if a.locked_until else None,
        "deleted_at": a.deleted_at.isoformat() if a.deleted_at else None,
        "version": a.version,
    }


@accounts_app.command("create")
@handles_errors
def accounts_create(
    email: Annotated[str, typer.Option(help="Mail address, local@agency-domain")],
    agency: Annotated[str, typer.Option(help="Agency code")],
    given_name_en: Annotated[str, typer.Option("--given-name-en")] = "",
    family_name_en: Annotated[str, typer.Option("--family-name-en")] = "",
    given_name_th: Annotated[str, typer.Option("--given-name-th")] = "",
    family_name_th: Annotated[str, typer.Option("--family-name-th")] = "",
    citizen_id: Annotated[str | None, typer.Option("--citizen-id", help="13 digits")] = None,
    alias: Annotated[list[str] | None, typer.Option(help="Extra address (repeatable)")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the initial password from stdin")
    ] = False,
    generate_password: Annotated[
        bool, typer.Option("--generate-password", help="Generate one and print it once")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create an account in an agency."""
    import secrets

    from idp.accounts import service
    from idp.db import transaction

    if password_stdin and generate_password:
        raise CliError(
            "invalid_input",
            "use --password-stdin or --generate-password, not both",
            EXIT_INVALID_INPUT,
        )
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif generate_password:
        password = secrets.token_urlsafe(15)
    with open_services() as services, transaction(services.sessions) as session:
        a = service.create(
            session,
            service.NewAccount(
                email=email,
                agency_code=agency,
                given_name_en=given_name_en,
                family_name_en=family_name_en,
                given_name_th=given_name_th,
                family_name_th=family_name_th,
                citizen_id=citizen_id,
                aliases=tuple(alias or ()),
                password=password,
            ),
            hasher=services.hasher,
            cipher=services.cipher,
            actor="cli",
        )
        data = account_dict(a)
    if generate_password:
        data["password"] = password

    def human() -> None:
        typer.echo(f"created account {data['email']} in {data['agency']} ({data['id']})")
        if generate_password:
            typer.echo(f"initial password (shown only now): {password}")

    emit(as_json, data, human)


@accounts_app.command("list")
@handles_errors
def accounts_list(
    agency: Annotated[str | None, typer.Option(help="Agency code (includes sub-agencies)")] = None,
    status: Annotated[str | None, typer.Option(help="active | suspended | deleted")] = None,
    email_prefix: Annotated[str | None, typer.Option("--email-prefix")] = None,
    limit: Annotated[int, typer.Option(min=1, max=10000)] = 100,
    as_json: JsonOpt = False,
) -> None:
    """List accounts."""
    from idp.accounts import service
    from idp.accounts.models import ACCOUNT_STATUSES
    from idp.agencies import service as agencies

    if status and status not in ACCOUNT_STATUSES:
        raise CliError(
            "invalid_input",
            f"status must be one of {', '.join(ACCOUNT_STATUSES)}",
            EXIT_INVALID_INPUT,
        )
    with open_services() as services, services.sessions() as session:
        scope = agencies.get_by_code(session, agency) if agency else None
        rows = service.list_accounts(
            session, under=scope, status=status, email_prefix=email_prefix, limit=limit
        )
        data = [account_dict(a) for a in rows]
    emit(
        as_json,
        {"accounts": data, "count": len(data)},
        lambda: table(
            [
                (
                    d["email"],
                    d["agency"],
                    d["status"],
                    f"{d['given_name_en']} {d['family_name_en']}".strip(),
                )
                for d in data
            ],
            ("email", "agency", "status", "name"),
        ),
    )


@accounts_app.command("import")
@handles_errors
def accounts_import(
    file: Annotated[Path, typer.Argument(help="CSV (with header) or JSON lines")],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Validate only")] = False,
    mode: Mode = "all_or_nothing",
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv | jsonl (default: from the name)")
    ] = None,
    tokens_out: Annotated[
        Path | None,
        typer.Option(
            "--tokens-out",
            help="Write activation tokens (rows without a password) here, mode 0600",
        ),
    ] = None,
    max_errors: Annotated[int, typer.Option(min=1, help="Errors to list")] = 1000,
    progress: Annotated[bool, typer.Option(help="Show a progress bar")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Import accounts (the MailGoThai migration). See docs/admin-api.md for columns
    and the accepted legacy password-hash formats."""
    from idp.accounts.importing import service as importer
    from idp.accounts.importing.rows import detect_format, read_rows
    from idp.authz.scope import Scope
    from idp.credentials.hash_bounds import HashBounds
    from idp.db import transaction

    if mode not in importer.MODES:
        raise CliError(
            "invalid_input",
            f"--mode must be one of {', '.join(importer.MODES)}",
            EXIT_INVALID_INPUT,
        )
    if not file.is_file():
        raise CliError("invalid_input", f"no such file: {file}", EXIT_INVALID_INPUT)
    if fmt not in (None, "csv", "jsonl"):
        raise CliError("invalid_input", "--format must be csv or jsonl", EXIT_INVALID_INPUT)
    with file.open("rb") as fh:
        fmt = fmt or detect_format(file.name, fh.read(64))
    total = _count_lines(file, fmt)
    bar = _Bar(total, enabled=progress and not as_json and sys.stderr.isatty())
    started = dt.datetime.now(dt.UTC)
    try:
        with (
            open_services() as services,
            transaction(services.sessions) as session,
            file.open("rb") as fh,
        ):
            result = importer.run_import(
                session,
                read_rows(fh, fmt),
                cipher=services.cipher,
                scope=Scope(None),  # the CLI runs as the operator on the host
                actor="cli",
                dry_run=dry_run,
                mode=mode,
                max_errors=max_errors,
                progress=bar.advance,
                bounds=HashBounds.from_settings(services.settings),
            )
    except UnicodeDecodeError as exc:
        raise CliError(
            "invalid_input", f"the file is not UTF-8 ({exc.reason})", EXIT_INVALID_INPUT
        ) from None
    finally:
        bar.close()
    seconds = (dt.datetime.now(dt.UTC) - started).total_seconds()
    data = result.to_dict()
    tokens = data.pop("activation_tokens")
    data["seconds"] = round(seconds, 2)
    data["rows_per_second"] = round(result.created / seconds) if seconds and result.created else 0
    if tokens and tokens_out:
        fd = os.open(tokens_out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            for t in tokens:
                out.write(json.dumps(t) + "\n")
        data["tokens_file"] = str(tokens_out)
    data["activation_tokens"] = len(tokens)

    def human() -> None:
        what = "checked (dry run)" if dry_run else "imported"
        typer.echo(
            f"{what}: {result.rows} rows, {result.valid} valid, {result.created} created, "
            f"{result.failed} failed in {seconds:.1f}s"
        )
        for e in data["errors"][:50]:
            typer.echo(f"  row {e['row']}: {e['field']}: {e['message']}")
        if result.failed > 50:
            typer.echo(f"  ... {result.failed - 50} more (use --json for up to --max-errors)")
        if mode == "all_or_nothing" and result.failed and not dry_run:
            typer.echo("nothing was written (all-or-nothing); fix the rows or use --mode per_row")
        if tokens and not tokens_out:
            typer.echo(
                f"{len(tokens)} accounts need activation links: re-run with --tokens-out FILE "
                "to keep their tokens (this run's tokens are not shown)"
            )

    emit(as_json, data, human)
    if result.failed and (dry_run or mode == "all_or_nothing"):
        raise typer.Exit(2)


@accounts_app.command("purge")
@handles_errors
def accounts_purge(
    after_days: Annotated[
        int,
        typer.Option(
            "--after-days",
            min=0,
            envvar="IDP_ACCOUNT_PURGE_DAYS",
            help="Erase personal data of accounts deleted more than this many days ago",
        ),
    ] = 30,
    as_json: JsonOpt = False,
) -> None:
    """Erase the personal data of soft-deleted accounts (run daily from cron)."""
    from idp.accounts.purge import purge_deleted
    from idp.db import transaction

    with open_services() as services, transaction(services.sessions) as session:
        n = purge_deleted(
            session, older_than=dt.timedelta(days=after_days), now=services.clock.now()
        )
    emit(
        as_json,
        {"purged": n, "after_days": after_days},
        lambda: typer.echo(f"purged personal data of {n} deleted account(s)"),
    )


def _count_lines(file: Path, fmt: str) -> int:
    n = 0
    with file.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            n += block.count(b"\n")
    return max(n - (1 if fmt == "csv" else 0), 0)


class _Bar:
    """A rich progress bar on stderr: validation then writing."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.progress = None
        if not enabled:
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeElapsedColumn

        self.progress = Progress(
            "[progress.description]{task.description}",
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
        )
        self.progress.start()
        self.tasks = {
            "validate": self.progress.add_task("validate", total=total),
            "write": self.progress.add_task("write", total=None),
        }

    def advance(self, phase: str, n: int) -> None:
        if self.progress is not None:
            self.progress.advance(self.tasks[phase], n)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()
