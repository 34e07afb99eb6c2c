"""What every ``idp`` command shares: ``--json`` output, tables, errors and exit codes.

Every command takes ``--json`` and then prints exactly one JSON object on stdout.
Errors go to stderr (or, with ``--json``, as ``{"error": ..., "message": ...}`` on stdout)
with a non-zero exit code and never a traceback. The exit code of a domain error is
decided here (``exit_code_for``), not by the error class: the domain does not know it is
run from a shell.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import cache, wraps
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from typer.core import TyperGroup

from idp.config import Settings
from idp.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied

# Exit codes: 1-5 GovID's own, the others from sysexits.h.
EXIT_FAILURE = 1
EXIT_INVALID_INPUT = 2  # also click's usage errors
EXIT_NOT_FOUND = 3
EXIT_CONFLICT = 4
EXIT_FORBIDDEN = 5
EXIT_DATAERR = 65  # EX_DATAERR: the data is not what it claims to be (audit log, export)
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE: the database or the directory did not answer
EXIT_CONFIG = 78  # EX_CONFIG: a setting is wrong


@cache
def _exit_codes() -> dict[type[DomainError], int]:
    """Exit code per kind of domain error (imported on the first error: the commands
    import the domain lazily, so that ``idp --help`` starts quickly)."""
    from idp.admin.errors import InsufficientAssurance, Unauthenticated
    from idp.auditing.errors import AuditChainBroken, ExportMismatch
    from idp.errors import ProtectedAccount
    from idp.resources.service import InvalidTarget

    return {
        InvalidInput: EXIT_INVALID_INPUT,
        InvalidTarget: EXIT_INVALID_INPUT,
        NotFound: EXIT_NOT_FOUND,
        Conflict: EXIT_CONFLICT,
        PermissionDenied: EXIT_FORBIDDEN,
        Unauthenticated: EXIT_FORBIDDEN,
        InsufficientAssurance: EXIT_FORBIDDEN,
        ProtectedAccount: EXIT_FORBIDDEN,
        AuditChainBroken: EXIT_DATAERR,
        ExportMismatch: EXIT_DATAERR,
    }


def exit_code_for(exc: DomainError) -> int:
    """The most specific class listed wins (the error's MRO is walked); anything else 1."""
    codes = _exit_codes()
    for cls in type(exc).__mro__:
        if cls in codes:
            return codes[cls]
    return EXIT_FAILURE


def _wants_json(args: Sequence[str]) -> bool:
    args = list(args)
    return "--json" in (args[: args.index("--")] if "--" in args else args)


class JsonUsageErrors(TyperGroup):
    """The root group: with ``--json`` anywhere on the command line, a usage error (a
    missing or unknown option, a value out of range, a missing argument) is one JSON
    object on stdout too, ``{"error": "invalid_input", "message": ..., "field": ...}``,
    exit 2 — for every command, since sub-commands' parse errors all pass through here."""

    def make_context(
        self,
        info_name: str | None,
        args: list[str],
        parent: Any = None,
        **extra: Any,
    ) -> Any:
        as_json = _wants_json(args)
        try:
            ctx = super().make_context(info_name, args, parent, **extra)
        except typer.TyperException as exc:  # click's ClickException (typer vendors click)
            _usage_error(exc, as_json)
            raise
        ctx.meta["idp_json"] = as_json
        return ctx

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except typer.TyperException as exc:
            _usage_error(exc, bool(ctx.meta.get("idp_json")))
            raise


def _usage_error(exc: typer.TyperException, as_json: bool) -> None:
    if not as_json:
        return  # click prints its usage message to stderr
    payload = {"error": "invalid_input", "message": exc.format_message()}
    param = getattr(exc, "param", None)
    if param is not None and param.name:
        payload["field"] = param.name
    typer.echo(json.dumps(payload, ensure_ascii=False))
    raise typer.Exit(exc.exit_code)  # 2 for a usage error


JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts).")]


class CliError(Exception):
    def __init__(
        self, code: str, message: str, exit_code: int, *, field: str | None = None
    ) -> None:
        super().__init__(message)
        self.code, self.message, self.exit_code, self.field = code, message, exit_code, field


def emit(as_json: bool, payload: dict[str, Any], human: Callable[[], None]) -> None:
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        human()


def table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            typer.echo("  ".join("-" * w for w in widths))
    if not rows:
        typer.echo("(none)")


def settings_message(exc: ValidationError, prefix: str = "IDP_") -> str:
    """The first problem of a settings error, named by its environment variable."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    msg = first["msg"].removeprefix("Value error, ")
    return f"{prefix}{where.upper()}: {msg}" if where else msg


def handles_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """Turn known failures into a message and an exit code (never a traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        as_json = kwargs.get("as_json", False)
        try:
            fn(*args, **kwargs)
            return
        except DomainError as exc:
            err = CliError(exc.code, exc.message, exit_code_for(exc), field=exc.field)
        except CliError as exc:
            err = exc
        except ValidationError as exc:
            err = CliError("invalid_settings", settings_message(exc), EXIT_CONFIG)
        except OperationalError as exc:
            msg = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            if "no such table" in msg or "does not exist" in msg:
                msg = f"database schema missing ({msg}); run `idp db upgrade` first"
            else:
                msg = f"database unavailable: {msg}"
            err = CliError("database_unavailable", msg, EXIT_UNAVAILABLE)
        except ProgrammingError as exc:
            err = CliError(
                "database_schema",
                f"database schema problem ({type(exc.orig).__name__}); run `idp db upgrade`",
                EXIT_UNAVAILABLE,
            )
        except IntegrityError:
            err = CliError("conflict", "the change conflicts with existing data", EXIT_CONFLICT)
        payload = {"error": err.code, "message": err.message}
        if err.field:
            payload["field"] = err.field
        if as_json:
            typer.echo(json.dumps(payload, ensure_ascii=False))
        else:
            typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(err.exit_code)

    return wrapper


def load_settings() -> Settings:
    settings = Settings()
    _check_database_url(settings.database_url)
    return settings


def _check_database_url(url: str) -> None:
    """A URL SQLAlchemy cannot use is bad configuration (exit 78), not a traceback."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    from idp.db import normalise_url

    try:
        parsed = make_url(normalise_url(url))
        _ = parsed.port  # "host:notaport"
        parsed.get_dialect().import_dbapi()
    except ImportError as exc:
        raise CliError(
            "invalid_settings",
            f"IDP_DATABASE_URL: the database driver is not installed ({exc}); GovID uses "
            "sqlite:///PATH or postgresql://user@host/db",
            EXIT_CONFIG,
        ) from None
    except Exception as exc:  # ArgumentError, NoSuchModuleError, ValueError (the port)
        # SQLAlchemy 1.x's ArgumentError quoted the whole URL, password included: name the
        # kind of error only, never the value (no secrets in output).
        detail = type(exc).__name__ if isinstance(exc, ArgumentError) else f"{exc}"
        raise CliError(
            "invalid_settings",
            f"IDP_DATABASE_URL is not a usable database URL ({detail}); "
            "expected sqlite:///PATH or postgresql://user[:password]@host[:port]/db",
            EXIT_CONFIG,
        ) from None


@contextmanager
def open_services() -> Iterator[Any]:
    from idp.services import Services

    services = Services(load_settings(), timeouts=False)  # long jobs: no IDP_DB_* limits
    try:
        yield services
    finally:
        services.close()


@contextmanager
def as_host_operator(*, signs: bool = False) -> Iterator[Any]:
    """One transaction run as the operator at the host's shell (``idp.authz.caller.
    host_operator``): a ``Ctx`` for the same use cases the admin API calls, with an
    operator's authority and actor ``cli``. Commits when the block ends without error.

    ``signs``: the command may sign back-channel logout tokens. The key ring is loaded
    first, in its own transaction (it creates the keys on a database no server has
    started on yet; inside ours, SQLite would wait on our own write lock)."""
    from idp.authz.caller import host_operator
    from idp.authz.context import Ctx
    from idp.db import transaction

    with open_services() as services:
        if signs:
            services.keys.jwks()
        with transaction(services.sessions) as db:
            yield Ctx(db=db, caller=host_operator(), services=services)


def every_page(list_page: Callable[..., Any], ctx: Any, **filters: Any) -> list[Any]:
    """Every row a paged use case lists (the admin API's listings, read to the end), for
    a command that prints them all."""
    from idp.paging import MAX_LIMIT

    rows: list[Any] = []
    cursor = None
    while True:
        page = list_page(ctx, cursor=cursor, limit=MAX_LIMIT, **filters)
        rows.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            return rows


def redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
