"""SCIM Users and Groups over GovID accounts and role grants (RFC 7643/7644).

Same scoping, guards and audit as the admin API (the work is done by
``idp.accounts.manage``). The enterprise extension's ``department`` is the agency code;
changing it is refused (an account moves agency only through its own operation).
Groups are an agency's holders of one role, read-only here (roles are granted through
``/admin/v1/role-grants``). No web framework here.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select

from idp.accounts import manage as admin_accounts
from idp.accounts import service as accounts
from idp.accounts import tally
from idp.accounts.models import ROLES, Account, AccountExternalId, RoleGrant
from idp.admin.scim import filter as scim_filter
from idp.admin.scim import parse
from idp.admin.scim.parse import ENTERPRISE, GOVID, USER, ScimInvalid
from idp.agencies.models import Agency
from idp.authz.caller import protections
from idp.authz.context import Ctx, check_version
from idp.errors import NotFound

GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
MAX_COUNT = 500
MAX_OPERATIONS = 100

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


_NOT_LOADED = object()


def user_resource(
    ctx: Ctx,
    a: Account,
    base: str,
    external_id: Any = _NOT_LOADED,
    protected: Any = _NOT_LOADED,
) -> dict[str, Any]:
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
            # As the admin API's `protected`: why this caller may not change the account
            # (an operator, or roles beyond the caller's scope), else absent.
            **({"protected": reason} if (reason := _protected(ctx, a, protected)) else {}),
        },
        "meta": {
            "resourceType": "User",
            "created": a.created_at.isoformat(),
            "lastModified": a.updated_at.isoformat(),
            "location": f"{base}/Users/{a.id}",
            "version": scim_etag(a.version),
        },
    }
    ext = _external_id(ctx, a) if external_id is _NOT_LOADED else external_id
    if ext:
        out["externalId"] = ext
    return out


def _protected(ctx: Ctx, a: Account, known: Any) -> str | None:
    if known is not _NOT_LOADED:
        return known
    return protections(ctx.caller, ctx.db, [a], ctx.services.clock.now()).get(a.id)


def _paging(start_index: int, count: int) -> tuple[int, int]:
    # RFC 7644 §3.4.2.4: startIndex < 1 is read as 1; count is capped by the provider.
    return max(start_index, 1), max(0, min(count, MAX_COUNT))


def _uses_external_id(expr) -> bool:
    if isinstance(expr, scim_filter.Compare):
        return expr.attr == "externalid"
    if isinstance(expr, scim_filter.Not):
        return _uses_external_id(expr.expr)
    return _uses_external_id(expr.left) or _uses_external_id(expr.right)


def list_users(ctx: Ctx, filter_text: str | None, start_index: int, count: int, base: str):
    # Every documented filter is served by an index on PostgreSQL (migrations 0011 and
    # 0016, decision 0029; tests/admin/test_search_indexes.py EXPLAINs them). The count
    # reads account alone (no agency, no externalId join unless filtered on).
    scope = ctx.scope("accounts:read")
    start, count = _paging(start_index, count)
    expr = scim_filter.parse(filter_text) if filter_text else None
    dialect = ctx.db.get_bind().dialect.name
    stmt = scope.apply(select(Account), Account.agency_id).where(Account.status != "deleted")
    counter = scope.apply(select(func.count(Account.id)), Account.agency_id).where(
        Account.status != "deleted"
    )
    matching = scope.apply(select(Account.id, Account.created_at), Account.agency_id).where(
        Account.status != "deleted"
    )
    if expr is not None:
        if _uses_external_id(expr):
            join = (AccountExternalId, AccountExternalId.account_id == Account.id)
            stmt, counter = stmt.outerjoin(*join), counter.outerjoin(*join)
            matching = matching.outerjoin(*join)
        cond = scim_filter.compile_filter(expr, USER_COLUMNS, dialect=dialect)
        stmt, counter, matching = stmt.where(cond), counter.where(cond), matching.where(cond)
    if expr is not None and dialect == "postgresql":
        # The matches once (the filter's index), counted and sorted: under a LIMIT
        # PostgreSQL would walk (created_at, id) testing each row, the whole table when
        # the matches lie late (externalId co "HR-23", 240,000 accounts: 2.4 s).
        found = matching.cte("matches").prefix_with("MATERIALIZED")
        picked = ctx.db.execute(
            select(found.c.id, func.count().over())
            .order_by(found.c.created_at, found.c.id)
            .offset(start - 1)
            .limit(count)
        ).all()
        total = picked[0][1] if picked else ctx.db.scalar(counter)
        order = {i: n for n, (i, _) in enumerate(picked)}
        page = select(Account).where(Account.id.in_(order))
        rows = (
            sorted(ctx.db.scalars(page).unique().all(), key=lambda a: order[a.id]) if picked else []
        )
    else:
        # Unfiltered: the exact count kept by triggers (idp.accounts.tally), not a count
        # of every account in scope (RFC 7644 §3.4.2: totalResults is the number).
        total = ctx.db.scalar(counter) if expr is not None else tally.not_deleted(ctx.db, scope)
        page = stmt.order_by(Account.created_at, Account.id).offset(start - 1).limit(count)
        rows = list(ctx.db.scalars(page).unique().all()) if count and total else []
    ids = [a.id for a in rows]
    ext = dict(
        ctx.db.execute(
            select(AccountExternalId.account_id, AccountExternalId.external_id).where(
                AccountExternalId.account_id.in_(ids)
            )
        ).all()
        if ids
        else []
    )
    guarded = protections(ctx.caller, ctx.db, list(rows), ctx.services.clock.now())  # one query
    return {
        "schemas": [LIST],
        "totalResults": total,
        "startIndex": start,
        "itemsPerPage": len(rows),
        "Resources": [user_resource(ctx, a, base, ext.get(a.id), guarded.get(a.id)) for a in rows],
    }


def get_user(ctx: Ctx, user_id: str) -> Account:
    account = admin_accounts.get(ctx, user_id)
    if account.status == "deleted":
        raise NotFound("no such user", field="id")
    return account


def _set_external_id(ctx: Ctx, account: Account, value: str | None, *, new: bool = False) -> None:
    """Store (or, with None or "", remove) the account's externalId. A change bumps the
    account's version (its ETag) and is audited like any other change."""
    row = ctx.db.get(AccountExternalId, account.id)
    current = row.external_id if row is not None else None
    value = value or None
    if value == current:
        return
    if value is None:
        ctx.db.delete(row)
    elif row is None:
        ctx.db.add(AccountExternalId(account_id=account.id, external_id=value))
    else:
        row.external_id = value
    if new:  # part of the creation (its audit event and first version)
        ctx.db.flush()
        return
    admin_accounts.touch(ctx, account, ["external_id"])


def _department(ctx: Ctx, values: dict[str, Any]) -> str:
    if values.get("department"):
        return values["department"]
    caller = ctx.caller
    if caller.agency is not None:
        return caller.agency.code
    raise ScimInvalid(
        f"{ENTERPRISE}:department (the agency code) is required", "invalidValue", "department"
    )


def create_user(ctx: Ctx, body: dict[str, Any]):
    values = parse.read_user(body)
    email = values.get("primary_email") or values.get("user_name")
    if not email:
        raise ScimInvalid("userName is required", "invalidValue", "userName")
    created = admin_accounts.create(
        ctx,
        accounts.NewAccount(
            email=email,
            agency_code=_department(ctx, values),
            given_name_en=values.get("given_name_en", ""),
            family_name_en=values.get("family_name_en", ""),
            given_name_th=values.get("given_name_th", ""),
            family_name_th=values.get("family_name_th", ""),
            locale=values.get("locale", "th"),
            password=values.get("password"),
        ),
    )
    if values.get("external_id"):
        _set_external_id(ctx, created.account, values["external_id"], new=True)
    if values.get("active") is False:
        admin_accounts.suspend(ctx, created.account.id, "scim: active=false", None)
    return created


NAME_KEYS = ("given_name_en", "family_name_en", "given_name_th", "family_name_th", "locale")


def _apply(ctx: Ctx, account: Account, values: dict[str, Any]) -> Account:
    """Apply typed values (``parse.read_user``) through the admin services, which check
    the caller, guard operators' accounts, bump the version and audit."""
    dept = values.get("department")
    if dept is not None and dept.lower() != account.agency.code.lower():
        raise ScimInvalid(
            "department (agency) cannot be changed through SCIM", "mutability", "department"
        )
    user_name = values.get("user_name")
    if user_name is not None and user_name.lower() != account.email:
        raise ScimInvalid("userName cannot be changed through SCIM", "mutability", "userName")
    changes = {k: values[k] for k in NAME_KEYS if k in values}
    if changes:
        admin_accounts.update(ctx, account.id, accounts.AccountChanges(**changes), None)
    if "external_id" in values:
        admin_accounts.writable(ctx, account.id, None)  # same checks as any change
        _set_external_id(ctx, account, values["external_id"])
    if "active" in values:
        active = values["active"]
        if active and account.status == "suspended":
            admin_accounts.resume(ctx, account.id, None)
        elif not active and account.status == "active":
            admin_accounts.suspend(ctx, account.id, "scim: active=false", None)
    return account


def replace_user(ctx: Ctx, user_id: str, body: dict[str, Any], expected) -> Account:
    account = get_user(ctx, user_id)
    check_version(account.version, expected)
    values = parse.read_user(body)
    values.pop("password", None)  # changePassword is not supported (ServiceProviderConfig)
    values.pop("primary_email", None)
    return _apply(ctx, account, values)


def _operation(op: Any) -> dict[str, Any]:
    """One PATCH operation (RFC 7644 §3.5.2) as typed values."""
    if not isinstance(op, dict):
        raise ScimInvalid("each operation is an object", "invalidSyntax", "Operations")
    kind = op.get("op")
    kind = kind.lower() if isinstance(kind, str) else kind
    path, value = op.get("path"), op.get("value")
    if kind not in ("add", "replace", "remove"):
        raise ScimInvalid(f"unknown op {op.get('op')!r}", "invalidSyntax", "op")
    if kind == "remove":
        if path is None:
            raise ScimInvalid("remove needs a path", "noTarget", "path")
        key = parse.removable(path)
        return {key: "" if key in NAME_KEYS else None}
    if path is None:
        if not isinstance(value, dict):
            raise ScimInvalid("without a path, value is an object", "invalidValue", "value")
        values = parse.read_user(value, patch=True)
    else:
        values = parse.read_user(parse.path_body(path, value), patch=True)
    if "password" in values:
        raise ScimInvalid("password cannot be changed through SCIM", "mutability", "password")
    return values


def patch_user(ctx: Ctx, user_id: str, body: dict[str, Any], expected) -> Account:
    schemas = body.get("schemas")
    if not isinstance(schemas, list) or PATCH_OP not in schemas:
        raise ScimInvalid(f"a PATCH body names the schema {PATCH_OP}", "invalidSyntax", "schemas")
    ops = body.get("Operations")
    if not isinstance(ops, list) or not ops:
        raise ScimInvalid("Operations must be a non-empty list", "invalidSyntax", "Operations")
    if len(ops) > MAX_OPERATIONS:
        raise ScimInvalid(f"at most {MAX_OPERATIONS} operations", "invalidValue", "Operations")
    parsed = [_operation(op) for op in ops]  # every operation is checked before any applies
    account = get_user(ctx, user_id)
    check_version(account.version, expected)
    for values in parsed:
        _apply(ctx, account, values)
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
