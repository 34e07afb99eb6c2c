"""Role grants: recording one (``record_grant``: the row and its audit event, once for
every caller), granting as the system does (bootstrap, tests and benches: idempotent, no
authority checked) and the grants an account holds now. The admin API's and the CLI's
grant and revoke, with the caller's authority, are ``idp.accounts.manage_roles``, which
records through the same function. No web framework here."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.models import ROLES, Account, RoleGrant
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.errors import Conflict, InvalidInput

ALREADY_HELD = "this account already holds this role for this agency"


def check_role(role: str) -> None:
    if role not in ROLES:
        raise InvalidInput(f"role must be one of {', '.join(ROLES)}", field="role")


def held(session: Session, account: Account, role: str, agency: Agency) -> RoleGrant | None:
    """The account's grant of ``role`` over ``agency``, if it has one (expired or not)."""
    return session.scalar(
        select(RoleGrant).where(
            RoleGrant.account_id == account.id,
            RoleGrant.role == role,
            RoleGrant.agency_id == agency.id,
        )
    )


def record_grant(
    session: Session,
    account: Account,
    role: str,
    agency: Agency,
    *,
    granted_by: Account | None,
    actor: str,
    expires_at: dt.datetime | None,
) -> RoleGrant:
    """Insert the grant and audit ``admin.role.granted``; the caller has checked that it
    may and that the account holds no such grant (a concurrent identical one is a
    Conflict, caught by the table's unique key)."""
    grant = RoleGrant(
        account_id=account.id,
        role=role,
        agency_id=agency.id,
        granted_by=granted_by.id if granted_by else None,
        expires_at=expires_at,
    )
    session.add(grant)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(ALREADY_HELD, field="role") from None
    audit.record(
        session,
        "admin.role.granted",
        actor=actor,
        agency_id=agency.id,
        subject=str(account.id),
        details={
            "role": role,
            "agency": agency.code,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    return grant


def grant_role(
    session: Session,
    account: Account,
    role: str,
    agency: Agency,
    *,
    granted_by: Account | None = None,
    expires_at: dt.datetime | None = None,
) -> RoleGrant:
    """As the system grants: a grant already held is returned as it is."""
    check_role(role)
    existing = held(session, account, role, agency)
    if existing:
        return existing
    actor = str(granted_by.id) if granted_by else "system"
    return record_grant(
        session,
        account,
        role,
        agency,
        granted_by=granted_by,
        actor=actor,
        expires_at=expires_at,
    )


def active_grants(session: Session, account: Account, now: dt.datetime) -> list[RoleGrant]:
    """The account's role grants unexpired at ``now`` (the Clock's, DESIGN rule 4)."""
    grants = session.scalars(select(RoleGrant).where(RoleGrant.account_id == account.id))
    return [g for g in grants if g.expires_at is None or g.expires_at > now]
