"""``idp keys list | rotate | revoke | rotate-data-key | data-key-status``: signing keys
and the data key."""

from __future__ import annotations

from typing import Annotated

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

keys_app = typer.Typer(help="Signing keys (JWKS)", no_args_is_help=True)


@keys_app.command("list")
@handles_errors
def keys_list(as_json: JsonOpt = False) -> None:
    """Show every signing key and its state."""
    from sqlalchemy import select

    from idp.keys import service
    from idp.keys.models import SigningKey

    with open_services() as services, services.sessions.begin() as db:
        service.ensure_keys(db, services.cipher)
        published = {k.kid for k in service.published(db)}
        rows = [
            {
                "kid": r.kid,
                "alg": r.alg,
                "state": r.state,
                "published": r.kid in published,
                "created_at": r.created_at.isoformat(),
                "not_after": r.not_after.isoformat() if r.not_after else None,
            }
            for r in db.scalars(select(SigningKey).order_by(SigningKey.created_at))
        ]
    emit(
        as_json,
        {"keys": rows},
        lambda: table(
            [
                (
                    r["kid"],
                    r["alg"],
                    r["state"],
                    "yes" if r["published"] else "no",
                    r["not_after"] or "",
                )
                for r in rows
            ],
            ("kid", "alg", "state", "in JWKS", "published until"),
        ),
    )


@keys_app.command("rotate")
@handles_errors
def keys_rotate(
    alg: Annotated[list[str] | None, typer.Option(help="RS256 and/or ES256 (default both)")] = None,
    as_json: JsonOpt = False,
) -> None:
    """next → active → retired. Retired keys stay in the JWKS until their tokens expire."""
    from idp.keys import service

    algs = tuple(alg or service.ALGORITHMS)
    for a in algs:
        if a not in service.ALGORITHMS:
            raise CliError(
                "invalid_input",
                f"alg must be one of {', '.join(service.ALGORITHMS)}",
                EXIT_INVALID_INPUT,
            )
    with open_services() as services, services.sessions.begin() as db:
        s = services.settings
        # The longest-lived token a key signs: ID/access tokens (refresh tokens are opaque).
        lifetime = max(s.id_token_ttl, s.access_token_ttl) + 60
        result = service.rotate(db, services.cipher, token_lifetime=lifetime, algs=algs)
    emit(
        as_json,
        result,
        lambda: typer.echo(
            f"activated {', '.join(result['activated']) or '-'}; retired "
            f"{', '.join(result['retired']) or '-'} (published {lifetime} s more)"
        ),
    )


@keys_app.command("revoke")
@handles_errors
def keys_revoke(
    kid: Annotated[str, typer.Argument(help="the key id (idp keys list)")],
    reason: Annotated[str, typer.Option(help="why (kept in the audit log)")] = "",
    as_json: JsonOpt = False,
) -> None:
    """A signing key that may have leaked: out of the JWKS now, replaced at once."""
    from idp.keys import service

    if not reason.strip():
        raise CliError(
            "invalid_input", "say why with --reason (it goes to the audit log)", EXIT_INVALID_INPUT
        )
    with open_services() as services, services.sessions.begin() as db:
        try:
            result = service.revoke(db, services.cipher, kid, reason=reason.strip())
        except service.UnknownKey:
            raise CliError("not_found", f"no signing key {kid!r} (idp keys list)", 4) from None
    emit(
        as_json,
        result,
        lambda: typer.echo(
            f"revoked {kid} (was {result['was']}); now active: "
            f"{', '.join(result['activated']) or 'unchanged'}; new next: "
            f"{', '.join(result['created']) or '-'}. Tell relying parties to fetch the JWKS "
            "again; GovID stops accepting its tokens within 30 s."
        ),
    )


@keys_app.command("rotate-data-key")
@handles_errors
def keys_rotate_data_key(
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="rows per transaction")] = 500,
    as_json: JsonOpt = False,
) -> None:
    """Re-encrypt every value encrypted at rest under IDP_DATA_KEY (the previous keys in
    IDP_DATA_KEY_PREVIOUS still open the old values). Batches of short transactions; a
    re-run continues where an interrupted run stopped and does nothing once done."""
    from idp.keys import data_rotation

    def progress(column: str, done: int) -> None:
        typer.echo(f"{column}: {done} rewritten", err=True)

    with open_services() as services:
        try:
            result = data_rotation.rotate(
                services, batch_size=batch_size, actor="cli", progress=progress
            )
        except data_rotation.RotationError as exc:
            raise CliError("data_key_missing", exc.message, 1) from None
    payload = result.as_dict()

    def human() -> None:
        typer.echo(f"data key {result.key_id}: every encrypted value rewritten under it")
        for column, n in result.rewritten.items():
            typer.echo(f"  {column:<42} {n:>8}")
        typer.echo(f"  {'total':<42} {result.total:>8}  ({result.seconds:.2f} s)")
        for column, n in payload["left"].items():
            typer.echo(f"  {column}: {n} row(s) were busy; run again", err=True)

    emit(as_json, payload, human)


@keys_app.command("data-key-status")
@handles_errors
def keys_data_key_status(as_json: JsonOpt = False) -> None:
    """Rows per data key id in every encrypted column (v1: written before key ids)."""
    from idp.keys import data_rotation

    with open_services() as services:
        current = services.cipher.key_id
        counts = data_rotation.status(services)
    emit(
        as_json,
        {"current": current, "columns": counts},
        lambda: table(
            [
                (column, kid + (" (current)" if kid == current else ""), n)
                for column, by_key in counts.items()
                for kid, n in sorted(by_key.items())
            ],
            ("column", "key id", "rows"),
        ),
    )
