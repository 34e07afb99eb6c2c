"""`idp clients create | list`. Secrets are shown once."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from idp.cli import CliError, JsonOpt, _emit, _services, _table, handles_errors

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
        "grant_types": c.grant_types,
        "scopes": c.scopes,
        "min_acr": c.min_acr,
        "first_party": c.first_party,
        "status": c.status,
    }


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
    jwks_file: Annotated[
        Path | None, typer.Option("--jwks-file", help="Public JWKS for private_key_jwt")
    ] = None,
    min_acr: Annotated[str | None, typer.Option("--min-acr")] = None,
    first_party: Annotated[
        bool, typer.Option("--first-party", help="Skip the consent page")
    ] = False,
    client_id: Annotated[str | None, typer.Option("--client-id")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Register an application. Prints the client secret once."""
    from idp.clients import service

    jwks = None
    if jwks_file is not None:
        try:
            jwks = json.loads(jwks_file.read_text())
        except (OSError, ValueError) as exc:
            raise CliError("invalid_input", f"cannot read JWKS from {jwks_file}: {exc}", 2) from exc
    grants = tuple(
        grant_type
        or (["client_credentials"] if not redirect_uri else ["authorization_code", "refresh_token"])
    )
    with _services() as services, services.sessions.begin() as db:
        s = services.settings
        if min_acr and min_acr not in (s.acr_level1, s.acr_level2):
            raise CliError(
                "invalid_input", f"--min-acr must be {s.acr_level1} or {s.acr_level2}", 2
            )
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
                min_acr=min_acr,
                first_party=first_party,
                jwks=jwks,
                client_id=client_id,
            ),
            actor="cli",
        )
        data = _client_dict(client)
    data["client_secret"] = secret

    def human() -> None:
        typer.echo(f"registered {data['client_id']} ({data['token_endpoint_auth_method']})")
        if secret:
            typer.echo(f"client secret (shown only now): {secret}")

    _emit(as_json, data, human)


@clients_app.command("list")
@handles_errors
def clients_list(
    agency: Annotated[str | None, typer.Option(help="Agency code (with sub-agencies)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List registered applications."""
    from sqlalchemy import select

    from idp.agencies import service as agencies
    from idp.clients.models import Client

    with _services() as services, services.sessions() as db:
        stmt = select(Client).order_by(Client.client_id)
        if agency:
            stmt = stmt.where(
                Client.agency_id.in_(agencies.subtree_ids_stmt(agencies.get_by_code(db, agency)))
            )
        rows = [_client_dict(c) for c in db.scalars(stmt)]
    _emit(
        as_json,
        {"clients": rows, "count": len(rows)},
        lambda: _table(
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
