"""`idp clients create | list | show | update | rotate-secret | disable | enable`.

Secrets are shown once. Every rule of a registration is ``idp.clients.service``'s, the
same the admin API applies (the CLI acts as an operator: any agency, any known scope);
every change is audited with actor ``cli``. One command group, one module (over 400 lines:
seven commands sharing the option parsing of a registration and its changes)."""

from __future__ import annotations

import json
from pathlib import Path
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

PolicyUriOpt = Annotated[
    str | None,
    typer.Option(
        "--policy-uri",
        help="The app's own privacy notice (https), linked on the consent page",
    ),
]
clients_app = typer.Typer(help="OIDC clients (agency applications)", no_args_is_help=True)


def _client_dict(c: Any) -> dict[str, Any]:
    return {
        "client_id": c.client_id,
        "name_th": c.name_th,
        "name_en": c.name_en,
        "agency_id": str(c.agency_id),
        "token_endpoint_auth_method": c.token_endpoint_auth_method,
        "redirect_uris": c.redirect_uris,
        "post_logout_redirect_uris": c.post_logout_redirect_uris,
        "backchannel_logout_uri": c.backchannel_logout_uri,
        "policy_uri": c.policy_uri,
        "grant_types": c.grant_types,
        "scopes": c.scopes,
        "min_acr": c.min_acr,
        "id_token_signed_response_alg": c.id_token_signed_response_alg,
        "access_token_ttl": c.access_token_ttl,
        "refresh_token_ttl": c.refresh_token_ttl,
        "first_party": c.first_party,
        "status": c.status,
        "version": c.version,
    }


IdTokenAlgOpt = Annotated[
    str | None,
    typer.Option("--id-token-alg", help="How ID tokens are signed: RS256 (default) or ES256"),
]
AccessTtlOpt = Annotated[
    int | None,
    typer.Option(
        "--access-token-ttl", help="Access token lifetime, seconds (at most IDP_ACCESS_TOKEN_TTL)"
    ),
]
RefreshTtlOpt = Annotated[
    int | None,
    typer.Option(
        "--refresh-token-ttl",
        help="Refresh token lifetime, seconds (at most IDP_REFRESH_TOKEN_TTL)",
    ),
]


@clients_app.command("create")
@handles_errors
def clients_create(
    agency: Annotated[str, typer.Option(help="Agency code that owns the app")],
    name_en: Annotated[str, typer.Option("--name-en")],
    name_th: Annotated[str, typer.Option("--name-th")] = "",
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri")] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option("--post-logout-redirect-uri")
    ] = None,
    auth_method: Annotated[
        str,
        typer.Option(
            "--auth-method",
            help="client_secret_basic | client_secret_post | private_key_jwt | none",
        ),
    ] = "client_secret_basic",
    grant_type: Annotated[
        list[str] | None,
        typer.Option("--grant-type", help="authorization_code, refresh_token, client_credentials"),
    ] = None,
    scope: Annotated[list[str] | None, typer.Option("--scope")] = None,
    backchannel_logout_uri: Annotated[str | None, typer.Option("--backchannel-logout-uri")] = None,
    policy_uri: PolicyUriOpt = None,
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Public JWKS for private_key_jwt")
    ] = None,
    min_acr: Annotated[str | None, typer.Option("--min-acr")] = None,
    first_party: Annotated[
        bool, typer.Option("--first-party", help="Skip the consent page")
    ] = False,
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    id_token_alg: IdTokenAlgOpt = None,
    access_token_ttl: AccessTtlOpt = None,
    refresh_token_ttl: RefreshTtlOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an application. Prints the client secret once."""
    from idp.clients import service

    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text())
        except (OSError, ValueError) as exc:
            raise CliError(
                "invalid_input", f"cannot read JWKS from {jwks_file}: {exc}", EXIT_INVALID_INPUT
            ) from exc
    grants = tuple(
        grant_type
        or (["client_credentials"] if not redirect_uri else ["authorization_code", "refresh_token"])
    )
    with open_services() as services, services.sessions.begin() as db:
        client, secret = service.create(
            db,
            service.NewClient(
                agency_code=agency,
                name_th=name_th or name_en,
                name_en=name_en,
                redirect_uris=tuple(redirect_uri or ()),
                post_logout_redirect_uris=tuple(post_logout_redirect_uri or ()),
                auth_method=auth_method,
                grant_types=grants,
                scopes=tuple(scope or ("openid", "profile", "email", "govid")),
                backchannel_logout_uri=backchannel_logout_uri,
                policy_uri=policy_uri,
                min_acr=min_acr,
                first_party=first_party,
                jwks=jwks,
                client_id=client_id,
                id_token_signed_response_alg=id_token_alg or "RS256",
                access_token_ttl=access_token_ttl,
                refresh_token_ttl=refresh_token_ttl,
            ),
            actor="cli",
            limits=service.Limits.of(services.settings),
        )
        data = _client_dict(client)
    data["client_secret"] = secret

    def human() -> None:
        typer.echo(f"registered {data['client_id']} ({data['token_endpoint_auth_method']})")
        if secret:
            typer.echo(f"client secret (shown only now): {secret}")

    emit(as_json, data, human)


@clients_app.command("list")
@handles_errors
def clients_list(
    agency: Annotated[str | None, typer.Option(help="Agency code (with sub-agencies)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List registered applications."""
    from idp.clients import manage

    with as_host_operator() as ctx:
        found = every_page(manage.list_clients, ctx, status=None, agency=agency, sort="client_id")
        rows = [_client_dict(c) for c in found]
    emit(
        as_json,
        {"clients": rows, "count": len(rows)},
        lambda: table(
            [
                (
                    r["client_id"],
                    r["name_en"],
                    r["token_endpoint_auth_method"],
                    " ".join(r["redirect_uris"]),
                )
                for r in rows
            ],
            ("client_id", "name", "auth", "redirect URIs"),
        ),
    )


ClientIdArg = Annotated[str, typer.Argument(help="The client_id")]


def _ttl_text(value: int | None, default: int) -> str:
    return f"{value} s" if value is not None else f"server default ({default} s)"


def _show(data: dict[str, Any], settings: Any) -> None:
    rows = [
        ("client_id", data["client_id"]),
        ("status", data["status"]),
        ("names", f"{data['name_en']} / {data['name_th']}"),
        ("agency", f"{data['agency_code']} ({data['agency_id']})"),
        ("authentication", data["token_endpoint_auth_method"]),
        ("grant types", ", ".join(data["grant_types"]) or "-"),
        ("scopes", " ".join(data["scopes"]) or "-"),
        ("min_acr", data["min_acr"] or "-"),
        ("ID token alg", data["id_token_signed_response_alg"]),
        ("access token", _ttl_text(data["access_token_ttl"], settings.access_token_ttl)),
        ("refresh token", _ttl_text(data["refresh_token_ttl"], settings.refresh_token_ttl)),
        ("back-channel logout", data["backchannel_logout_uri"] or "-"),
        ("privacy notice", data["policy_uri"] or "-"),
        ("first party", "yes (no consent page)" if data["first_party"] else "no"),
        ("version", data["version"]),
    ]
    width = max(len(k) for k, _ in rows)
    for k, v in rows:
        typer.echo(f"{k.ljust(width)}  {v}")
    for title, key in (
        ("redirect URIs", "redirect_uris"),
        ("post-logout redirect URIs", "post_logout_redirect_uris"),
    ):
        typer.echo(f"{title}:")
        for uri in data[key] or ["(none)"]:
            typer.echo(f"  {uri}")


def _load(db: Any, client_id: str) -> Any:
    from idp.clients import service

    return service.get_by_client_id(db, client_id)


def _full_dict(db: Any, c: Any) -> dict[str, Any]:
    from idp.agencies.models import Agency

    return {**_client_dict(c), "agency_code": db.get(Agency, c.agency_id).code}


@clients_app.command("show")
@handles_errors
def clients_show(client_id: ClientIdArg, as_json: JsonOpt = False) -> None:
    """Show one application's registration (never its secret)."""
    with open_services() as services, services.sessions() as db:
        data = _full_dict(db, _load(db, client_id))
        settings = services.settings
    emit(as_json, data, lambda: _show(data, settings))


def _edit_list(
    current: list[str], replace: list[str] | None, add: list[str] | None, remove: list[str] | None
) -> list[str] | None:
    """The new list, or None when no option touched it."""
    if replace is None and not add and not remove:
        return None
    out = list(replace) if replace is not None else list(current)
    for uri in remove or ():
        if uri not in out:
            raise CliError(
                "invalid_input", f"{uri!r} is not registered for this client", EXIT_INVALID_INPUT
            )
        out.remove(uri)
    out += [u for u in add or () if u not in out]
    return out


@clients_app.command("update")
@handles_errors
def clients_update(
    client_id: ClientIdArg,
    name_en: Annotated[str | None, typer.Option("--name-en")] = None,
    name_th: Annotated[str | None, typer.Option("--name-th")] = None,
    redirect_uri: Annotated[
        list[str] | None,
        typer.Option("--redirect-uri", help="Replace all redirect URIs (repeatable)"),
    ] = None,
    add_redirect_uri: Annotated[list[str] | None, typer.Option("--add-redirect-uri")] = None,
    remove_redirect_uri: Annotated[list[str] | None, typer.Option("--remove-redirect-uri")] = None,
    post_logout_redirect_uri: Annotated[
        list[str] | None,
        typer.Option(
            "--post-logout-redirect-uri", help="Replace all post-logout URIs (repeatable)"
        ),
    ] = None,
    add_post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option("--add-post-logout-redirect-uri")
    ] = None,
    remove_post_logout_redirect_uri: Annotated[
        list[str] | None, typer.Option("--remove-post-logout-redirect-uri")
    ] = None,
    backchannel_logout_uri: Annotated[str | None, typer.Option("--backchannel-logout-uri")] = None,
    no_backchannel_logout_uri: Annotated[
        bool, typer.Option("--no-backchannel-logout-uri", help="Remove it")
    ] = False,
    policy_uri: PolicyUriOpt = None,
    no_policy_uri: Annotated[bool, typer.Option("--no-policy-uri", help="Remove it")] = False,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Replace all scopes (repeatable)")
    ] = None,
    grant_type: Annotated[
        list[str] | None,
        typer.Option("--grant-type", help="Replace all grant types (repeatable)"),
    ] = None,
    min_acr: Annotated[str | None, typer.Option("--min-acr")] = None,
    no_min_acr: Annotated[bool, typer.Option("--no-min-acr", help="Remove it")] = False,
    id_token_alg: IdTokenAlgOpt = None,
    access_token_ttl: AccessTtlOpt = None,
    default_access_token_ttl: Annotated[
        bool, typer.Option("--default-access-token-ttl", help="Back to the server's")
    ] = False,
    refresh_token_ttl: RefreshTtlOpt = None,
    default_refresh_token_ttl: Annotated[
        bool, typer.Option("--default-refresh-token-ttl", help="Back to the server's")
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an application's registration (the same rules as the admin API)."""
    from idp.clients import service

    for a, b, what in (
        (backchannel_logout_uri, no_backchannel_logout_uri, "--backchannel-logout-uri"),
        (policy_uri, no_policy_uri, "--policy-uri"),
        (min_acr, no_min_acr, "--min-acr"),
        (access_token_ttl, default_access_token_ttl, "--access-token-ttl"),
        (refresh_token_ttl, default_refresh_token_ttl, "--refresh-token-ttl"),
    ):
        if a is not None and b:
            raise CliError(
                "invalid_input",
                f"{what} and its reset option exclude each other",
                EXIT_INVALID_INPUT,
            )
    with open_services() as services, services.sessions.begin() as db:
        client = _load(db, client_id)
        before = {
            k: list(getattr(client, k) or [])
            for k in ("redirect_uris", "post_logout_redirect_uris")
        }
        changes = service.ClientChanges(
            name_en=name_en,
            name_th=name_th,
            redirect_uris=_edit_list(
                before["redirect_uris"], redirect_uri, add_redirect_uri, remove_redirect_uri
            ),
            post_logout_redirect_uris=_edit_list(
                before["post_logout_redirect_uris"],
                post_logout_redirect_uri,
                add_post_logout_redirect_uri,
                remove_post_logout_redirect_uri,
            ),
            backchannel_logout_uri=backchannel_logout_uri,
            clear_backchannel_logout_uri=no_backchannel_logout_uri,
            policy_uri=policy_uri,
            clear_policy_uri=no_policy_uri,
            scopes=scope,
            grant_types=grant_type,
            min_acr=min_acr,
            clear_min_acr=no_min_acr,
            id_token_signed_response_alg=id_token_alg,
            access_token_ttl=access_token_ttl,
            clear_access_token_ttl=default_access_token_ttl,
            refresh_token_ttl=refresh_token_ttl,
            clear_refresh_token_ttl=default_refresh_token_ttl,
        )
        if not changes.asked():
            raise CliError(
                "invalid_input", "nothing to change: give at least one option", EXIT_INVALID_INPUT
            )
        changed = service.update(
            db, client, changes, actor="cli", limits=service.Limits.of(services.settings)
        )
        data = _full_dict(db, client)
    data["changed"] = changed

    def human() -> None:
        if not changed:
            typer.echo(f"{client_id}: nothing changed (it already was so)")
            return
        typer.echo(f"updated {client_id}: {', '.join(changed)}")
        for key in ("redirect_uris", "post_logout_redirect_uris"):
            if key in changed:
                typer.echo(f"  {key}: {' '.join(before[key]) or '(none)'}")
                typer.echo(f"  {' ' * len(key)}→ {' '.join(data[key]) or '(none)'}")

    emit(as_json, data, human)


@clients_app.command("rotate-secret")
@handles_errors
def clients_rotate_secret(client_id: ClientIdArg, as_json: JsonOpt = False) -> None:
    """Give the application a new secret (shown only now); the old one stops working."""
    from idp.clients import service

    with open_services() as services, services.sessions.begin() as db:
        client = _load(db, client_id)
        secret = service.rotate_secret(db, client, actor="cli")
        cache_seconds = services.settings.client_cache_seconds
    data = {"client_id": client_id, "client_secret": secret}

    def human() -> None:
        typer.echo(f"new client secret for {client_id} (shown only now): {secret}")
        typer.echo(
            f"the old secret stops working within {cache_seconds:g} s on every server process"
        )

    emit(as_json, data, human)


def _set_status(client_id: str, status: str, as_json: bool) -> None:
    from idp.clients import service

    with open_services() as services, services.sessions.begin() as db:
        client = _load(db, client_id)
        changed = service.set_status(db, client, status, actor="cli")
        data = {**_full_dict(db, client), "changed": changed}
    verb = "enabled" if status == "active" else "disabled"
    emit(
        as_json,
        data,
        lambda: typer.echo(f"{client_id} {verb}" if changed else f"{client_id} was already {verb}"),
    )


@clients_app.command("disable")
@handles_errors
def clients_disable(client_id: ClientIdArg, as_json: JsonOpt = False) -> None:
    """Stop an application: no new tokens, and its tokens stop working at once."""
    _set_status(client_id, "disabled", as_json)


@clients_app.command("enable")
@handles_errors
def clients_enable(client_id: ClientIdArg, as_json: JsonOpt = False) -> None:
    """Let a disabled application sign people in again."""
    _set_status(client_id, "active", as_json)
