"""Search indexes over accounts for SCIM filters and the admin API's sorts (migration
0011_search_indexes). Kept apart from the table definitions; imported by
``idp.models`` so Alembic's drift check sees them.

``info={"postgresql_only": True}``: trigram GIN indexes (pg_trgm) exist on PostgreSQL
only; idp/migrations/env.py leaves them out of the comparison on SQLite.
"""

from __future__ import annotations

from sqlalchemy import Index

from idp.accounts.models import Account, AccountExternalId

PG_ONLY = {"postgresql_only": True}

# SCIM lists in (created_at, id) order; the admin API's sort=created_at keyset.
Index("ix_account_created_at_id", Account.created_at, Account.id)
# userName / emails co, ew, sw (LIKE '%x%', '%x', 'x%'): trigram GIN.
Index(
    "ix_account_email_trgm",
    Account.email,
    postgresql_using="gin",
    postgresql_ops={"email": "gin_trgm_ops"},
    info=PG_ONLY,
)
Index(
    "ix_account_external_id_external_id_trgm",
    AccountExternalId.external_id,
    postgresql_using="gin",
    postgresql_ops={"external_id": "gin_trgm_ops"},
    info=PG_ONLY,
)
# Expression indexes Alembic cannot compare with a model, made by their migration and
# left out of the drift check (idp/migrations/env.py): userName ew is a prefix of the
# reversed address, `reverse(email) text_pattern_ops` (idp/admin/scim/filter.py).
UNMODELLED = frozenset({"ix_account_email_reverse"})
