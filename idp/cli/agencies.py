"""``idp agencies create | list``: the agency tree (ministry → department → office)."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from idp.cli.common import JsonOpt, emit, handles_errors, open_services, table

agencies_app = typer.Typer(help="Agencies (ministry → department → office)", no_args_is_help=True)


def _agency_dict(a: Any) -> dict[str, Any]:
    return {
        "id": str(a.id),
        "code": a.code,
        "name_th": a.name_th,
        "name_en": a.name_en,
        "parent_id": str(a.parent_id) if a.parent_id else None,
        "depth": a.depth,
        "mail_domains": a.mail_domains,
        "mailbox_quota_mb": a.mailbox_quota_mb,
        "attachment_limit_mb": a.attachment_limit_mb,
        "status": a.status,
    }


@agencies_app.command("create")
@handles_errors
def agencies_create(
    code: Annotated[str, typer.Option(help="Short unique code, e.g. moi")],
    name_th: Annotated[str, typer.Option("--name-th", help="Thai name")],
    name_en: Annotated[str, typer.Option("--name-en", help="English name")],
    parent: Annotated[str | None, typer.Option(help="Parent agency code")] = None,
    domain: Annotated[list[str] | None, typer.Option(help="Mail domain (repeatable)")] = None,
    mailbox_quota_mb: Annotated[int | None, typer.Option(help="Default mailbox quota")] = None,
    attachment_limit_mb: Annotated[int | None, typer.Option(help="Attachment limit")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Create an agency (under --parent, or as a top-level ministry)."""
    from idp.agencies import service
    from idp.db import transaction

    with open_services() as services, transaction(services.sessions) as session:
        a = service.create(
            session,
            service.NewAgency(
                code=code,
                name_th=name_th,
                name_en=name_en,
                parent_code=parent,
                mail_domains=tuple(domain or ()),
                mailbox_quota_mb=mailbox_quota_mb,
                attachment_limit_mb=attachment_limit_mb,
            ),
            actor="cli",
            default_mailbox_quota_mb=services.settings.default_mailbox_quota_mb,
            default_attachment_limit_mb=services.settings.default_attachment_limit_mb,
        )
        data = _agency_dict(a)
    emit(as_json, data, lambda: typer.echo(f"created agency {data['code']} ({data['id']})"))


@agencies_app.command("list")
@handles_errors
def agencies_list(
    under: Annotated[str | None, typer.Option(help="Only this agency's subtree")] = None,
    as_json: JsonOpt = False,
) -> None:
    """List agencies as a tree."""
    from idp.agencies import service

    with open_services() as services, services.sessions() as session:
        scope = service.get_by_code(session, under) if under else None
        rows = service.list_agencies(session, under=scope)
        data = [_agency_dict(a) for a in rows]
    emit(
        as_json,
        {"agencies": data, "count": len(data)},
        lambda: table(
            [
                (
                    "  " * d["depth"] + d["code"],
                    d["name_en"],
                    d["name_th"],
                    ",".join(d["mail_domains"]),
                    d["mailbox_quota_mb"],
                )
                for d in data
            ],
            ("code", "name_en", "name_th", "mail domains", "quota MB"),
        ),
    )
