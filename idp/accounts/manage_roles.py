"""Role grants (DESIGN §4 ``role_grant``): operators grant anything anywhere; agency
admins grant roles below operator within their subtree, to accounts of their subtree.
Grants may expire. Every change is audited. No web framework here."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select

from idp.accounts import manage as admin_accounts
from idp.accounts import roles
from idp.accounts.models import ROLES, RoleGrant
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.authz.caller import agency_in_scope
from idp.authz.context import Ctx, check_tag
from idp.errors import Conflict, InvalidInput, NotFound, OutsideScope, PermissionDenied
from idp.paging import Page, paginate

SORT_FIELDS = {"created_at": RoleGrant.created_at}


def grant_etag(grant: RoleGrant) -> str:
    exp = int(grant.expires_at.timestamp()) if grant.expires_at else 0
    return f'"{grant.id.hex[:12]}-{exp}"'


def get(ctx: Ctx, grant_id, permission: str = "roles:read") -> RoleGrant:
    scope = ctx.scope(permission)
    try:
        gid = grant_id if isinstance(grant_id, uuid.UUID) else uuid.UUID(str(grant_id))
    except ValueError:
        raise NotFound("no such role grant", field="role_grant") from None
    grant = ctx.db.get(RoleGrant, gid)
    if grant is None:
        raise NotFound("no such role grant", field="role_grant")
    if not scope.covers(ctx.db.get_one(Agency, grant.agency_id)):
        raise OutsideScope("no such role grant", field="role_grant")  # answered alike, audited
    return grant


def list_grants(
    ctx: Ctx,
    *,
    account_id: str | None = None,
    role: str | None = None,
    agency_id: str | None = None,
    cursor: str | None,
    limit: int,
    sort: str = "created_at",
) -> Page:
    scope = ctx.scope("roles:read")
    stmt = scope.apply(select(RoleGrant), RoleGrant.agency_id)
    me = ctx.caller.account if ctx.caller.kind == "account" else None
    if account_id and me is not None and str(me.id) == str(account_id).lower():
        # A person's own grants, wherever their account lives: they are where their
        # power comes from (an admin of another ministry than their own account's reads
        # them on the console's dashboard). Nothing here they do not hold already.
        stmt = select(RoleGrant).where(RoleGrant.account_id == me.id)
    elif account_id:
        account = admin_accounts.get(ctx, account_id)
        stmt = stmt.where(RoleGrant.account_id == account.id)
    if role:
        if role not in ROLES:
            raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
        stmt = stmt.where(RoleGrant.role == role)
    if agency_id:
        stmt = stmt.where(RoleGrant.agency_id == agency_in_scope(ctx.db, scope, agency_id).id)
    return paginate(
        ctx.db,
        stmt,
        id_column=RoleGrant.id,
        sort_fields=SORT_FIELDS,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


def _may_handle(ctx: Ctx, role: str) -> None:
    if role == "operator" and not ctx.caller.is_operator:
        raise PermissionDenied("only operators may grant or revoke the operator role")


def create(ctx: Ctx, account_id, role: str, agency_id, expires_at: dt.datetime | None) -> RoleGrant:
    scope = ctx.scope("roles:write")
    roles.check_role(role)
    if expires_at is not None:
        if expires_at.tzinfo is None:
            raise InvalidInput("expires_at needs a time zone", field="expires_at")
        if expires_at <= ctx.services.clock.now():
            raise InvalidInput("expires_at must be in the future", field="expires_at")
    agency = agency_in_scope(ctx.db, scope, agency_id)
    account = admin_accounts.get(ctx, account_id, "accounts:read")
    if not scope.covers(account.agency):
        raise NotFound("no such account", field="account")
    _may_handle(ctx, role)
    if account.status != "active":
        raise Conflict("roles can only be granted to active accounts", field="account_id")
    if roles.held(ctx.db, account, role, agency):
        raise Conflict(roles.ALREADY_HELD, field="role")
    return roles.record_grant(
        ctx.db,
        account,
        role,
        agency,
        granted_by=ctx.caller.account,
        actor=ctx.actor,
        expires_at=expires_at,
    )


def revoke(ctx: Ctx, grant_id, expected) -> None:
    grant = get(ctx, grant_id, "roles:write")
    check_tag(grant_etag(grant), expected)
    _may_handle(ctx, grant.role)
    agency = ctx.db.get(Agency, grant.agency_id)
    role, account_id = grant.role, grant.account_id
    ctx.db.delete(grant)
    ctx.db.flush()
    audit.record(
        ctx.db,
        "admin.role.revoked",
        actor=ctx.actor,
        agency_id=agency.id if agency else None,
        subject=str(account_id),
        details={"role": role, "agency": agency.code if agency else None},
    )
