"""Agency administration: operators create, rename, move and delete; everyone with a role
reads their subtree. No web framework here."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, or_, select
from sqlalchemy import update as sql_update
from sqlalchemy.orm import Session

from idp.accounts.models import Account, RoleGrant
from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.authz.caller import agency_in_scope
from idp.authz.context import Ctx, apply_changes, check_version
from idp.clients.models import Client
from idp.errors import AgencyNotEmpty, InvalidInput
from idp.paging import Page, paginate

SORT_FIELDS = {"code": Agency.code, "path": Agency.path, "updated_at": Agency.updated_at}


def get(ctx: Ctx, agency_id, permission: str = "agencies:read") -> Agency:
    return agency_in_scope(ctx.db, ctx.scope(permission), agency_id)


def list_agencies(
    ctx: Ctx,
    *,
    parent: uuid.UUID | str | None = None,
    code_prefix: str | None = None,
    q: str | None = None,
    top: bool = False,
    sort: str = "path",
    cursor: str | None,
    limit: int,
) -> Page:
    scope = ctx.scope("agencies:read")
    stmt = scope.apply(select(Agency), Agency.id)
    if parent:
        p = agency_in_scope(ctx.db, scope, parent)
        stmt = stmt.where(Agency.parent_id == p.id)
    if top:  # where a tree of the caller's subtree starts: ministries, or their roots
        if scope.roots is None:
            stmt = stmt.where(Agency.parent_id.is_(None))
        else:
            stmt = stmt.where(Agency.id.in_([r.id for r in scope.roots]))
    if code_prefix:
        stmt = stmt.where(func.lower(Agency.code).startswith(code_prefix.lower(), autoescape=True))
    if q:  # a name in Thai or English (anywhere in it), or the start of a code
        low = q.lower()
        stmt = stmt.where(
            or_(
                func.lower(Agency.code).startswith(low, autoescape=True),
                func.lower(Agency.name_en).contains(low, autoescape=True),
                Agency.name_th.contains(q, autoescape=True),
            )
        )
    return paginate(
        ctx.db,
        stmt,
        id_column=Agency.id,
        sort_fields=SORT_FIELDS,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


def create(ctx: Ctx, data: agencies.NewAgency) -> Agency:
    ctx.scope("agencies:write")  # operators only
    settings = ctx.services.settings
    return agencies.create(
        ctx.db,
        data,
        actor=ctx.actor,
        default_mailbox_quota_mb=settings.default_mailbox_quota_mb,
        default_attachment_limit_mb=settings.default_attachment_limit_mb,
    )


@dataclass(frozen=True)
class AgencyChanges:
    name_th: str | None = None
    name_en: str | None = None
    mail_domains: Sequence[str] | None = None
    mailbox_quota_mb: int | None = None
    attachment_limit_mb: int | None = None
    # Helpdesk contact; "" clears a field.
    helpdesk_email: str | None = None
    helpdesk_phone: str | None = None
    helpdesk_url: str | None = None
    privacy_url: str | None = None


def update(ctx: Ctx, agency_id, changes: AgencyChanges, expected) -> Agency:
    agency = get(ctx, agency_id, "agencies:write")
    check_version(agency.version, expected)
    new: dict = {}
    for name in ("name_th", "name_en"):
        value = getattr(changes, name)
        if value is not None:
            if not value.strip():
                raise InvalidInput(f"{name} must not be empty", field=name)
            if value.strip() != getattr(agency, name):
                new[name] = value.strip()
    if changes.mail_domains is not None:
        domains = agencies._validate(
            agencies.NewAgency(
                code=agency.code,
                name_th=agency.name_th,
                name_en=agency.name_en,
                mail_domains=changes.mail_domains,
            )
        )
        if domains != list(agency.mail_domains or []):
            new["mail_domains"] = domains
    for name in ("mailbox_quota_mb", "attachment_limit_mb"):
        value = getattr(changes, name)
        if value is not None and value != getattr(agency, name):
            if value <= 0:
                raise InvalidInput(f"{name} must be a positive number of MB", field=name)
            new[name] = value
    for name in agencies.CONTACT_FIELDS:
        value = getattr(changes, name)
        if value is not None:
            value = agencies.validate_contact(name, value)
            if value != getattr(agency, name):
                new[name] = value
    return apply_changes(
        ctx,
        agency,
        new,
        "admin.agency.updated",
        public=agencies.CONTACT_FIELDS,
        agency_id=agency.id,
        subject=str(agency.id),
    )


def move(ctx: Ctx, agency_id, new_parent_id: uuid.UUID | None, expected) -> Agency:
    """Re-parent an agency with its whole subtree (paths rewritten in one UPDATE)."""
    scope = ctx.scope("agencies:write")
    agency = agency_in_scope(ctx.db, scope, agency_id)
    check_version(agency.version, expected)
    parent = agency_in_scope(ctx.db, scope, new_parent_id) if new_parent_id else None
    if parent is not None and agencies.is_within(parent, agency):
        raise InvalidInput(
            "an agency cannot move under itself or its own subtree", field="parent_id"
        )
    if (parent.id if parent else None) == agency.parent_id:
        return agency
    old_parent = ctx.db.get(Agency, agency.parent_id) if agency.parent_id else None
    old_path = agency.path
    new_path = (parent.path if parent else "/") + f"{agency.id.hex}/"
    delta = ((parent.depth + 1) if parent else 0) - agency.depth
    agency.parent_id = parent.id if parent else None
    ctx.db.flush()  # bumps the agency's version
    ctx.db.execute(
        sql_update(Agency)
        .where(Agency.path.startswith(old_path, autoescape=True))
        .values(
            path=new_path + func.substr(Agency.path, len(old_path) + 1),
            depth=Agency.depth + delta,
        )
        .execution_options(synchronize_session=False)
    )
    ctx.db.expire_all()
    audit.record(
        ctx.db,
        "admin.agency.moved",
        actor=ctx.actor,
        agency_id=agency.id,
        subject=str(agency.id),
        details={
            "from_parent": old_parent.code if old_parent else None,
            "to_parent": parent.code if parent else None,
        },
    )
    return ctx.db.get_one(Agency, agency.id)


def _has_members(db: Session, agency: Agency) -> str | None:
    if db.scalar(select(Agency.id).where(Agency.parent_id == agency.id).limit(1)):
        return "sub-agencies"
    if db.scalar(select(Account.id).where(Account.agency_id == agency.id).limit(1)):
        return "accounts"
    if db.scalar(select(Client.id).where(Client.agency_id == agency.id).limit(1)):
        return "clients"
    if db.scalar(select(RoleGrant.id).where(RoleGrant.agency_id == agency.id).limit(1)):
        return "role grants"
    return None


def delete(ctx: Ctx, agency_id, expected) -> None:
    """Refused while the agency has sub-agencies, accounts (even deleted ones, whose
    audit trail names it), clients or role grants."""
    agency = get(ctx, agency_id, "agencies:write")
    check_version(agency.version, expected)
    what = _has_members(ctx.db, agency)
    if what:
        raise AgencyNotEmpty(f"agency {agency.code} still has {what}", field="agency")
    code, aid, parent_id = agency.code, agency.id, agency.parent_id
    ctx.db.delete(agency)
    ctx.db.flush()
    audit.record(
        ctx.db,
        "admin.agency.deleted",
        actor=ctx.actor,
        agency_id=parent_id,  # the parent's auditors still see it
        subject=str(aid),
        details={"code": code},
    )
