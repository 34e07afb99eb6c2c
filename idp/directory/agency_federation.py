"""Per-agency federation settings (operator only) and the account-level sign-in call.

The login page calls ``authenticate_account``: ``None`` means "this agency is not
federated, check the local password"; otherwise a ``FederationResult``.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.config.ldap import plain_remote_allowed
from idp.crypto import DataCipher
from idp.directory.federation import (
    DEFAULT_SEARCH_FILTER,
    FederationConfig,
    FederationResult,
    Outcome,
    authenticate,
)
from idp.directory.models import AgencyFederation
from idp.errors import InvalidInput, NotFound

if TYPE_CHECKING:
    from idp.accounts.models import Account

log = logging.getLogger("idp.directory.federation")

PASSWORD_PURPOSE = "agency_federation.service_password"  # noqa: S105 (a label)


@dataclass(frozen=True)
class FederationInput:
    servers: Sequence[str]
    start_tls: bool = True
    allow_plain: bool = False
    ca_pem: str | None = None
    bind_dn_template: str | None = None
    search_base: str | None = None
    search_filter: str | None = None
    service_bind_dn: str | None = None
    # None keeps the stored password; "" removes it.
    service_password: str | None = None
    timeout_seconds: int = 5
    fallback_to_local: bool = False


def _to_config(row: AgencyFederation, cipher: DataCipher) -> FederationConfig:
    password = None
    if row.service_password_enc:
        password = cipher.decrypt(row.service_password_enc, PASSWORD_PURPOSE).decode()
    return FederationConfig(
        servers=tuple(row.servers or ()),
        start_tls=row.start_tls,
        allow_plain=row.allow_plain,
        ca_pem=row.ca_pem,
        bind_dn_template=row.bind_dn_template,
        search_base=row.search_base,
        search_filter=row.search_filter or DEFAULT_SEARCH_FILTER,
        service_bind_dn=row.service_bind_dn,
        service_password=password,
        timeout=float(row.timeout_seconds),
        fallback_to_local=row.fallback_to_local,
        allow_plain_remote=plain_remote_allowed(),
    )


def configure(
    session: Session,
    agency_code: str,
    data: FederationInput,
    *,
    cipher: DataCipher,
    actor: str | None = None,
) -> AgencyFederation:
    """Create or replace an agency's federation settings (operators only)."""
    agency = agencies.get_by_code(session, agency_code)
    if not 1 <= data.timeout_seconds <= 60:
        raise InvalidInput("timeout must be 1-60 seconds", field="timeout_seconds")
    row = session.get(AgencyFederation, agency.id) or AgencyFederation(agency_id=agency.id)
    password_enc = row.service_password_enc
    if data.service_password is not None:
        password_enc = (
            cipher.encrypt(data.service_password.encode(), PASSWORD_PURPOSE)
            if data.service_password
            else None
        )
    values: dict[str, Any] = dict(
        enabled=True,
        servers=[s.strip() for s in data.servers],
        start_tls=data.start_tls,
        allow_plain=data.allow_plain,
        ca_pem=data.ca_pem,
        bind_dn_template=data.bind_dn_template or None,
        search_base=data.search_base or None,
        search_filter=data.search_filter or None,
        service_bind_dn=data.service_bind_dn or None,
        service_password_enc=password_enc,
        timeout_seconds=data.timeout_seconds,
        fallback_to_local=data.fallback_to_local,
        updated_by=actor,
    )
    for k, v in values.items():
        setattr(row, k, v)
    try:
        _to_config(row, cipher)  # the same checks the login path will make
    except ValueError as exc:
        raise InvalidInput(
            f"federation settings: {exc}", field=getattr(exc, "field", "federation")
        ) from None
    session.add(row)
    session.flush()
    audit.record(
        session,
        "admin.agency.federation_configured",
        actor=actor,
        agency_id=agency.id,
        subject=agency.code,
        details={
            "servers": row.servers,
            "transport": "plain" if (row.allow_plain and not row.start_tls) else "tls",
            "mode": "bind_dn_template" if row.bind_dn_template else "search_then_bind",
            "fallback_to_local": row.fallback_to_local,
        },
    )
    return row


def disable(session: Session, agency_code: str, *, actor: str | None = None) -> AgencyFederation:
    agency = agencies.get_by_code(session, agency_code)
    row = session.get(AgencyFederation, agency.id)
    if row is None:
        raise NotFound(f"agency {agency.code} has no federation settings", field="agency")
    row.enabled = False
    row.updated_by = actor
    session.flush()
    audit.record(
        session,
        "admin.agency.federation_disabled",
        actor=actor,
        agency_id=agency.id,
        subject=agency.code,
    )
    return row


def get(session: Session, agency_code: str) -> AgencyFederation | None:
    return session.get(AgencyFederation, agencies.get_by_code(session, agency_code).id)


def effective(session: Session, agency: Agency) -> AgencyFederation | None:
    """The nearest row on the way up from ``agency`` (itself first); disabled counts as
    "not federated" and stops the walk, so a sub-agency can opt out.

    One statement whatever the depth (every sign-in asks; decision 0014): the materialised
    path names the agency and its ancestors, root first, so the rows of the whole way
    up are read at once (was: the ancestors, then one read per level)."""
    ids = [uuid.UUID(hex=part) for part in (agency.path or "").strip("/").split("/") if part]
    if agency.id not in ids:
        ids.append(agency.id)
    rows = {
        row.agency_id: row
        for row in session.scalars(
            select(AgencyFederation).where(AgencyFederation.agency_id.in_(ids))
        )
    }
    for agency_id in reversed(ids):  # itself first, then up towards the root
        row = rows.get(agency_id)
        if row is not None:
            return row if row.enabled else None
    return None


def config_for(session: Session, agency: Agency, *, cipher: DataCipher) -> FederationConfig | None:
    row = effective(session, agency)
    return _to_config(row, cipher) if row else None


def authenticate_account(
    session: Session, account: Account, password: str, *, cipher: DataCipher
) -> FederationResult | None:
    """Sign-in for ``account`` against its agency's directory, or ``None`` when the
    agency is not federated (then the local password applies)."""
    try:
        config = config_for(session, account.agency, cipher=cipher)
    except ValueError as exc:
        # Stored before these settings were checked (or the rules got stricter): the
        # operator must fix them; the user gets "try again later", never a traceback.
        log.error("federation settings of %s unusable: %s", account.agency.code, exc)
        return FederationResult(Outcome.UNAVAILABLE, reason="bad_configuration")
    if config is None:
        return None
    return authenticate(config, account.email, password)


def as_dict(row: AgencyFederation) -> dict[str, Any]:
    return {
        "agency_id": str(row.agency_id),
        "enabled": row.enabled,
        "servers": row.servers,
        "start_tls": row.start_tls,
        "allow_plain": row.allow_plain,
        "ca_pem": bool(row.ca_pem),
        "bind_dn_template": row.bind_dn_template,
        "search_base": row.search_base,
        "search_filter": row.search_filter,
        "service_bind_dn": row.service_bind_dn,
        "service_password": "set" if row.service_password_enc else None,
        "timeout_seconds": row.timeout_seconds,
        "fallback_to_local": row.fallback_to_local,
        "updated_by": row.updated_by,
        "updated_at": row.updated_at,
    }
