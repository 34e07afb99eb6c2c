"""``idp accounts update EMAIL``: names, language, aliases and quotas, as the admin API's
PATCH changes them (``idp.accounts.manage.update`` run as the host operator: the same
address rules, the directory outbox and ``admin.account.updated`` with actor ``cli``).
The agency, the status and roles have their own commands."""

from __future__ import annotations

from typing import Annotated

import typer

from idp.cli.account_actions import EmailArg, find
from idp.cli.accounts import account_dict, accounts_app
from idp.cli.common import (
    EXIT_INVALID_INPUT,
    CliError,
    JsonOpt,
    as_host_operator,
    emit,
    handles_errors,
)

_FIELDS = (
    "given_name_th",
    "family_name_th",
    "given_name_en",
    "family_name_en",
    "locale",
    "mailbox_quota_mb",
    "attachment_limit_mb",
    "aliases",
)
NameOpt = Annotated[str | None, typer.Option()]
QuotaOpt = Annotated[int | None, typer.Option(help="MB")]
AliasesOpt = Annotated[list[str] | None, typer.Option()]


def _aliases(
    current: list[str],
    replace: list[str] | None,
    add: list[str] | None,
    remove: list[str] | None,
    clear: bool,
) -> list[str] | None:
    """The new list of aliases, or None when no option touched it."""
    if clear and (replace or add):
        raise CliError(
            "invalid_input",
            "--no-aliases excludes --alias and --add-alias",
            EXIT_INVALID_INPUT,
            field="aliases",
        )
    if replace is None and not add and not remove and not clear:
        return None
    out = [] if clear else list(replace) if replace is not None else list(current)
    for alias in remove or ():
        key = alias.strip().lower()
        if key not in out:
            raise CliError(
                "invalid_input",
                f"{alias!r} is not an alias of this account",
                EXIT_INVALID_INPUT,
                field="aliases",
            )
        out.remove(key)
    return out + [a for a in add or () if a.strip().lower() not in out]


@accounts_app.command("update")
@handles_errors
def accounts_update(
    email: EmailArg,
    given_name_th: NameOpt = None,
    family_name_th: NameOpt = None,
    given_name_en: NameOpt = None,
    family_name_en: NameOpt = None,
    locale: Annotated[str | None, typer.Option(help="th | en")] = None,
    mailbox_quota_mb: QuotaOpt = None,
    attachment_limit_mb: QuotaOpt = None,
    alias: Annotated[
        list[str] | None, typer.Option("--alias", help="Replace all aliases (repeatable)")
    ] = None,
    add_alias: AliasesOpt = None,
    remove_alias: AliasesOpt = None,
    no_aliases: Annotated[bool, typer.Option("--no-aliases", help="Remove every alias")] = False,
    as_json: JsonOpt = False,
) -> None:
    """Change an account's names, language, aliases or quotas (the admin API's rules)."""
    from idp.accounts import manage
    from idp.accounts.service import AccountChanges

    with as_host_operator() as ctx:
        account = find(ctx, email)
        before = account_dict(account)
        changes = AccountChanges(
            given_name_th=given_name_th,
            family_name_th=family_name_th,
            given_name_en=given_name_en,
            family_name_en=family_name_en,
            locale=locale,
            mailbox_quota_mb=mailbox_quota_mb,
            attachment_limit_mb=attachment_limit_mb,
            aliases=_aliases(before["aliases"], alias, add_alias, remove_alias, no_aliases),
        )
        if all(getattr(changes, f) is None for f in _FIELDS):
            raise CliError(
                "invalid_input", "nothing to change: give at least one option", EXIT_INVALID_INPUT
            )
        manage.update(ctx, account.id, changes, None)
        data = account_dict(account)
    changed = [f for f in _FIELDS if data[f] != before[f]]
    data["changed"] = changed

    def human() -> None:
        if not changed:
            typer.echo(f"{data['email']}: nothing changed (it already was so)")
            return
        typer.echo(f"updated {data['email']}:")
        for f in changed:
            old, new = before[f], data[f]
            if f == "aliases":
                old, new = " ".join(old) or "(none)", " ".join(new) or "(none)"
            typer.echo(f"  {f}: {old} → {new}")

    emit(as_json, data, human)
