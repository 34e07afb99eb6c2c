"""The registry of audit event types: ``source.subject.action``.

Every event written must be listed here; ``idp.audit.service.record`` refuses others.
The value documents the fields that ``details`` carries.
"""

from __future__ import annotations

EVENT_TYPES: dict[str, str] = {
    # OIDC / sign-in
    "oidc.login.succeeded": "acr, amr, method",
    "oidc.login.failed": "reason (unknown_or_wrong_password | locked | suspended)",
    "oidc.token.issued": "grant_type, scope, jti",
    "oidc.refresh.reused": "family",
    "oidc.token.revoked": "token_type, jti",
    "oidc.code.replayed": "revoked_count",
    "oidc.consent.granted": "scope",
    "oidc.logout": "reason, clients",
    # Administration
    "admin.agency.created": "code, parent",
    "admin.agency.updated": "changed (field names)",
    "admin.agency.moved": "from_parent, to_parent",
    "admin.account.created": "email, agency",
    "admin.account.updated": "changed (field names)",
    "admin.account.suspended": "reason",
    "admin.account.resumed": "",
    "admin.account.deleted": "",
    "admin.account.password_reset": "",
    "admin.role.granted": "role, agency, expires_at",
    "admin.role.revoked": "role, agency",
    "admin.client.created": "client_id, auth_method, redirect_uris",
    "admin.client.updated": "changed (field names)",
    "admin.client.secret_rotated": "client_id",
    # Keys
    "keys.key.created": "kid, alg, state",
    "keys.key.rotated": "activated, retired",
    # System
    "system.bootstrap.completed": "agencies, accounts, clients",
    # Audit itself
    "audit.export.created": "format, filters, count",
    "audit.checkpoint.created": "seq, hash",
    "audit.purge.completed": "before, count",
}


def is_known(event_type: str) -> bool:
    return event_type in EVENT_TYPES
