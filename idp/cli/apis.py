"""`idp apis create | list | show | update | rotate-secret | disable | enable`: an agency's
APIs (RFC 8707 resources). Introspection secrets are shown once."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from idp.cli.common import (
    EXIT_INVALID_INPUT,
    CliError,
    JsonOpt,
    as_host_operator,
    emit,
    every_page,
    handles_errors,
    open_services,
    table,
)

apis_app = typer.Typer(
    help="APIs of agencies (RFC 8707 resources): their scopes, who may use them",
    no_args_is_help=True,
)
ApiArg = Annotated[str, typer.Argument(help="The API's identifier URI or id")]
SHARED = {
    "agency": "apps of its own agency only",
    "subtree": "apps of its agency and its sub-agencies",
    "all": "apps of every agency",
}


def _api_dict(db, api: Any) -> dict[str, Any]:
    from idp.agencies.service import get as get_agency
    from idp.resources import service

    return {
        "id": str(api.id),
        "identifier": api.identifier,
        "agency": get_agency(db, api.agency_id).code,
        "name_th": api.name_th,
        "name_en": api.name_en,
        "scopes": service.scopes_of(db, api),
        "shared_with": api.shared_with,
        "introspection": api.introspection,
        "introspection_client_id": api.client_id,
        "status": api.status,
        "version": api.version,
    }


def _describe(d: dict[str, Any]) -> None:
    typer.echo(f"{d['identifier']}  ({d['name_en']} / {d['name_th']})")
    typer.echo(f"  id:           {d['id']}")
    typer.echo(f"  agency:       {d['agency']}")
    typer.echo(f"  status:       {d['status']}")
    typer.echo(f"  scopes:       {' '.join(d['scopes'])}")
    typer.echo(f"  shared with:  {d['shared_with']} ({SHARED[d['shared_with']]})")
    intro = d["introspection_client_id"] if d["introspection"] else None
    typer.echo(f"  introspection: {'client_id ' + intro if intro else 'off'}")


def _secret_lines(d: dict[str, Any], secret: str | None) -> None:
    if secret:
        typer.echo(
            f"introspection credentials (client_secret_basic at /introspect): "
            f"client_id {d['introspection_client_id']}"
        )
        typer.echo(f"introspection secret (shown only now): {secret}")


def _check_shared(value: str | None) -> None:
    if value is not None and value not in SHARED:
        raise CliError(
            "invalid_input", f"--shared-with must be one of {', '.join(SHARED)}", EXIT_INVALID_INPUT
        )


@apis_app.command("create")
@handles_errors
def apis_create(
    agency: Annotated[str, typer.Option(help="Agency code that owns the API")],
    identifier: Annotated[
        str,
        typer.Option(help="Absolute URI without fragment, e.g. https://api.agency.go.th/"),
    ],
    name_en: Annotated[str, typer.Option("--name-en")],
    scope: Annotated[list[str], typer.Option("--scope", help="A scope of the API (repeat)")],
    name_th: Annotated[str, typer.Option("--name-th")] = "",
    shared_with: Annotated[
        str, typer.Option("--shared-with", help="agency | subtree | all: whose apps may use it")
    ] = "agency",
    introspection: Annotated[
        bool,
        typer.Option(
            "--introspection/--no-introspection",
            help="May the API introspect the tokens issued for it (credentials shown once)",
        ),
    ] = True,
    as_json: JsonOpt = False,
) -> None:
    """Register an API. Prints its introspection secret once."""
    from idp.resources import registration

    _check_shared(shared_with)
    with open_services() as services, services.sessions.begin() as db:
        api, secret = registration.create(
            db,
            registration.NewApi(
                agency_code=agency,
                identifier=identifier,
                name_th=name_th or name_en,
                name_en=name_en,
                scopes=tuple(scope),
                shared_with=shared_with,
                introspection=introspection,
            ),
            issuer=services.settings.issuer,
            actor="cli",
        )
        data = _api_dict(db, api)
    data["introspection_client_secret"] = secret

    def human() -> None:
        typer.echo("registered API:")
        _describe(data)
        _secret_lines(data, secret)
        typer.echo(
            f"next: give an app its scopes (idp clients create ... --scope {data['scopes'][0]}); "
            f"the app asks with resource={data['identifier']}"
        )

    emit(as_json, data, human)


@apis_app.command("list")
@handles_errors
def apis_list(
    agency: Annotated[str | None, typer.Option(help="Agency code (with sub-agencies)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List registered APIs."""
    from idp.resources import manage

    with as_host_operator() as ctx:
        found = every_page(manage.list_apis, ctx, status=None, agency=agency, sort="identifier")
        rows = [_api_dict(ctx.db, a) for a in found]
    emit(
        as_json,
        {"apis": rows, "count": len(rows)},
        lambda: table(
            [
                (r["identifier"], r["agency"], r["status"], r["shared_with"], " ".join(r["scopes"]))
                for r in rows
            ],
            ("identifier", "agency", "status", "shared with", "scopes"),
        ),
    )


@apis_app.command("show")
@handles_errors
def apis_show(api: ApiArg, as_json: JsonOpt = False) -> None:
    """Show one API."""
    from idp.resources import service

    with open_services() as services, services.sessions() as db:
        data = _api_dict(db, service.get(db, api))
    emit(as_json, data, lambda: _describe(data))


@apis_app.command("update")
@handles_errors
def apis_update(
    api: ApiArg,
    name_en: Annotated[str | None, typer.Option("--name-en")] = None,
    name_th: Annotated[str | None, typer.Option("--name-th")] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Replace the scopes (repeat)")
    ] = None,
    add_scope: Annotated[list[str] | None, typer.Option("--add-scope")] = None,
    remove_scope: Annotated[list[str] | None, typer.Option("--remove-scope")] = None,
    shared_with: Annotated[
        str | None, typer.Option("--shared-with", help="agency | subtree | all")
    ] = None,
    introspection: Annotated[
        bool | None, typer.Option("--introspection/--no-introspection")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Change an API (names, scopes, sharing, introspection). Its identifier never changes."""
    from idp.resources import registration, service

    _check_shared(shared_with)
    if scope and (add_scope or remove_scope):
        raise CliError(
            "invalid_input", "use --scope, or --add-scope/--remove-scope", EXIT_INVALID_INPUT
        )
    with open_services() as services, services.sessions.begin() as db:
        row = service.get(db, api)
        scopes = list(scope) if scope else None
        if add_scope or remove_scope:
            current = service.scopes_of(db, row)
            scopes = [s for s in current if s not in (remove_scope or [])] + [
                s for s in (add_scope or []) if s not in current
            ]
        changed, secret = registration.update(
            db,
            row,
            registration.ApiChanges(
                name_th=name_th,
                name_en=name_en,
                scopes=scopes,
                shared_with=shared_with,
                introspection=introspection,
            ),
            actor="cli",
        )
        data = _api_dict(db, row)
    data["changed"] = changed
    data["introspection_client_secret"] = secret

    def human() -> None:
        typer.echo(f"changed: {', '.join(changed)}" if changed else "nothing to change")
        _describe(data)
        _secret_lines(data, secret)

    emit(as_json, data, human)


@apis_app.command("rotate-secret")
@handles_errors
def apis_rotate_secret(api: ApiArg, as_json: JsonOpt = False) -> None:
    """A new introspection secret (shown once); the old one stops working now."""
    from idp.resources import registration, service

    with open_services() as services, services.sessions.begin() as db:
        row = service.get(db, api)
        secret = registration.rotate_secret(db, row, actor="cli")
        data = _api_dict(db, row)
    data["introspection_client_secret"] = secret
    emit(as_json, data, lambda: _secret_lines(data, secret))


def _set_status(api: str, status: str, as_json: bool) -> None:
    from idp.resources import registration, service

    with open_services() as services, services.sessions.begin() as db:
        row = service.get(db, api)
        changed = registration.set_status(db, row, status, actor="cli")
        data = {**_api_dict(db, row), "changed": changed}
    word = "disabled" if status == "disabled" else "enabled"
    emit(
        as_json,
        data,
        lambda: typer.echo(
            f"{data['identifier']} {word}"
            if changed
            else f"{data['identifier']} was already {word}"
        ),
    )


@apis_app.command("disable")
@handles_errors
def apis_disable(api: ApiArg, as_json: JsonOpt = False) -> None:
    """No new tokens for the API; its introspection credentials stop working."""
    _set_status(api, "disabled", as_json)


@apis_app.command("enable")
@handles_errors
def apis_enable(api: ApiArg, as_json: JsonOpt = False) -> None:
    """Enable a disabled API again."""
    _set_status(api, "active", as_json)
