"""Listing what an agency registers (apps, APIs) within the caller's subtree: the rows
of the caller's scope, by status and an agency's subtree, a page at a time. No web
framework here."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from idp.authz.caller import agency_code_in_scope
from idp.authz.context import Ctx
from idp.errors import InvalidInput
from idp.paging import Page, paginate


def list_registered(
    ctx: Ctx,
    model: Any,
    *,
    sort_fields: dict[str, Any],
    status: str | None,
    agency: str | None,
    sort: str,
    cursor: str | None,
    limit: int,
) -> Page:
    """``model`` has ``id``, ``agency_id`` and ``status`` (active or disabled); read
    with the ``clients:read`` permission (APIs are managed like apps)."""
    scope = ctx.scope("clients:read")
    stmt = scope.apply(select(model), model.agency_id)
    if status:
        if status not in ("active", "disabled"):
            raise InvalidInput("status must be active or disabled", field="status")
        stmt = stmt.where(model.status == status)
    if agency:
        from idp.agencies.service import subtree_ids_stmt

        root = agency_code_in_scope(ctx.db, scope, agency)
        stmt = stmt.where(model.agency_id.in_(subtree_ids_stmt(root)))
    return paginate(
        ctx.db,
        stmt,
        id_column=model.id,
        sort_fields=sort_fields,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
