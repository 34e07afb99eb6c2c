"""SCIM Users and Groups over GovID accounts and role grants (RFC 7643/7644).

Same scoping, guards and audit as the admin API (the work is done by
``idp.admin.accounts``). The enterprise extension's ``department`` is the agency code;
changing it is refused (an account moves agency only through its own operation).
Groups are an agency's holders of one role, read-only here (roles are granted through
``/admin/v1/role-grants``). No web framework here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from idp.accounts import service as accounts
from idp.accounts.models import ROLES, Account, RoleGrant
from idp.admin import accounts as admin_accounts
from idp.admin.context import Ctx, check_version
from idp.admin.models import AccountExternalId
from idp.admin.scim import filter as scim_filter
from idp.agencies.models import Agency
from idp.errors import InvalidInput, NotFound

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
GOVID = "urn:govid:params:scim:schemas:extension:2.0:User"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_COUNT = 500

USER_COLUMNS = {
    "username": (Account.email, "ci_text"),
    "emails": (Account.email, "ci_text"),
    "emails.value": (Account.email, "ci_text"),
    "externalid": (AccountExternalId.external_id, "text"),
    "meta.lastmodified": (Account.updated_at, "time"),
    "meta.created": (Account.created_at, "time"),
}


def scim_etag(version: int) -> str:
    return f'W/"{version}"'


def _external_id(ctx: Ctx, account: Account) -> str | None:
    return ctx.db.scalar(
        select(AccountExternalId.external_id).where(AccountExternalId.account_id == account.id)
    )


def user_resource(ctx: Ctx, a: Account, base: str) -> dict[str, Any]:
    emails = [{"value": a.email, "type": "work", "primary": True}]
    emails += [{"value": x, "type": "other"} for x in a.aliases or []]
    out: dict[str, Any] = {
        "schemas": [USER, ENTERPRISE, GOVID],
        "id": str(a.id),
        "userName": a.email,
        "name": {
            "givenName": a.given_name_en,
            "familyName": a.family_name_en,
            "formatted": f"{a.given_name_en} {a.family_name_en}".strip(),
        },
        "displayName": f"{a.given_name_en} {a.family_name_en}".strip() or a.email,
        "emails": emails,
        "active": a.status == "active",
        "preferredLanguage": a.locale,
        ENTERPRISE: {"department": a.agency.code, "organization": a.agency.name_en},
        GOVID: {
            "givenNameTh": a.given_name_th,
            "familyNameTh": a.family_name_th,
            "mailboxQuotaMb": a.mailbox_quota_mb,
        },
        "meta": {
            "resourceType": "User",
            "created": a.created_at.isoformat(),
            "lastModified": a.updated_at.isoformat(),
            "location": f"{base}/Users/{a.id}",
            "version": scim_etag(a.version),
        },
    }
    ext = _external_id(ctx, a)
    if ext:
        out["externalId"] = ext
    return out


def _paging(start_index: int, count: int) -> tuple[int, int]:
    # RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; count is capped by the provider.
    return max(start_index, 1), max(0, min(count, MAX_COUNT))


def list_users(ctx: Ctx, filter_text: str | None, start_index: int, count: int, base: str):
    scope = ctx.scope("accounts:read")
    stmt = scope.apply(select(Account), Account.agency_id).outerjoin(
        AccountExternalId, AccountExternalId.account_id == Account.id
    )
    stmt = stmt.where(Account.status != "deleted")
    if filter_text:
        stmt = stmt.where(scim_filter.compile_filter(scim_filter.parse(filter_text), USER_COLUMNS))
    total = ctx.db.scalar(select(func.count()).select_from(stmt.subquery()))
    start, count = _paging(start_index, count)
    rows = ctx.db.scalars(
        stmt.order_by(Account.created_at, Account.id).offset(start - 1).limit(count)
    ).all()
    return {
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(rows),
        "Resources": [user_resource(ctx, a, base) for a in rows],
    }


def get_user(ctx: Ctx, user_id: str) -> Account:
    account = admin_accounts.get(ctx, user_id)
    if account.status == "deleted":
        raise NotFound("no such user", field="id")
    return account


def _primary_email(body: dict[str, Any]) -> str | None:
    emails = body.get("emails") or []
    for e in emails:
        if isinstance(e, dict) and e.get("primary"):
            return e.get("value")
    return body.get("userName") or (emails[0].get("value") if emails else None)


def _set_external_id(ctx: Ctx, account: Account, value: Any) -> None:
    row = ctx.db.get(AccountExternalId, account.id)
    if value in (None, ""):
        if row is not None:
            ctx.db.delete(row)
        return
    if not isinstance(value, str) or len(value) > 255:
        raise InvalidInput(
            "externalId must be a string of at most 255 characters", field="externalId"
        )
    if row is None:
        ctx.db.add(AccountExternalId(account_id=account.id, external_id=value))
    else:
        row.external_id = value
    ctx.db.flush()


def _department(ctx: Ctx, body: dict[str, Any]) -> str:
    dept = (body.get(ENTERPRISE) or {}).get("department")
    if dept:
        return str(dept)
    caller = ctx.caller
    if caller.agency is not None:
        return caller.agency.code
    raise InvalidInput(f"{ENTERPRISE}:department (the agency code) is required", field="department")


def create_user(ctx: Ctx, body: dict[str, Any]):
    name = body.get("name") or {}
    gov = body.get(GOVID) or {}
    email = _primary_email(body)
    if not email:
        raise InvalidInput("userName is required", field="userName")
    created = admin_accounts.create(
        ctx,
        accounts.NewAccount(
            email=str(email),
            agency_code=_department(ctx, body),
            given_name_en=str(name.get("givenName") or ""),
            family_name_en=str(name.get("familyName") or ""),
            given_name_th=str(gov.get("givenNameTh") or ""),
            family_name_th=str(gov.get("familyNameTh") or ""),
            password=body.get("password"),
        ),
    )
    if body.get("externalId") is not None:
        _set_external_id(ctx, created.account, body["externalId"])
    if body.get("active") is False:
        admin_accounts.suspend(ctx, created.account.id, "scim: active=false", None)
    return created


def _apply(ctx: Ctx, account: Account, attrs: dict[str, Any]) -> Account:
    """Apply SCIM attribute values (from PUT or PATCH) through the admin services."""
    changes: dict[str, Any] = {}
    name = attrs.get("name")
    if isinstance(name, dict):
        if "givenName" in name:
            changes["given_name_en"] = str(name["givenName"] or "")
        if "familyName" in name:
            changes["family_name_en"] = str(name["familyName"] or "")
    for key, field_name in (
        ("name.givenname", "given_name_en"),
        ("name.familyname", "family_name_en"),
    ):
        if key in attrs:
            changes[field_name] = str(attrs[key] or "")
    gov = attrs.get(GOVID)
    if isinstance(gov, dict):
        for src, dst in (("givenNameTh", "given_name_th"), ("familyNameTh", "family_name_th")):
            if src in gov:
                changes[dst] = str(gov[src] or "")
    if "preferredlanguage" in attrs:
        changes["locale"] = attrs["preferredlanguage"]
    dept = (attrs.get(ENTERPRISE) or {}).get("department") or attrs.get("department")
    if dept and str(dept).lower() != account.agency.code.lower():
        raise InvalidInput("department (agency) cannot be changed through SCIM", field="department")
    user_name = attrs.get("username")
    if user_name and str(user_name).lower() != account.email:
        raise InvalidInput("userName cannot be changed through SCIM", field="userName")
    if changes:
        admin_accounts.update(ctx, account.id, accounts.AccountChanges(**changes), None)
    if "externalid" in attrs:
        _set_external_id(ctx, account, attrs["externalid"])
    if "active" in attrs:
        active = attrs["active"]
        if not isinstance(active, bool):
            raise InvalidInput("active must be true or false", field="active")
        if active and account.status == "suspended":
            admin_accounts.resume(ctx, account.id, None)
        elif not active and account.status == "active":
            admin_accounts.suspend(ctx, account.id, "scim: active=false", None)
    return account


def _lower_keys(body: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in body.items():
        out[k if k.startswith("urn:") else k.lower()] = v
    if "name" in out:
        out["name"] = out["name"]
    return out


def replace_user(ctx: Ctx, user_id: str, body: dict[str, Any], expected) -> Account:
    account = get_user(ctx, user_id)
    check_version(account.version, expected)
    return _apply(ctx, account, _lower_keys(body))


def patch_user(ctx: Ctx, user_id: str, body: dict[str, Any], expected) -> Account:
    if PATCH_OP not in (body.get("schemas") or []):
        raise InvalidInput(f"a PATCH body names the schema {PATCH_OP}", field="schemas")
    ops = body.get("Operations")
    if not isinstance(ops, list) or not ops:
        raise InvalidInput("Operations must be a non-empty list", field="Operations")
    account = get_user(ctx, user_id)
    check_version(account.version, expected)
    for op in ops:
        if not isinstance(op, dict):
            raise InvalidInput("each operation is an object", field="Operations")
        kind = str(op.get("op", "")).lower()
        path = op.get("path")
        value = op.get("value")
        if kind not in ("add", "replace", "remove"):
            raise InvalidInput(f"unknown op {op.get('op')!r}", field="op")
        if kind == "remove":
            if not isinstance(path, str) or path.lower() not in ("externalid",):
                raise InvalidInput("only externalId can be removed", field="path")
            attrs = {"externalid": None}
        elif path is None:
            if not isinstance(value, dict):
                raise InvalidInput("without a path, value is an object", field="value")
            attrs = _lower_keys(value)
        else:
            attrs = {str(path) if str(path).startswith("urn:") else str(path).lower(): value}
            if ":" in str(path) and str(path).startswith(ENTERPRISE):
                attrs = {"department": value}
        _apply(ctx, account, attrs)
    ctx.db.refresh(account)
    return account


def delete_user(ctx: Ctx, user_id: str, expected) -> None:
    account = get_user(ctx, user_id)
    check_version(account.version, expected)
    admin_accounts.delete(ctx, account.id, None)


# -------------------------------------------------------------------------------- groups


def group_id(role: str, agency: Agency) -> str:
    return f"{role}.{agency.id.hex}"


def group_resource(ctx: Ctx, role: str, agency: Agency, base: str) -> dict[str, Any]:
    rows = ctx.db.execute(
        select(Account.id, Account.email)
        .join(RoleGrant, RoleGrant.account_id == Account.id)
        .where(RoleGrant.role == role, RoleGrant.agency_id == agency.id)
        .order_by(Account.email)
    ).all()
    gid = group_id(role, agency)
    return {
        "schemas": [GROUP],
        "id": gid,
        "displayName": f"{agency.code} {role}",
        "members": [{"value": str(i), "display": e, "type": "User"} for i, e in rows],
        "meta": {"resourceType": "Group", "location": f"{base}/Groups/{gid}"},
    }


def get_group(ctx: Ctx, gid: str, base: str) -> dict[str, Any]:
    role, _, hex_id = gid.partition(".")
    if role not in ROLES:
        raise NotFound("no such group", field="id")
    try:
        agency_id = uuid.UUID(hex=hex_id)
    except ValueError:
        raise NotFound("no such group", field="id") from None
    agency = ctx.db.get(Agency, agency_id)
    if agency is None or not ctx.scope("roles:read").covers(agency):
        raise NotFound("no such group", field="id")
    return group_resource(ctx, role, agency, base)


def list_groups(ctx: Ctx, filter_text: str | None, start_index: int, count: int, base: str):
    scope = ctx.scope("roles:read")
    stmt = scope.apply(
        select(RoleGrant.role, Agency).join(Agency, Agency.id == RoleGrant.agency_id).distinct(),
        RoleGrant.agency_id,
    )
    pairs = sorted(ctx.db.execute(stmt).all(), key=lambda p: (p[1].code, p[0]))
    if filter_text:
        expr = scim_filter.parse(filter_text)
        if not (
            isinstance(expr, scim_filter.Compare)
            and expr.attr == "displayname"
            and expr.op == "eq"
            and isinstance(expr.value, str)
        ):
            raise scim_filter.FilterError("Groups can be filtered by displayName eq only")
        pairs = [p for p in pairs if f"{p[1].code} {p[0]}".lower() == expr.value.lower()]
    start, count = _paging(start_index, count)
    page = pairs[start - 1 : start - 1 + count]
    return {
        "schemas": [LIST],
        "totalResults": len(pairs),
        "startIndex": start,
        "itemsPerPage": len(page),
        "Resources": [group_resource(ctx, role, agency, base) for role, agency in page],
    }
