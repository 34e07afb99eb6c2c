"""Listing and searching accounts within the caller's subtree (issues 7 and 20): the
filters of ``GET /admin/v1/accounts``, the console's search words, the second-factor
and locked filters, keyset paging. No web framework here."""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select, text
from sqlalchemy.orm import Session

from idp.accounts.models import ACCOUNT_STATUSES, Account
from idp.authz.caller import agency_code_in_scope
from idp.authz.context import Ctx
from idp.credentials.models import MfaCredential
from idp.errors import InvalidInput
from idp.paging import Page, paginate

SORT_FIELDS = {
    "email": Account.email,
    "created_at": Account.created_at,
    "updated_at": Account.updated_at,
}


@dataclass(frozen=True)
class AccountFilter:
    status: str | None = None
    agency: str | None = None  # code; includes its subtree
    email_prefix: str | None = None
    updated_since: dt.datetime | None = None
    # The console's search box: every word must begin a name (Thai or English) or the
    # email; four digits also match the citizen ID's last four.
    q: str | None = None
    has_second_factor: bool | None = None
    locked: bool | None = None


MAX_QUERY_WORDS = 4


def _second_factor_exists():
    return (
        select(MfaCredential.id)
        .where(
            MfaCredential.account_id == Account.id,
            MfaCredential.kind.in_(("totp", "webauthn")),
            MfaCredential.confirmed_at.is_not(None),
        )
        .exists()
    )


def _search(stmt, q: str):
    words = q.split()
    if not words or len(words) > MAX_QUERY_WORDS:
        raise InvalidInput(f"q must hold 1-{MAX_QUERY_WORDS} words", field="q")
    for word in words:
        # Prefix matches, each served by an index (migration 0010: text_pattern_ops on
        # PostgreSQL), so a search is a few index range scans. Emails are stored
        # lower-case; English names as written, so the usual spellings are tried
        # (somchai, Somchai, SOMCHAI); Thai has no case.
        forms = dict.fromkeys((word, word.lower(), word.capitalize(), word.upper()))
        terms = [Account.email.startswith(word.lower(), autoescape=True)]
        terms += [
            col.startswith(form, autoescape=True)
            for col in (
                Account.given_name_th,
                Account.family_name_th,
                Account.given_name_en,
                Account.family_name_en,
            )
            for form in forms
        ]
        if len(word) == 4 and word.isascii() and word.isdigit():
            terms.append(Account.citizen_id_last4 == word)
        stmt = stmt.where(or_(*terms))
    return stmt


def second_factor_ids(db: Session, ids: list[uuid.UUID]) -> set[uuid.UUID]:
    """Which of these accounts have a confirmed second factor (one query per page)."""
    if not ids:
        return set()
    return set(
        db.scalars(
            select(MfaCredential.account_id).where(
                MfaCredential.account_id.in_(ids),
                MfaCredential.kind.in_(("totp", "webauthn")),
                MfaCredential.confirmed_at.is_not(None),
            )
        )
    )


def list_accounts(
    ctx: Ctx, f: AccountFilter, *, sort: str = "email", cursor: str | None, limit: int
) -> Page:
    scope = ctx.scope("accounts:read")
    stmt = scope.apply(select(Account), Account.agency_id)
    if f.status:
        if f.status not in ACCOUNT_STATUSES:
            raise InvalidInput(
                f"status must be one of {', '.join(ACCOUNT_STATUSES)}", field="status"
            )
        stmt = stmt.where(Account.status == f.status)
    if f.agency:
        from idp.agencies.service import subtree_ids_stmt

        agency = agency_code_in_scope(ctx.db, scope, f.agency)
        stmt = stmt.where(Account.agency_id.in_(subtree_ids_stmt(agency)))
    if f.email_prefix:
        stmt = stmt.where(Account.email.startswith(f.email_prefix.lower(), autoescape=True))
    if f.updated_since:
        if f.updated_since.tzinfo is None:
            raise InvalidInput("updated_since needs a time zone", field="updated_since")
        stmt = stmt.where(Account.updated_at >= f.updated_since)
    if f.q is not None:
        stmt = _search(stmt, f.q)
    if f.has_second_factor is not None:
        exists = _second_factor_exists()
        stmt = stmt.where(exists if f.has_second_factor else ~exists)
    if (f.q is not None or f.email_prefix) and ctx.db.get_bind().dialect.name == "postgresql":
        # A prefix LIKE on a bound value uses its index only in a plan made for that
        # value. psycopg prepares a statement run five times, and PostgreSQL then keeps
        # a generic plan that cannot (measured at 240,000 accounts: 8-15 ms became
        # 60-70 ms from the sixth search on). Custom plans for this transaction only.
        ctx.db.execute(text("SET LOCAL plan_cache_mode = force_custom_plan"))
    if f.locked is not None:
        now = ctx.services.clock.now()  # locks were set on it (DESIGN rule 4)
        stmt = stmt.where(
            Account.locked_until > now
            if f.locked
            else or_(Account.locked_until.is_(None), Account.locked_until <= now)
        )
    return paginate(
        ctx.db,
        stmt,
        id_column=Account.id,
        sort_fields=SORT_FIELDS,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
