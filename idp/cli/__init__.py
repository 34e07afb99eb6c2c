"""The ``idp`` command line (typer): the app assembled from one module per command group.

``common`` holds what every command shares (``--json`` output, tables, errors and exit
codes); each other module is one group (``idp accounts ...`` is ``accounts``). Commands
import the domain when they run, so ``idp --help`` starts quickly. Nothing outside this
package imports it: the domain does not know it is run from a shell.
"""

from __future__ import annotations

import typer

from idp.cli import account_actions, account_update  # noqa: F401 (commands of accounts_app)
from idp.cli.accounts import accounts_app
from idp.cli.agencies import agencies_app
from idp.cli.apis import apis_app
from idp.cli.audit import audit_app
from idp.cli.clients import clients_app
from idp.cli.common import JsonUsageErrors
from idp.cli.database import db_app
from idp.cli.directory import directory_app, outbox_app
from idp.cli.federation import federation_app
from idp.cli.keys import keys_app
from idp.cli.maintenance import maintenance_app
from idp.cli.roles import roles_app
from idp.cli.server import bootstrap, serve

app = typer.Typer(
    help="GovID identity provider",
    no_args_is_help=True,
    add_completion=False,
    cls=JsonUsageErrors,
)
app.add_typer(db_app, name="db")
app.add_typer(agencies_app, name="agencies")
app.add_typer(accounts_app, name="accounts")
app.add_typer(roles_app, name="roles")
app.add_typer(audit_app, name="audit")
app.add_typer(outbox_app, name="outbox")
app.add_typer(directory_app, name="directory")
directory_app.add_typer(federation_app, name="federation")
app.command()(serve)
app.command()(bootstrap)
app.add_typer(clients_app, name="clients")
app.add_typer(keys_app, name="keys")
app.add_typer(apis_app, name="apis")  # RFC 8707 API resources
app.add_typer(maintenance_app, name="maintenance")  # housekeeping


def main() -> None:
    app()


__all__ = ["app", "main"]
