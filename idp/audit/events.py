"""The registry of audit event types: ``source.subject.action``.

Every event written must be listed here; ``idp.audit.service.record`` refuses others, and
refuses ``details`` keys that the entry does not document. Each value is the field list of
``details``: comma-separated names, each optionally followed by a note in parentheses.
``docs/audit.md`` shows the same table (a test keeps the two in step).

Conventions for the columns (not ``details``): ``actor`` is who did it (an account id, a
client id, ``system`` or ``cli``); ``subject`` is what it was done to (an account id for
sign-in and account events); ``agency_id`` is the agency the event belongs to, so the
auditor of that agency's subtree sees it.
"""

from __future__ import annotations

import re
from functools import cache

EVENT_TYPES: dict[str, str] = {
    # OIDC / sign-in (subject = account id, client_id = the relying party)
    "oidc.login.succeeded": "acr, amr, method",
    "oidc.login.failed": (
        "reason (unknown_or_wrong_password | throttled | suspended | deleted | "
        "directory_unavailable | password_hash_out_of_bounds | unknown_passkey | "
        "passkey_not_verified), method (passkey; absent for a password)"
    ),
    "oidc.token.issued": (
        "grant_type, scope, jti, refresh, resource (the API the token is for, its aud; "
        "absent for GovID itself)"
    ),
    "oidc.token.refused": (
        "error (the OAuth error code, RFC 6749 §5.2), grant_type, "
        "reason (what the server saw; the answer to the client names none), "
        "suppressed (refusals from the same address and client not recorded one by one "
        "since the previous recorded one)"
    ),
    "oidc.refresh.reused": "grant, reason, revoked_refresh_tokens",
    "oidc.token.revoked": "token_type, jti, grant, reason, revoked_refresh_tokens",
    "oidc.code.replayed": "grant, reason, revoked_refresh_tokens",
    "oidc.consent.granted": "scope",
    "oidc.logout": "reason, clients, notified",
    "oidc.login.stepped_up": "acr, amr, method (totp | recovery | webauthn)",
    "oidc.mfa.failed": "method (totp | recovery | webauthn), reason",
    "oidc.account.locked": "scope (account | ip), failures, until",
    "oidc.account.unlocked": "scope (account | ip), by (time | admin | password_reset)",
    # Credentials (subject = account id; actor = the account itself or an admin)
    "credentials.password.changed": (
        "by (self | admin | reset | recovery), sessions_ended, method (recovery: totp | "
        "recovery_code | webauthn), notified_to (self, recovery: the address told), "
        "notification (handed to the mail relay after commit | not sent: no relay)"
    ),
    "credentials.password.recovery_failed": "method (totp | recovery_code | webauthn), reason",
    "credentials.password.rehashed": "from_scheme",
    "credentials.totp.enrolled": "credential",
    "credentials.totp.removed": "credential",
    "credentials.webauthn.registered": "credential, label, passkey (discoverable)",
    "credentials.webauthn.removed": "credential",
    "credentials.recovery.regenerated": "count",
    "credentials.recovery.used": "remaining",
    # Administration (subject = the account, agency or client changed)
    "admin.agency.created": "code, parent",
    "admin.agency.updated": "changed (field names), before, after (helpdesk contact only)",
    "admin.agency.moved": "from_parent, to_parent",
    "admin.agency.logo_set": "content_type, bytes, sha256, before (the previous sha256)",
    "admin.agency.logo_removed": "sha256",
    "admin.account.created": "email, agency",
    "admin.account.updated": "changed (field names)",
    "admin.account.suspended": "reason",
    "admin.account.resumed": "reason (optional)",
    "admin.account.deleted": "reason (optional)",
    "admin.account.password_reset": "",
    "admin.role.granted": "role, agency, expires_at",
    "admin.role.revoked": "role, agency",
    "admin.client.created": "client_id, auth_method, redirect_uris, policy_uri (when set)",
    "admin.client.updated": (
        "changed (field names), redirect_uris, post_logout_redirect_uris, "
        "backchannel_logout_uri, policy_uri (each {before, after}, when it changed)"
    ),
    "admin.client.secret_rotated": "client_id",
    # Admin API (actor = account id of the admin, or the client_id of a machine)
    "admin.agency.deleted": "code",
    "admin.account.link_issued": "purpose (activate | reset), expires_at",
    "admin.account.mfa_reset": "credentials (count removed), sessions (count ended)",
    "admin.account.sessions_ended": "sessions (count ended), sid (when one session was named)",
    "admin.account.purged": "deleted_at (when the account was soft-deleted)",
    "admin.request.denied": (
        "method, path (the route, ids as placeholders; subject holds the id named), "
        "reason (forbidden | insufficient_scope | operator | role_outside_scope | "
        "outside_scope | ...)"
    ),
    "admin.client.disabled": "client_id",
    "admin.client.enabled": "client_id",
    # API resources (RFC 8707; subject = the API's id, client_id = its introspection client)
    "admin.api.created": (
        "identifier, scopes, shared_with (agency | subtree | all), introspection"
    ),
    "admin.api.updated": (
        "changed (field names), scopes, shared_with (each {before, after}, when it changed)"
    ),
    "admin.api.secret_rotated": "client_id",
    "admin.api.disabled": "identifier",
    "admin.api.enabled": "identifier",
    "admin.import.checked": (
        "import_id, mode, dry_run, rows, failed, conflicts (rows whose address or citizen "
        "ID another account holds; which account is never said)"
    ),
    "admin.import.completed": (
        "import_id, mode (all_or_nothing | per_row), chunk (1-based), rows, created, failed, "
        "agencies (codes, at most 20), schemes (count per password-hash scheme; one summary "
        "event per chunk of a bulk import stands for its rows' admin.account.created events)"
    ),
    "admin.agency.federation_configured": (
        "servers, transport (tls | plain), mode (bind_dn_template | search_then_bind), "
        "fallback_to_local"
    ),
    "admin.agency.federation_disabled": "",
    "admin.agency.federation_tested": (
        "reason (ok | unreachable | tls_failed | bind_refused | service_bind_refused | "
        "invalid_credentials | refused_by_outbound_policy | ...), server, refused_servers "
        "(hosts the outbound policy kept GovID from), with_login (never a password)"
    ),
    # Mail directory (subject = account id)
    "directory.outbox.parked": "outbox_id, op, error (the LDAP error; never a secret)",
    "directory.outbox.retried": "outbox_ids, count, was (parked | pending)",
    "directory.reconcile.fixed": (
        "agency, missing, unexpected, different, orphan, duplicate (counts), "
        "failed (fixes that could not be made)"
    ),
    # Keys
    "keys.key.created": "kid, alg, state",
    "keys.key.rotated": "activated, retired",
    "keys.key.revoked": "kid, alg, was (its state), reason, activated, created",
    "keys.data_key.rotated": (
        "key_id (the data key now encrypting), previous_key_ids, rewritten ([column, rows] "
        "pairs), total, left ([column, rows] busy during the run), seconds"
    ),
    # System
    "system.bootstrap.completed": "agencies, accounts, clients",
    "system.maintenance.completed": (
        "purged ([table, rows removed] pairs, tables with none left out), total, "
        "incomplete (tables with expired rows left for the next run), seconds"
    ),
    # Audit itself (subject = export id for exports)
    "audit.export.created": (
        "export_id, format, bom, filters (as given, agency by code), scope (agency code of the "
        "caller's subtree or null), up_to_seq (chain head when the export began), count, "
        "first_seq, first_hash, last_seq, last_hash, sha256 (of the file), bytes, "
        "complete (false when the download stopped early)"
    ),
    "audit.checkpoint.created": "seq, hash, kid, reason (manual | periodic)",
    "audit.chain.verified": (
        "kind (full | range | new_events), first_seq, last_seq, head_seq, checked_events, "
        "checked_checkpoints, independent_keys (checked with a key set kept off the "
        "database), first_bad_seq, problem (failures: the first break's code)"
    ),
    "audit.purge.completed": (
        "before (cutoff, UTC), retention_days, count, first_seq, last_seq (the boundary "
        "signed by the purge checkpoint), hash (of last_seq), kid"
    ),
}

# Two or three parts: `oidc.logout` predates the three-part rule and is kept as named.
_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*){1,2}$")
_FIELD_RE = re.compile(r"^([a-z][a-z0-9_]*)(\s*\(.*\))?$", re.DOTALL)


def _split_top(spec: str) -> list[str]:
    """Split on commas outside parentheses."""
    parts: list[str] = []
    cur: list[str] = []
    depth = 0
    for ch in spec:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    parts.append("".join(cur))
    return [p.strip() for p in parts if p.strip()]


@cache
def fields(event_type: str) -> frozenset[str]:
    """The documented ``details`` keys of a registered type."""
    names = []
    for part in _split_top(EVENT_TYPES[event_type]):
        m = _FIELD_RE.match(part)
        if not m:
            raise ValueError(f"{event_type}: cannot read field {part!r} in the registry")
        names.append(m.group(1))
    return frozenset(names)


def field_docs(event_type: str) -> list[tuple[str, str]]:
    """(name, note) pairs, for documentation."""
    out = []
    for part in _split_top(EVENT_TYPES[event_type]):
        m = _FIELD_RE.match(part)
        assert m is not None
        out.append((m.group(1), (m.group(2) or "").strip()[1:-1]))
    return out


def is_known(event_type: str) -> bool:
    return event_type in EVENT_TYPES


def check_registry() -> None:
    """Every name is ``source.subject.action`` and every field list parses."""
    for name in EVENT_TYPES:
        if not _NAME_RE.match(name):
            raise ValueError(f"event type {name!r} is not source[.subject].action")
        fields(name)
