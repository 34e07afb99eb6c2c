"""A person's consent to an app (OIDC Core §3.1.2.4): the scopes they allowed it, kept
so that the next sign-in to the same app does not ask again."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.db import utcnow
from idp.tokens.models import Consent


def grant(
    db: Session,
    account: Account,
    client_id: str,
    scopes: list[str],
    *,
    session_id: str | None = None,
    ip: str | None = None,
) -> None:
    """The person allowed ``client_id`` these scopes (added to what they allowed it
    before); audited as ``oidc.consent.granted``."""
    row = db.get(Consent, (account.id, client_id))
    if row is None:
        db.add(Consent(account_id=account.id, client_id=client_id, scopes=sorted(set(scopes))))
    else:
        row.scopes = sorted(set(row.scopes or []) | set(scopes))
        row.granted_at = utcnow()
    db.flush()
    audit.record(
        db,
        "oidc.consent.granted",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        client_id=client_id,
        session_id=session_id,
        ip=ip,
        details={"scope": " ".join(scopes)},
    )
