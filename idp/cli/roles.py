"""``idp roles grant | revoke | list``: who administers or audits which agency.

The admin API's use cases (``idp.accounts.manage_roles``) run as the host operator
(``common.as_host_operator``): the same checks (an active account, no duplicate grant, an
expiry with a time zone and in the future) and the same audit events, actor ``cli``.
A role covers its agency and every agency below it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import typer

from idp.cli.account_actions import EmailArg, find, grant_dict
from idp.cli.common import (
    EXIT_INVALID_INPUT,
    CliError,
    JsonOpt,
    as_host_operator,
    emit,
    handles_errors,
    table,
)

roles_app = typer.Typer(
    help="Role grants: agency admins and auditors over an agency", no_args_is_help=True
)

RoleOpt = Annotated[str, typer.Option("--role", help="agency_admin | auditor | operator")]
AgencyOpt = Annotated[str, typer.Option("--agency", help="Agency code (its subtree is covered)")]


def _expiry(value: str | None) -> dt.datetime | None:
    """ISO 8601 (``2027-03-31T17:00:00+07:00``, ``...Z``); the use case checks the rest."""
    if value is None:
        return None
    try:
        return dt.datetime.fromisoformat(value.strip())
    except ValueError:
        raise CliError(
            "invalid_input",
            f"--expires {value!r} is not an ISO 8601 date and time "
            "(e.g. 2027-03-31T17:00:00+07:00)",
            EXIT_INVALID_INPUT,
            field="expires_at",
        ) from None


def _agency_id(ctx: Any, code: str) -> Any:
    from idp.agencies import service as agencies

    return agencies.get_by_code(ctx.db, code).id


@roles_app.command("grant")
@handles_errors
def roles_grant(
    email: EmailArg,
    role: RoleOpt,
    agency: AgencyOpt,
    expires: Annotated[
        str | None,
        typer.Option(
            "--expires",
            help="When the grant ends, ISO 8601 with a time zone (2027-03-31T17:00:00+07:00)",
        ),
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """Grant a role over an agency (and everything below it)."""
    from idp.accounts import manage_roles as roles

    expires_at = _expiry(expires)
    with as_host_operator() as ctx:
        account = find(ctx, email)
        g = roles.create(ctx, account.id, role, _agency_id(ctx, agency), expires_at)
        data = {**grant_dict(ctx, g), "email": account.email}

    def human() -> None:
        until = f" until {data['expires_at']}" if data["expires_at"] else ""
        typer.echo(f"granted {data['role']} over {data['agency']} to {data['email']}{until}")

    emit(as_json, data, human)


@roles_app.command("revoke")
@handles_errors
def roles_revoke(
    email: EmailArg, role: RoleOpt, agency: AgencyOpt, as_json: JsonOpt = False
) -> None:
    """Revoke a role grant (also one that has expired). It stops at the holder's next
    admin request."""
    from sqlalchemy import select

    from idp.accounts import manage_roles as roles
    from idp.accounts.models import ROLES, RoleGrant
    from idp.errors import InvalidInput, NotFound

    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    with as_host_operator() as ctx:
        account = find(ctx, email)
        grant_id = ctx.db.scalar(
            select(RoleGrant.id).where(
                RoleGrant.account_id == account.id,
                RoleGrant.role == role,
                RoleGrant.agency_id == _agency_id(ctx, agency),
            )
        )
        if grant_id is None:
            raise NotFound(
                f"{account.email} holds no {role} grant over {agency}", field="role_grant"
            )
        data = {**grant_dict(ctx, roles.get(ctx, grant_id)), "email": account.email}
        roles.revoke(ctx, grant_id, None)
    emit(
        as_json,
        {**data, "revoked": True},
        lambda: typer.echo(f"revoked {role} over {data['agency']} from {data['email']}"),
    )


@roles_app.command("list")
@handles_errors
def roles_list(
    email: Annotated[str | None, typer.Option("--email", help="Only this account's")] = None,
    role: Annotated[str | None, typer.Option("--role", help="Only this role")] = None,
    agency: Annotated[
        str | None, typer.Option("--agency", help="Only grants over this agency")
    ] = None,
    as_json: JsonOpt = False,
) -> None:
    """List role grants (expired ones too, marked so)."""
    from idp.accounts import manage_roles as roles
    from idp.accounts.models import Account
    from idp.paging import MAX_LIMIT

    items: list[dict[str, Any]] = []
    with as_host_operator() as ctx:
        account_id = str(find(ctx, email).id) if email else None
        agency_id = str(_agency_id(ctx, agency)) if agency else None
        cursor = None
        while True:
            page = roles.list_grants(
                ctx,
                account_id=account_id,
                role=role,
                agency_id=agency_id,
                cursor=cursor,
                limit=MAX_LIMIT,
            )
            for g in page.items:
                holder = ctx.db.get(Account, g.account_id)
                items.append({**grant_dict(ctx, g), "email": holder.email if holder else None})
            cursor = page.next_cursor
            if not cursor:
                break
    emit(
        as_json,
        {"role_grants": items, "count": len(items)},
        lambda: table(
            [
                (
                    i["email"],
                    i["role"],
                    i["agency"],
                    (i["expires_at"] or "never") + (" (expired)" if i["expired"] else ""),
                )
                for i in items
            ],
            ("email", "role", "agency", "expires"),
        ),
    )
