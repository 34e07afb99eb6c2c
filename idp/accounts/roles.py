"""Role grants as the system makes them (bootstrap, tests and benches: idempotent, no
authority checked) and the grants an account holds now. The admin API's grant and
revoke, with the caller's authority, are ``idp.accounts.manage_roles``. No web
framework here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import ROLES, Account, RoleGrant
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.db import utcnow
from idp.errors import InvalidInput


def grant_role(
    session: Session,
    account: Account,
    role: str,
    agency: Agency,
    *,
    granted_by: Account | None = None,
    expires_at: dt.datetime | None = None,
) -> RoleGrant:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")
    existing = session.scalar(
        select(RoleGrant).where(
            RoleGrant.account_id == account.id,
            RoleGrant.role == role,
            RoleGrant.agency_id == agency.id,
        )
    )
    if existing:
        return existing
    grant = RoleGrant(
        account_id=account.id,
        role=role,
        agency_id=agency.id,
        granted_by=granted_by.id if granted_by else None,
        expires_at=expires_at,
    )
    session.add(grant)
    session.flush()
    audit.record(
        session,
        "admin.role.granted",
        actor=str(granted_by.id) if granted_by else "system",
        agency_id=agency.id,
        subject=str(account.id),
        details={
            "role": role,
            "agency": agency.code,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return grant


def active_grants(session: Session, account: Account) -> list[RoleGrant]:
    now = utcnow()
    grants = session.scalars(select(RoleGrant).where(RoleGrant.account_id == account.id))
    return [g for g in grants if g.expires_at is None or g.expires_at > now]
