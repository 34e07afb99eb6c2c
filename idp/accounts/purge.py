"""Erasing the personal data of soft-deleted accounts (``idp accounts purge``, daily)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import delete as sql_delete
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import addresses
from idp.accounts.manage import remove_second_factors
from idp.accounts.models import Account, AccountToken, RoleGrant
from idp.audit import service as audit

PURGED_DOMAIN = "purged.invalid"


def purge_deleted(
    db: Session, *, older_than: dt.timedelta, now: dt.datetime, actor: str = "cli"
) -> int:
    """Erase the personal data of accounts soft-deleted more than ``older_than`` before
    ``now`` (the Clock's, DESIGN rule 4).

    The row stays (the audit trail names its id); email becomes ``<id>@purged.invalid``,
    names, citizen ID, password, aliases (held till now), tokens and role grants go."""
    cutoff = now - older_than
    rows = list(
        db.scalars(
            select(Account).where(
                Account.status == "deleted",
                Account.deleted_at <= cutoff,
                ~Account.email.endswith("@" + PURGED_DOMAIN),
            )
        )
    )
    for account in rows:
        deleted_at = account.deleted_at
        account.email = f"{account.id.hex}@{PURGED_DOMAIN}"
        for name in ("given_name_th", "family_name_th", "given_name_en", "family_name_en"):
            setattr(account, name, "")
        account.citizen_id_enc = account.citizen_id_hmac = account.citizen_id_last4 = None
        account.password_hash = None
        account.aliases = []
        db.execute(sql_delete(RoleGrant).where(RoleGrant.account_id == account.id))
        db.execute(sql_delete(AccountToken).where(AccountToken.account_id == account.id))
        remove_second_factors(db, account)
        db.flush()
        addresses.sync(db, account)  # its addresses and aliases are free again
        audit.record(
            db,
            "admin.account.purged",
            actor=actor,
            agency_id=account.agency_id,
            subject=str(account.id),
            details={"deleted_at": deleted_at.isoformat() if deleted_at else None},
        )
    return len(rows)
