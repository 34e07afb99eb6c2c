"""``idp accounts show | suspend | resume | delete | reset-password | reset-factors |
sessions | end-sessions``: what the admin API does to one account, from the host's shell.

Each command calls the admin API's own use case (``idp.accounts.manage``) as the host
operator (``common.as_host_operator``: an operator's authority, actor ``cli``), so the
rules, the end of sessions and grants (``idp.sessions.logout.end_everything``), the
directory outbox and the audit events are the API's. An account is named by its email
or one of its aliases.
"""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from idp.cli.accounts import account_dict, accounts_app
from idp.cli.common import (
    EXIT_INVALID_INPUT,
    CliError,
    JsonOpt,
    as_host_operator,
    emit,
    handles_errors,
    table,
)

EmailArg = Annotated[str, typer.Argument(help="The account's email (or one of its aliases)")]
ReasonOpt = Annotated[
    str,
    typer.Option("--reason", help="Why (required; kept in the audit log, up to 200 characters)"),
]


def find(ctx: Any, email: str) -> Any:
    """The account with this address, as the use cases see it (unknown: not_found)."""
    from idp.accounts import addresses, manage
    from idp.errors import NotFound

    account_id = addresses.holder(ctx.db, email)
    if account_id is None:
        raise NotFound(f"no account has the address {email.strip()!r}", field="email")
    return manage.get(ctx, account_id)


def _required_reason(reason: str) -> str:
    if not reason.strip():
        raise CliError(
            "invalid_input",
            "--reason must say why (it is kept in the audit log)",
            EXIT_INVALID_INPUT,
            field="reason",
        )
    return reason


# ---------------------------------------------------------------------------------- show


@accounts_app.command("show")
@handles_errors
def accounts_show(email: EmailArg, as_json: JsonOpt = False) -> None:
    """One account: status, second factor, lock, its role grants and live sessions."""
    from idp.accounts import manage, search
    from idp.accounts import manage_roles as roles
    from idp.paging import MAX_LIMIT

    with as_host_operator() as ctx:
        a = find(ctx, email)
        data = account_dict(a)
        data["has_second_factor"] = bool(search.second_factor_ids(ctx.db, [a.id]))
        grants = roles.list_grants(ctx, account_id=str(a.id), cursor=None, limit=MAX_LIMIT)
        data["roles"] = [grant_dict(ctx, g) for g in grants.items]
        data["live_sessions"] = len(manage.list_sessions(ctx, a.id))

    def human() -> None:
        rows = [
            ("email", data["email"]),
            ("id", data["id"]),
            ("agency", data["agency"]),
            ("status", data["status"]),
            ("names", _names(data)),
            ("aliases", " ".join(data["aliases"]) or "-"),
            ("password", "set" if data["has_password"] else "none (needs a link)"),
            ("second factor", "yes" if data["has_second_factor"] else "no"),
            ("locked", f"until {data['locked_until']}" if data["locked"] else "no"),
            ("live sessions", data["live_sessions"]),
            ("version", data["version"]),
        ]
        width = max(len(k) for k, _ in rows)
        for k, v in rows:
            typer.echo(f"{k.ljust(width)}  {v}")
        typer.echo("roles:")
        for g in data["roles"] or []:
            until = f" until {g['expires_at']}" if g["expires_at"] else ""
            typer.echo(f"  {g['role']} over {g['agency']}{until}{' (expired)' * g['expired']}")
        if not data["roles"]:
            typer.echo("  (none)")

    emit(as_json, data, human)


def _names(d: dict[str, Any]) -> str:
    en = f"{d['given_name_en']} {d['family_name_en']}".strip()
    th = f"{d['given_name_th']} {d['family_name_th']}".strip()
    return " / ".join(n for n in (en, th) if n) or "-"


def grant_dict(ctx: Any, g: Any) -> dict[str, Any]:
    from idp.agencies.models import Agency
    from idp.db import utcnow

    return {
        "id": str(g.id),
        "account_id": str(g.account_id),
        "role": g.role,
        "agency": ctx.db.get(Agency, g.agency_id).code,
        "expires_at": g.expires_at.isoformat() if g.expires_at else None,
        "expired": g.expires_at is not None and g.expires_at <= utcnow(),
        "granted_by": str(g.granted_by) if g.granted_by else None,
        "created_at": g.created_at.isoformat() if g.created_at else None,
    }


# ------------------------------------------------------------------ suspend, resume, delete

_DONE = {"suspend": "suspended", "resume": "resumed", "delete": "deleted"}
_STATUS = {"suspend": "suspended", "resume": "active", "delete": "deleted"}


def _status_change(email: str, reason: str, action: str, as_json: bool) -> None:
    from idp.accounts import manage

    reason = _required_reason(reason)
    with as_host_operator(signs=action != "resume") as ctx:
        a = find(ctx, email)
        before = a.status
        if action == "suspend":
            manage.suspend(ctx, a.id, reason, None)
        elif action == "resume":
            manage.resume(ctx, a.id, None, reason)
        else:
            manage.delete(ctx, a.id, None, reason)
        data = {**account_dict(a), "changed": before != a.status}
    done = _DONE[action]

    def human() -> None:
        if not data["changed"]:
            typer.echo(f"{data['email']} was already {_STATUS[action]}")
        elif action == "resume":
            typer.echo(f"{data['email']} resumed: it can sign in again")
        else:
            typer.echo(
                f"{data['email']} {done}: every session and grant ended, "
                "apps with back-channel logout are told"
            )

    emit(as_json, data, human)


@accounts_app.command("suspend")
@handles_errors
def accounts_suspend(email: EmailArg, reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """Suspend: no sign-in, the mailbox disabled; every session and grant ends and the
    apps get back-channel logout tokens."""
    _status_change(email, reason, "suspend", as_json)


@accounts_app.command("resume")
@handles_errors
def accounts_resume(email: EmailArg, reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """Undo a suspension."""
    _status_change(email, reason, "resume", as_json)


@accounts_app.command("delete")
@handles_errors
def accounts_delete(email: EmailArg, reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """Delete (soft): sessions, grants and role grants end; `idp accounts purge` erases the
    personal data later."""
    _status_change(email, reason, "delete", as_json)


# ---------------------------------------------------------------- password, second factors


@accounts_app.command("reset-password")
@handles_errors
def accounts_reset_password(
    email: EmailArg,
    password_stdin: Annotated[
        bool,
        typer.Option(
            "--password-stdin",
            help="Set this password (read from stdin) instead of issuing a link",
        ),
    ] = False,
    as_json: JsonOpt = False,
) -> None:
    """Clear the password and print a one-time reset link (shown only now), or set one
    from stdin. Every session and grant ends; a lock by failed sign-ins is lifted."""
    from idp.accounts import links, manage

    password = sys.stdin.readline().rstrip("\r\n") if password_stdin else None
    with as_host_operator(signs=True) as ctx:
        r = manage.reset_password(ctx, find(ctx, email).id, password, None)
        who, ended = r.account.email, r.sessions_ended
        link = links.url(ctx.issuer, r.link_token) if r.link_token else None
        until = r.link_expires_at.isoformat() if r.link_expires_at else None
        data = {
            "account": account_dict(r.account),
            "link": link,
            "link_expires_at": until,
            "sessions_ended": ended,
        }

    def human() -> None:
        if link:
            typer.echo(f"password of {who} cleared; {ended} session(s) ended")
            typer.echo(f"reset link (shown only now, until {until}):")
            typer.echo(f"  {link}")
        else:
            typer.echo(f"password of {who} set; {ended} session(s) ended")

    emit(as_json, data, human)


@accounts_app.command("reset-factors")
@handles_errors
def accounts_reset_factors(email: EmailArg, as_json: JsonOpt = False) -> None:
    """Remove every second factor (authenticator app, security keys, recovery codes), for a
    person who lost theirs; every session and grant ends."""
    from idp.accounts import manage

    with as_host_operator(signs=True) as ctx:
        account, removed, ended = manage.reset_mfa(ctx, find(ctx, email).id, None)
        who = account.email
        data = {
            "account": account_dict(account),
            "credentials_removed": removed,
            "sessions_ended": ended,
        }
    emit(
        as_json,
        data,
        lambda: typer.echo(f"{who}: {removed} second factor(s) removed, {ended} session(s) ended"),
    )


# ------------------------------------------------------------------------------ sessions


@accounts_app.command("sessions")
@handles_errors
def accounts_sessions(email: EmailArg, as_json: JsonOpt = False) -> None:
    """The account's live sign-in sessions and the apps each was used with."""
    from idp.accounts import manage

    with as_host_operator() as ctx:
        rows = manage.list_sessions(ctx, find(ctx, email).id)
        items = [
            {
                "sid": s.sid,
                "acr": s.acr,
                "amr": list(s.amr or []),
                "auth_time": s.auth_time.isoformat(),
                "last_seen_at": s.last_seen_at.isoformat(),
                "expires_at": s.expires_at.isoformat(),
                "ip": s.ip,
                "user_agent": s.user_agent,
                "clients": clients,
            }
            for s, clients in rows
        ]
        lines = [
            (s.sid, s.auth_time.isoformat()[:19], s.ip, " ".join(clients) or "-")
            for s, clients in rows
        ]
    emit(
        as_json,
        {"sessions": items, "count": len(items)},
        lambda: table(lines, ("sid", "signed in (UTC)", "ip", "apps")),
    )


@accounts_app.command("end-sessions")
@handles_errors
def accounts_end_sessions(
    email: EmailArg,
    sid: Annotated[str | None, typer.Option("--sid", help="Only this session")] = None,
    as_json: JsonOpt = False,
) -> None:
    """End the account's sessions (all, or --sid), their grants too; apps with back-channel
    logout are told."""
    from idp.accounts import manage

    with as_host_operator(signs=True) as ctx:
        a = find(ctx, email)
        ended = manage.end_sessions(ctx, a.id, sid)
        who = a.email
    emit(
        as_json,
        {"email": who, "sessions_ended": ended},
        lambda: typer.echo(f"{who}: {ended} session(s) ended"),
    )
