"""Authority over the agency tree (DESIGN §6): what each role and each admin/SCIM scope
allows, and a ``Scope``, the subtrees a caller may act on. No web framework here.

``Scope(None)`` means everything (operators); otherwise the caller may act on the subtrees
of ``roots``. Services filter every query with it, and an object outside the scope is
reported exactly like a missing one.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import false, or_, select

from idp.agencies.models import Agency

# What each role may do. Operators may do everything everywhere.
ROLE_PERMISSIONS: dict[str, frozenset[str]] = {
    "operator": frozenset(
        {
            "agencies:read",
            "agencies:write",
            "accounts:read",
            "accounts:write",
            "roles:read",
            "roles:write",
            "clients:read",
            "clients:write",
            "audit:read",
        }
    ),
    "agency_admin": frozenset(
        {
            "agencies:read",
            "accounts:read",
            "accounts:write",
            "roles:read",
            "roles:write",
            "clients:read",
            "clients:write",
            "audit:read",
        }
    ),
    "auditor": frozenset(
        {"agencies:read", "accounts:read", "roles:read", "clients:read", "audit:read"}
    ),
}

# What each machine scope allows, over the subtree of the client's agency.
SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin:accounts": frozenset({"agencies:read", "accounts:read", "accounts:write", "roles:read"}),
    "admin:clients": frozenset({"agencies:read", "clients:read", "clients:write"}),
    "admin:audit": frozenset({"agencies:read", "audit:read"}),
    "scim": frozenset({"agencies:read", "accounts:read", "accounts:write", "roles:read"}),
}
ADMIN_SCOPES = tuple(SCOPE_PERMISSIONS)

# A person's token must also carry a scope for the area (OAuth delegation: an app that
# holds an admin's token for something else cannot administer with it). Within the area,
# the person's roles decide what they may do.
PERSON_SCOPE_PERMISSIONS: dict[str, frozenset[str]] = {
    "admin:accounts": frozenset(
        {
            "agencies:read",
            "agencies:write",
            "accounts:read",
            "accounts:write",
            "roles:read",
            "roles:write",
        }
    ),
    "admin:clients": frozenset({"agencies:read", "clients:read", "clients:write"}),
    "admin:audit": frozenset({"agencies:read", "audit:read"}),
    "scim": frozenset({"agencies:read", "accounts:read", "accounts:write", "roles:read"}),
}


@dataclass(frozen=True)
class Scope:
    """``roots is None``: everything. Otherwise the union of the roots' subtrees."""

    roots: tuple[Agency, ...] | None

    @property
    def is_global(self) -> bool:
        return self.roots is None

    def covers(self, agency: Agency) -> bool:
        if self.roots is None:
            return True
        return any(agency.path.startswith(r.path) for r in self.roots)

    def agency_ids_stmt(self):
        """SELECT of agency ids in scope (for ``Model.agency_id.in_(...)``)."""
        stmt = select(Agency.id)
        if self.roots is None:
            return stmt
        if not self.roots:
            return stmt.where(false())
        return stmt.where(
            or_(*[Agency.path.startswith(r.path, autoescape=True) for r in self.roots])
        )

    def apply(self, stmt, column):
        """``stmt`` limited to rows whose ``column`` (an agency id) is in the scope."""
        if self.roots is None:
            return stmt
        return stmt.where(column.in_(self.agency_ids_stmt()))

    def narrowest_root(self) -> Agency | None:
        """The single root, for APIs that take one scope agency (None: global)."""
        if self.roots is None:
            return None
        return self.roots[0]
