"""Who is calling the admin API or SCIM and what they may do (DESIGN §6). No web
framework here.

A caller is either a person (an access token issued at level 2 to an app, carrying their
account) or a machine (a client_credentials token of a client bound to one agency). Its
authority is worked out afresh on every request from the role grants in the database, so
a revoked grant or a suspended account takes effect on the next request. The ``idp``
command line acts as a third kind, the operator at the host's shell (``host_operator``):
an operator's authority, no token, no account (decision 0023).

Authority is a ``Scope`` (``idp.authz.scope``) per permission; acting on an account also
needs authority over every role the account holds (``Caller.protection``, decision 0013).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Account, RoleGrant
from idp.agencies.models import Agency
from idp.authz.scope import (
    PERSON_SCOPE_PERMISSIONS,
    ROLE_PERMISSIONS,
    SCOPE_PERMISSIONS,
    Scope,
)
from idp.clients.models import Client
from idp.errors import (
    InsufficientScope,
    NotFound,
    OutsideScope,
    PermissionDenied,
    ProtectedAccount,
)


@dataclass
class Caller:
    kind: str  # "account" | "client" | "host"
    actor: str  # account id, client_id or "cli": what audit events name as actor
    client: Client | None  # None for the host operator only
    token_scopes: frozenset[str]
    account: Account | None = None
    grants: list[tuple[str, Agency]] = field(default_factory=list)
    agency: Agency | None = None  # a machine's agency

    @property
    def is_operator(self) -> bool:
        return self.kind == "host" or any(role == "operator" for role, _ in self.grants)

    @property
    def roles(self) -> list[str]:
        return sorted({role for role, _ in self.grants})

    def scope(self, permission: str) -> Scope:
        """The scope in which the caller holds ``permission``; PermissionDenied if none."""
        if self.kind == "host":
            return Scope(None)
        table = SCOPE_PERMISSIONS if self.kind == "client" else PERSON_SCOPE_PERMISSIONS
        if not any(permission in table.get(s, ()) for s in self.token_scopes):
            needed = tuple(s for s, perms in table.items() if permission in perms)
            raise InsufficientScope(
                f"the token's scopes do not allow {permission}; it needs one of: "
                + ", ".join(needed),
                needed,
            )
        if self.kind == "client":
            assert self.agency is not None
            return Scope((self.agency,))
        roots: list[Agency] = []
        for role, agency in self.grants:
            if permission in ROLE_PERMISSIONS[role]:
                if role == "operator":
                    return Scope(None)
                roots.append(agency)
        if not roots:
            raise PermissionDenied(f"no role of yours allows {permission}")
        # Drop roots inside other roots, so each agency is covered once.
        roots.sort(key=lambda a: len(a.path))
        kept: list[Agency] = []
        for r in roots:
            if not any(r.path.startswith(k.path) for k in kept):
                kept.append(r)
        return Scope(tuple(kept))

    def holds_scope(self, scope: str, agency: Agency) -> bool:
        """Whether the caller itself holds the admin/SCIM ``scope`` over ``agency``: the
        scope is in its token and, for a person, their roles there allow everything the
        scope allows a machine. A caller can only give a client what it holds."""
        if self.kind == "host":
            return True
        if scope not in self.token_scopes:
            return False
        for permission in SCOPE_PERMISSIONS[scope]:
            try:
                if not self.scope(permission).covers(agency):
                    return False
            except PermissionDenied:
                return False
        return True

    def require(self, permission: str, agency: Agency) -> Scope:
        """``permission`` over ``agency``; an agency outside the scope is not found."""
        scope = self.scope(permission)
        if not scope.covers(agency):
            raise OutsideScope("no such agency", field="agency")
        return scope

    def protection(self, grants: list[tuple[str, Agency]]) -> str | None:
        """Why the caller may not act on an account holding ``grants``, or None.

        Acting on an account (password or second-factor reset, suspension, deletion,
        ending sessions, address changes) hands its roles to whoever acts: the caller's
        authority must cover every one of them, not only the account's agency
        (decision 0013). An operator grant is for operators only."""
        if self.is_operator:
            return None
        if any(role == "operator" for role, _ in grants):
            return "operator"
        try:
            scope = self.scope("accounts:write")
        except PermissionDenied:
            return None  # cannot change any account: nothing to protect from this caller
        if any(not scope.covers(agency) for _role, agency in grants):
            return "role_outside_scope"
        return None

    def check_may_act_on(self, session: Session, account: Account, now: dt.datetime) -> None:
        reason = self.protection(load_grants(session, account, now))
        if reason == "operator":
            raise ProtectedAccount(
                "this account belongs to an operator; only operators may change it", reason
            )
        if reason is not None:
            raise ProtectedAccount(
                "this account holds a role over an agency outside your authority; "
                "an admin whose authority covers that agency must change it",
                reason,
            )


def protections(
    caller: Caller, session: Session, rows: list[Account], now: dt.datetime
) -> dict[uuid.UUID, str]:
    """For a page of accounts: why the caller may not change each protected one
    (``operator`` or ``role_outside_scope``), without naming grants outside the caller's
    scope. One query for the page."""
    grants = grants_of(session, [a.id for a in rows], now)
    out = {}
    for a in rows:
        reason = caller.protection(grants.get(a.id, []))
        if reason:
            out[a.id] = reason
    return out


def load_grants(session: Session, account: Account, now: dt.datetime) -> list[tuple[str, Agency]]:
    return grants_of(session, [account.id], now).get(account.id, [])


def grants_of(
    session: Session, account_ids: list[uuid.UUID], now: dt.datetime
) -> dict[uuid.UUID, list[tuple[str, Agency]]]:
    """The live role grants of several accounts, in one query: unexpired at ``now``
    (the Clock's, DESIGN rule 4)."""
    out: dict[uuid.UUID, list[tuple[str, Agency]]] = {}
    if not account_ids:
        return out
    rows = session.execute(
        select(RoleGrant.account_id, RoleGrant.role, RoleGrant.expires_at, Agency)
        .join(Agency, Agency.id == RoleGrant.agency_id)
        .where(RoleGrant.account_id.in_(account_ids))
    ).all()
    for account_id, role, expires, agency in rows:
        if expires is None or expires > now:
            out.setdefault(account_id, []).append((role, agency))
    return out


def caller_for_account(
    session: Session, account: Account, client: Client, scopes: frozenset[str], now: dt.datetime
) -> Caller:
    return Caller(
        kind="account",
        actor=str(account.id),
        client=client,
        token_scopes=scopes,
        account=account,
        grants=load_grants(session, account, now),
    )


def host_operator() -> Caller:
    """The operator at the host's shell, as the ``idp`` commands act: whoever can run them
    already holds the database and the keys, so they act with an operator's authority over
    every agency and every account, through the same use cases as the admin API. Their
    changes are audited with actor ``cli``, as every command's are (decision 0023)."""
    return Caller(kind="host", actor="cli", client=None, token_scopes=frozenset())


def caller_for_client(session: Session, client: Client, scopes: frozenset[str]) -> Caller:
    agency = session.get(Agency, client.agency_id)
    return Caller(
        kind="client",
        actor=client.client_id,
        client=client,
        token_scopes=scopes & frozenset(client.scopes or ()),
        agency=agency,
    )


def agency_in_scope(session: Session, scope: Scope, agency_id: uuid.UUID | str) -> Agency:
    """Load an agency the caller may see, else NotFound (same as a missing one)."""
    try:
        aid = agency_id if isinstance(agency_id, uuid.UUID) else uuid.UUID(str(agency_id))
    except ValueError:
        raise NotFound("no such agency", field="agency") from None
    agency = session.get(Agency, aid)
    if agency is None:
        raise NotFound("no such agency", field="agency")
    if not scope.covers(agency):
        raise OutsideScope("no such agency", field="agency")
    return agency


def agency_code_in_scope(session: Session, scope: Scope, code: str) -> Agency:
    from idp.agencies import service as agencies

    try:
        agency = agencies.get_by_code(session, code)
    except NotFound:
        raise NotFound(f"unknown agency {code!r}", field="agency") from None
    if not scope.covers(agency):
        raise OutsideScope(f"unknown agency {code!r}", field="agency")
    return agency
