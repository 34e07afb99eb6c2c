"""Client (app) administration within the caller's subtree. Registration goes through
``idp.clients.service.create`` (redirect-URI rules, secret shown once, stored hashed).
No web framework here."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.authz.caller import agency_code_in_scope
from idp.authz.context import Ctx, check_version
from idp.authz.listing import list_registered
from idp.authz.scope import ADMIN_SCOPES
from idp.clients import rules
from idp.clients import service as clients
from idp.clients.models import Client
from idp.clients.service import ClientChanges
from idp.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    OutsideScope,
    PermissionDenied,
    ScopeNotHeld,
)
from idp.paging import Page

SORT_FIELDS = {"client_id": Client.client_id, "created_at": Client.created_at}
# Scopes an agency may give its own apps; anything else (citizen_id, resource servers,
# first-party consent skipping) is for operators. What a scope is at all, and every other
# rule of a registration, is idp.clients.service's (the CLI uses the same).
OPERATOR_SCOPES = frozenset({"citizen_id"})
AGENCY_SCOPES = rules.KNOWN_SCOPES - OPERATOR_SCOPES
__all__ = ["ClientChanges"]


def _limits(ctx: Ctx) -> rules.Limits:
    return rules.Limits.of(ctx.services.settings)


def get(ctx: Ctx, client_id: str, permission: str = "clients:read") -> Client:
    scope = ctx.scope(permission)
    client = ctx.db.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise NotFound("no such client", field="client_id")
    if not scope.covers(ctx.db.get_one(Agency, client.agency_id)):
        raise OutsideScope("no such client", field="client_id")  # answered alike, audited
    return client


def list_clients(
    ctx: Ctx, *, status: str | None, agency: str | None, sort: str, cursor: str | None, limit: int
) -> Page:
    return list_registered(
        ctx,
        Client,
        sort_fields=SORT_FIELDS,
        status=status,
        agency=agency,
        sort=sort,
        cursor=cursor,
        limit=limit,
    )


def _check_scopes(ctx: Ctx, scopes: Sequence[str]) -> list[str]:
    """The caller's authority over scopes (the vocabulary is checked by the service)."""
    allowed = AGENCY_SCOPES | (OPERATOR_SCOPES if ctx.caller.is_operator else frozenset())
    # Scopes of registered APIs are not GovID's to withhold: the service checks that the
    # API is shared with the client's agency (decision 0011).
    bad = [s for s in scopes if s not in allowed and s in rules.KNOWN_SCOPES]
    if bad:
        raise InvalidInput(f"scope(s) not allowed: {', '.join(bad)}", field="scopes")
    return sorted(set(scopes))


def _not_held(ctx: Ctx, scopes: Sequence[str] | None, agency: Agency) -> list[str]:
    """The admin/SCIM scopes among ``scopes`` that the caller does not hold over ``agency``."""
    wanted = {s for s in scopes or () if s in ADMIN_SCOPES}
    return sorted(s for s in wanted if not ctx.caller.holds_scope(s, agency))


def _refuse(
    ctx: Ctx,
    missing: list[str],
    event_type: str,
    agency: Agency,
    details: dict,
    message: str,
    client_id: str | None = None,
) -> None:
    """Record the refused attempt (outcome ``denied``) and raise ``ScopeNotHeld``. The
    route answers the error without raising, so the denial is committed."""
    audit.record(
        ctx.db,
        event_type,
        outcome="denied",
        actor=ctx.actor,
        agency_id=agency.id,
        client_id=client_id,
        details=details,
    )
    raise ScopeNotHeld(missing, message)


def _require_held(
    ctx: Ctx,
    scopes: Sequence[str] | None,
    agency: Agency,
    event_type: str,
    details: dict,
    *,
    client_id: str | None = None,
    giving: bool = True,
) -> None:
    """Refuse (audited) unless the caller holds every admin/SCIM scope in ``scopes`` over
    ``agency``: to give them to a client (``giving``), or to manage a client that has them
    (else it could take its secret or redirect URIs, and so its scopes)."""
    missing = _not_held(ctx, scopes, agency)
    if missing:
        what = (
            "you cannot give a client scope(s) you do not hold yourself: "
            if giving
            else "this client holds scope(s) you do not hold yourself: "
        )
        _refuse(ctx, missing, event_type, agency, details, what + ", ".join(missing), client_id)


def _guard_held(ctx: Ctx, client: Client, event_type: str, details: dict) -> Agency:
    agency = ctx.db.get_one(Agency, client.agency_id)
    _require_held(
        ctx, client.scopes, agency, event_type, details, client_id=client.client_id, giving=False
    )
    return agency


def _operator_only_if_first_party(ctx: Ctx, client: Client) -> None:
    """A first-party app skips the consent page for every agency's people: whoever
    changes its redirect URIs or takes its secret receives their claims without consent.
    So only operators, who alone may register one, may change, re-key or disable it
    (decision 0013)."""
    if client.first_party and not ctx.caller.is_operator:
        raise PermissionDenied("only operators may change a first-party app")


def create(ctx: Ctx, data: clients.NewClient) -> tuple[Client, str | None]:
    scope = ctx.scope("clients:write")
    agency = agency_code_in_scope(ctx.db, scope, data.agency_code)
    if data.first_party and not ctx.caller.is_operator:
        raise PermissionDenied("only operators may register first-party apps")
    _check_scopes(ctx, data.scopes)
    _require_held(
        ctx, data.scopes, agency, "admin.client.created", {"auth_method": data.auth_method}
    )
    return clients.create(ctx.db, data, actor=ctx.actor, limits=_limits(ctx))


def update(ctx: Ctx, client_id: str, c: ClientChanges, expected) -> Client:
    client = get(ctx, client_id, "clients:write")
    check_version(client.version, expected)
    clients.ensure_changeable(client)
    _operator_only_if_first_party(ctx, client)
    agency = _guard_held(ctx, client, "admin.client.updated", {"changed": c.asked()})
    if c.scopes is not None:
        scopes = _check_scopes(ctx, c.scopes)
        _require_held(
            ctx,
            scopes,
            agency,
            "admin.client.updated",
            {"changed": ["scopes"]},
            client_id=client.client_id,
        )
    clients.update(ctx.db, client, c, actor=ctx.actor, limits=_limits(ctx))
    return client


def rotate_secret(ctx: Ctx, client_id: str, expected) -> tuple[Client, str]:
    client = get(ctx, client_id, "clients:write")
    check_version(client.version, expected)
    if client.token_endpoint_auth_method not in clients.SECRET_METHODS:
        raise Conflict("this client authenticates without a shared secret", field="auth_method")
    clients.ensure_changeable(client)
    _operator_only_if_first_party(ctx, client)
    _guard_held(ctx, client, "admin.client.secret_rotated", {"client_id": client.client_id})
    return client, clients.rotate_secret(ctx.db, client, actor=ctx.actor)


def disable(ctx: Ctx, client_id: str, expected) -> Client:
    """DELETE disables: the row stays so tokens and audit events still resolve."""
    client = get(ctx, client_id, "clients:write")
    check_version(client.version, expected)
    caller = ctx.caller.client if ctx.caller.kind == "client" else None
    if caller is not None and client.client_id == caller.client_id:
        raise Conflict("a client cannot disable itself", field="client_id")
    if client.status == "disabled":
        return client
    _operator_only_if_first_party(ctx, client)
    _guard_held(ctx, client, "admin.client.disabled", {"client_id": client.client_id})
    clients.set_status(ctx.db, client, "disabled", actor=ctx.actor)
    return client
