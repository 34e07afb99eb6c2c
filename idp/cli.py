"""``idp`` command line (typer).

Every command takes ``--json`` and then prints exactly one JSON object on stdout.
Errors go to stderr (or, with ``--json``, as ``{"error": ..., "message": ...}`` on stdout)
with a non-zero exit code and never a traceback.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import wraps
from typing import Annotated, Any

import typer
from pydantic import ValidationError
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError
from typer.core import TyperGroup

from idp.audit.cli import audit_app  # commands import lazily
from idp.config import Settings
from idp.directory.cli import directory_app, outbox_app  # commands import lazily
from idp.errors import DomainError


def _wants_json(args: Sequence[str]) -> bool:
    args = list(args)
    return "--json" in (args[: args.index("--")] if "--" in args else args)


class _JsonUsageErrors(TyperGroup):
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


app = typer.Typer(
    help="GovID identity provider",
    no_args_is_help=True,
    add_completion=False,
    cls=_JsonUsageErrors,
)
db_app = typer.Typer(help="Database schema", no_args_is_help=True)
agencies_app = typer.Typer(help="Agencies (ministry → department → office)", no_args_is_help=True)
accounts_app = typer.Typer(help="Accounts (civil servant mailboxes)", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(agencies_app, name="agencies")
app.add_typer(accounts_app, name="accounts")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")
app.add_typer(directory_app, name="directory")

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON object (for scripts).")]

EXIT_CONFIG = 78  # EX_CONFIG
EXIT_UNAVAILABLE = 69  # EX_UNAVAILABLE


class CliError(Exception):
    def __init__(self, code: str, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.code, self.message, self.exit_code = code, message, exit_code


def _emit(as_json: bool, payload: dict[str, Any], human: Callable[[], None]) -> None:
    if as_json:
        typer.echo(json.dumps(payload, ensure_ascii=False, default=str))
    else:
        human()


def _table(rows: Sequence[Sequence[Any]], headers: Sequence[str]) -> None:
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    for n, r in enumerate(cells):
        typer.echo("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
        if n == 0:
            typer.echo("  ".join("-" * w for w in widths))
    if not rows:
        typer.echo("(none)")


def handles_errors(fn: Callable[..., None]) -> Callable[..., None]:
    """Turn known failures into a message and an exit code (never a traceback)."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        as_json = kwargs.get("as_json", False)
        try:
            fn(*args, **kwargs)
            return
        except DomainError as exc:
            err = CliError(exc.code, exc.message, exc.exit_code)
            if exc.field:
                err.field = exc.field  # type: ignore[attr-defined]
        except CliError as exc:
            err = exc
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            msg = first["msg"].removeprefix("Value error, ")
            err = CliError(
                "invalid_settings", f"IDP_{where.upper()}: {msg}" if where else msg, EXIT_CONFIG
            )
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
            err = CliError("conflict", "the change conflicts with existing data", 4)
        payload = {"error": err.code, "message": err.message}
        if getattr(err, "field", None):
            payload["field"] = err.field  # type: ignore[attr-defined]
        if as_json:
            typer.echo(json.dumps(payload, ensure_ascii=False))
        else:
            typer.echo(f"error: {err.message}", err=True)
        raise typer.Exit(err.exit_code)

    return wrapper


def _settings() -> Settings:
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
def _services() -> Iterator[Any]:
    from idp.services import Services

    services = Services(_settings(), timeouts=False)  # long jobs: no IDP_DB_* limits
    try:
        yield services
    finally:
        services.close()


# --------------------------------------------------------------------------- serve / db


@app.command()
@handles_errors
def serve(
    host: Annotated[str | None, typer.Option(help="Bind address (default IDP_HOST)")] = None,
    port: Annotated[int | None, typer.Option(help="Port (default IDP_PORT)")] = None,
    workers: Annotated[int, typer.Option(min=1, help="Worker processes")] = 1,
    with_worker: Annotated[
        bool,
        typer.Option("--with-worker", help="Also run the LDAP outbox worker and housekeeping"),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Serve GovID over HTTP (uvicorn)."""
    import threading

    import uvicorn

    from idp.logs import configure, logging_config

    settings = _settings()
    configure(settings.log_format, settings.log_level)
    h, p = host or settings.host, port or settings.port
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "serving": f"http://{h}:{p}",
                    "issuer": settings.issuer,
                    "outbox_worker": with_worker,
                }
            )
        )
    else:
        typer.echo(
            f"GovID serving on http://{h}:{p} (issuer {settings.issuer})"
            + (" with the LDAP outbox worker" if with_worker else "")
        )
    stop = threading.Event()
    if with_worker:
        from idp.directory import worker
        from idp.services import Services

        # The worker returns at once when no directory is configured (IDP_LDAP_URLS).
        thread = threading.Thread(
            target=worker.run, args=(Services(settings), stop), name="outbox-worker", daemon=True
        )
        thread.start()
        from idp import maintenance  # housekeeping every IDP_MAINTENANCE_INTERVAL_SECONDS

        threading.Thread(
            target=maintenance.schedule,
            args=(Services(settings), stop),
            name="housekeeping",
            daemon=True,
        ).start()
    try:
        uvicorn.run(
            "idp.main:create_app",
            factory=True,
            host=h,
            port=p,
            workers=workers,
            # Off: uvicorn believed X-Forwarded-For from any loopback peer. GovID reads it
            # from IDP_TRUSTED_PROXIES only (idp/net.py, decision 0012).
            proxy_headers=False,
            log_level=settings.log_level,
            log_config=logging_config(settings.log_format, settings.log_level),  # idp/logs.py
            access_log=settings.access_log,
        )
    finally:
        stop.set()


@db_app.command("upgrade")
@handles_errors
def db_upgrade(
    revision: Annotated[str, typer.Argument(help="Target revision")] = "heads",
    as_json: JsonOpt = False,
) -> None:
    """Apply database migrations (safe to run repeatedly)."""
    from idp import migrate
    from idp.db import make_engine

    settings = _settings()
    migrate.upgrade(settings.database_url, revision)
    engine = make_engine(settings.database_url)
    try:
        current = migrate.describe(migrate.current_revisions(engine))
    finally:
        engine.dispose()
    _emit(
        as_json,
        {"database": _redact(settings.database_url), "revision": current},
        lambda: typer.echo(f"database {_redact(settings.database_url)} at revision {current}"),
    )


@db_app.command("current")
@handles_errors
def db_current(as_json: JsonOpt = False) -> None:
    """Show the schema revision of the database and of this code."""
    from idp import migrate
    from idp.db import make_engine

    settings = _settings()
    engine = make_engine(settings.database_url)
    try:
        current = migrate.current_revisions(engine)
    finally:
        engine.dispose()
    head = migrate.head_revisions()
    cur_s, head_s = migrate.describe(current), migrate.describe(head)
    _emit(
        as_json,
        {"revision": cur_s, "head": head_s, "up_to_date": current == head},
        lambda: typer.echo(
            f"database at {cur_s or 'nothing'}, code at {head_s}"
            + ("" if current == head else " — run `idp db upgrade`")
        ),
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


# ------------------------------------------------------------------------------ bootstrap


@app.command()
@handles_errors
def bootstrap(as_json: JsonOpt = False) -> None:
    """Create demo agencies, an operator, an agency admin and a demo app (once)."""
    from idp import bootstrap as bs
    from idp.db import transaction

    with _services() as services, transaction(services.sessions) as session:
        result = bs.run(session, hasher=services.hasher, cipher=services.cipher)

    def human() -> None:
        if not result.created:
            typer.echo("Demo data already present; nothing created (credentials were shown once).")
            return
        typer.echo("Created demo agencies: " + " → ".join(result.agencies))
        typer.echo("\nAccounts (passwords are shown only now):")
        _table(
            [(a["email"], a["role"], a["password"]) for a in result.accounts],
            ("email", "role", "password"),
        )
        c = result.client or {}
        typer.echo("\nDemo OIDC client (secret shown only now):")
        _table(
            [(c.get("client_id"), c.get("client_secret"), c.get("redirect_uri"))],
            ("client_id", "client_secret", "redirect_uri"),
        )

    _emit(as_json, result.to_dict(), human)


# ------------------------------------------------------------------------------- agencies


def _agency_dict(a: Any) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "code": a.code,
        "name_th": a.name_th,
        "name_en": a.name_en,
        "parent_id": str(a.parent_id) if a.parent_id else None,
        "depth": a.depth,
        "mail_domains": a.mail_domains,
        "mailbox_quota_mb": a.mailbox_quota_mb,
        "attachment_limit_mb": a.attachment_limit_mb,
        "status": a.status,
    }


@agencies_app.command("create")
@handles_errors
def agencies_create(
    code: Annotated[str, typer.Option(help="Short unique code, e.g. moi")],
    name_th: Annotated[str, typer.Option("--name-th", help="Thai name")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name")],
    parent: Annotated[str | None, typer.Option(help="Parent agency code")] = None,
    domain: Annotated[list[str] | None, typer.Option(help="Mail domain (repeatable)")] = None,
    mailbox_quota_mb: Annotated[int | None, typer.Option(help="Default mailbox quota")] = None,
    attachment_limit_mb: Annotated[int | None, typer.Option(help="Attachment limit")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an agency (under --parent, or as a top-level ministry)."""
    from idp.agencies import service
    from idp.db import transaction

    with _services() as services, transaction(services.sessions) as session:
        a = service.create(
            session,
            service.NewAgency(
                code=code,
                name_th=name_th,
                name_en=name_en,
                parent_code=parent,
                mail_domains=tuple(domain or ()),
                mailbox_quota_mb=mailbox_quota_mb,
                attachment_limit_mb=attachment_limit_mb,
            ),
            actor="cli",
            default_mailbox_quota_mb=services.settings.default_mailbox_quota_mb,
            default_attachment_limit_mb=services.settings.default_attachment_limit_mb,
        )
        data = _agency_dict(a)
    _emit(as_json, data, lambda: typer.echo(f"created agency {data['code']} ({data['id']})"))


@agencies_app.command("list")
@handles_errors
def agencies_list(
    under: Annotated[str | None, typer.Option(help="Only this agency's subtree")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List agencies as a tree."""
    from idp.agencies import service

    with _services() as services, services.sessions() as session:
        scope = service.get_by_code(session, under) if under else None
        rows = service.list_agencies(session, under=scope)
        data = [_agency_dict(a) for a in rows]
    _emit(
        as_json,
        {"agencies": data, "count": len(data)},
        lambda: _table(
            [
                (
                    "  " * d["depth"] + d["code"],
                    d["name_en"],
                    d["name_th"],
                    ",".join(d["mail_domains"]),
                    d["mailbox_quota_mb"],
                )
                for d in data
            ],
            ("code", "name_en", "name_th", "mail domains", "quota MB"),
        ),
    )


# ------------------------------------------------------------------------------- accounts


def _account_dict(a: Any) -> dict[str, Any]:
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
        raise CliError("invalid_input", "use --password-stdin or --generate-password, not both", 2)
    password = None
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    elif generate_password:
        password = secrets.token_urlsafe(15)
    with _services() as services, transaction(services.sessions) as session:
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
        data = _account_dict(a)
    if generate_password:
        data["password"] = password

    def human() -> None:
        typer.echo(f"created account {data['email']} in {data['agency']} ({data['id']})")
        if generate_password:
            typer.echo(f"initial password (shown only now): {password}")

    _emit(as_json, data, human)


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
        raise CliError("invalid_input", f"status must be one of {', '.join(ACCOUNT_STATUSES)}", 2)
    with _services() as services, services.sessions() as session:
        scope = agencies.get_by_code(session, agency) if agency else None
        rows = service.list_accounts(
            session, under=scope, status=status, email_prefix=email_prefix, limit=limit
        )
        data = [_account_dict(a) for a in rows]
    _emit(
        as_json,
        {"accounts": data, "count": len(data)},
        lambda: _table(
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


def _register_subcommands() -> None:
    # Imported here: these modules import helpers from this one.
    from idp.clients.cli import clients_app
    from idp.keys.cli import keys_app

    app.add_typer(clients_app, name="clients")
    app.add_typer(keys_app, name="keys")
    from idp.resources.cli import apis_app

    app.add_typer(apis_app, name="apis")  # RFC 8707 API resources (issue 16)
    from idp.maintenance_cli import maintenance_app

    app.add_typer(maintenance_app, name="maintenance")  # housekeeping (issue 21)
    from idp.admin.cli import register as register_admin

    register_admin(accounts_app)  # accounts import / purge (issue 7)


_register_subcommands()


def main() -> None:
    app()


if __name__ == "__main__":
    main()
