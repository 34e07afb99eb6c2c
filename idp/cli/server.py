"""``idp serve`` and ``idp bootstrap`` (top-level commands)."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from idp.cli.common import JsonOpt, emit, handles_errors, load_settings, open_services, table


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

    settings = load_settings()
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


@handles_errors
def bootstrap(as_json: JsonOpt = False) -> None:
    """Create demo agencies, an operator, an agency admin and a demo app (once)."""
    from idp import bootstrap as bs
    from idp.db import transaction

    with open_services() as services, transaction(services.sessions) as session:
        result = bs.run(session, hasher=services.hasher, cipher=services.cipher)

    def human() -> None:
        if not result.created:
            typer.echo("Demo data already present; nothing created (credentials were shown once).")
            return
        typer.echo("Created demo agencies: " + " → ".join(result.agencies))
        typer.echo("\nAccounts (passwords are shown only now):")
        table(
            [(a["email"], a["role"], a["password"]) for a in result.accounts],
            ("email", "role", "password"),
        )
        c = result.client or {}
        typer.echo("\nDemo OIDC client (secret shown only now):")
        table(
            [(c.get("client_id"), c.get("client_secret"), c.get("redirect_uri"))],
            ("client_id", "client_secret", "redirect_uri"),
        )

    emit(as_json, result.to_dict(), human)
