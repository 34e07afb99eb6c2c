"""``idp directory federation ...``: an agency's own LDAP/AD for sign-in (operators)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from idp.cli.common import (
    EXIT_CONFIG,
    EXIT_FAILURE,
    EXIT_INVALID_INPUT,
    EXIT_NOT_FOUND,
    EXIT_UNAVAILABLE,
    CliError,
    JsonOpt,
    emit,
    open_services,
)
from idp.cli.directory import handles_errors

federation_app = typer.Typer(
    help="Sign-in against an agency's own LDAP/AD (operators only)", no_args_is_help=True
)


@federation_app.command("set")
@handles_errors
def federation_set(
    agency: Annotated[str, typer.Option(help="Agency code (covers its subtree)")],
    server: Annotated[list[str], typer.Option(help="ldaps://host:636 (repeat: failover order)")],
    bind_dn_template: Annotated[
        str | None, typer.Option(help="e.g. uid={username},ou=people,dc=agency,dc=go,dc=th")
    ] = None,
    search_base: Annotated[str | None, typer.Option(help="Search-then-bind base DN")] = None,
    search_filter: Annotated[
        str | None, typer.Option(help="Default (&(objectClass=person)(|(uid={username})...)")
    ] = None,
    service_dn: Annotated[str | None, typer.Option(help="DN used to search")] = None,
    service_password_stdin: Annotated[
        bool, typer.Option("--service-password-stdin", help="Read its password from stdin")
    ] = False,
    start_tls: Annotated[bool, typer.Option(help="StartTLS on ldap:// URLs")] = True,
    allow_plain: Annotated[
        bool,
        typer.Option(
            "--allow-plain",
            help="No TLS at all (loopback testing only; a remote host also needs "
            "IDP_LDAP_ALLOW_PLAIN_REMOTE=true)",
        ),
    ] = False,
    ca_file: Annotated[Path | None, typer.Option(help="PEM CA bundle to trust")] = None,
    timeout: Annotated[int, typer.Option(min=1, max=60, help="Seconds per server")] = 5,
    fallback_to_local: Annotated[
        bool, typer.Option(help="Use the local password when the directory is down")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Create or replace an agency's federation settings."""
    from idp.db import transaction
    from idp.directory import agency_federation as fed

    password = None
    if service_password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    ca_pem = None
    if ca_file is not None:
        try:
            ca_pem = ca_file.read_text()
        except OSError as exc:
            raise CliError(
                "invalid_input", f"cannot read {ca_file}: {exc.strerror}", EXIT_INVALID_INPUT
            ) from None
    data = fed.FederationInput(
        servers=server,
        start_tls=start_tls,
        allow_plain=allow_plain,
        ca_pem=ca_pem,
        bind_dn_template=bind_dn_template,
        search_base=search_base,
        search_filter=search_filter,
        service_bind_dn=service_dn,
        service_password=password,
        timeout_seconds=timeout,
        fallback_to_local=fallback_to_local,
    )
    with open_services() as services, transaction(services.sessions) as session:
        row = fed.configure(session, agency, data, cipher=services.cipher, actor="cli")
        out = {"agency": agency, **fed.as_dict(row)}
    emit(as_json, out, lambda: typer.echo(f"federation for {agency}: {', '.join(server)}"))


@federation_app.command("show")
@handles_errors
def federation_show(
    agency: Annotated[str, typer.Option(help="Agency code")],
    as_json: JsonOpt = False,
) -> None:
    """Show the settings that apply to an agency (its own or inherited)."""
    from idp.agencies import service as agencies
    from idp.directory import agency_federation as fed

    with open_services() as services, services.sessions() as session:
        a = agencies.get_by_code(session, agency)
        row = fed.effective(session, a)
        data: dict[str, Any] = {"agency": a.code, "federated": row is not None}
        if row is not None:
            data.update(fed.as_dict(row))
            data["inherited"] = row.agency_id != a.id

    def human() -> None:
        if row is None:
            typer.echo(f"{agency}: local passwords (not federated)")
            return
        for k, v in data.items():
            typer.echo(f"{k}: {v}")

    emit(as_json, data, human)


@federation_app.command("disable")
@handles_errors
def federation_disable(
    agency: Annotated[str, typer.Option(help="Agency code")],
    as_json: JsonOpt = False,
) -> None:
    """Switch federation off for an agency (its staff use local passwords again)."""
    from idp.db import transaction
    from idp.directory import agency_federation as fed

    with open_services() as services, transaction(services.sessions) as session:
        fed.disable(session, agency, actor="cli")
    emit(as_json, {"agency": agency, "enabled": False}, lambda: typer.echo("disabled"))


@federation_app.command("test")
@handles_errors
def federation_test(
    agency: Annotated[str, typer.Option(help="Agency code")],
    login: Annotated[str, typer.Option(help="Email or username to try")],
    as_json: JsonOpt = False,
) -> None:
    """Try a sign-in against the agency directory; the password is read from stdin."""
    from idp.agencies import service as agencies
    from idp.directory import agency_federation as fed
    from idp.directory.federation import authenticate

    password = sys.stdin.readline().rstrip("\r\n")
    with open_services() as services, services.sessions() as session:
        try:
            config = fed.config_for(
                session, agencies.get_by_code(session, agency), cipher=services.cipher
            )
        except ValueError as exc:  # stored before the settings were checked
            raise CliError(
                "invalid_settings", f"federation settings: {exc} (set them again)", EXIT_CONFIG
            ) from None
    if config is None:
        raise CliError("not_found", f"agency {agency} is not federated", EXIT_NOT_FOUND)
    r = authenticate(config, login, password)
    data = {"outcome": r.outcome.value, "reason": r.reason, "dn": r.dn, "server": r.server}
    emit(as_json, data, lambda: typer.echo(f"{r.outcome.value} {r.reason} {r.dn or ''}"))
    if not r.ok:
        raise typer.Exit(EXIT_FAILURE if r.outcome.value == "bad_credentials" else EXIT_UNAVAILABLE)
