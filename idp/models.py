"""Import every model so ``Base.metadata`` is complete (Alembic, tests)."""

from idp.accounts import indexes as _search_indexes  # noqa: F401 (search indexes)
from idp.accounts.importing.models import ImportJob
from idp.accounts.models import Account, AccountExternalId, AccountToken, RoleGrant
from idp.agencies.models import Agency, AgencyLogo
from idp.audit.models import AuditEvent
from idp.clients.models import Client
from idp.credentials.models import MfaCredential, ThrottleEntry
from idp.db import Base
from idp.directory.models import OutboxEntry
from idp.idempotency.models import IdempotencyRecord
from idp.keys.models import SigningKey
from idp.resources.models import ApiResource, ApiScope
from idp.sessions.models import LogoutDelivery, SessionClient, SsoSession
from idp.tokens.models import AuthCode, Consent, Grant, RefreshToken, ReplayEntry, RevokedToken

__all__ = [
    "Account",
    "AccountExternalId",
    "AccountToken",
    "Agency",
    "AgencyLogo",
    "ApiResource",
    "ApiScope",
    "AuthCode",
    "Consent",
    "Grant",
    "IdempotencyRecord",
    "ImportJob",
    "LogoutDelivery",
    "MfaCredential",
    "ThrottleEntry",
    "RefreshToken",
    "ReplayEntry",
    "RevokedToken",
    "SessionClient",
    "SsoSession",
    "AuditEvent",
    "Base",
    "Client",
    "OutboxEntry",
    "RoleGrant",
    "SigningKey",
]
