"""Refused admin and SCIM requests in the audit trail (decision 0013).

One ``admin.request.denied`` event per refused request, never per row: a known caller
was denied an operation (role, scope, a protected account) or named an object outside
its subtree, which it was answered exactly like a missing one. Requests without a valid
token have no caller to name; they are rate limited instead.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import Session

from idp import errors
from idp.audit import service as audit
from idp.authz.caller import Caller
from idp.errors import OutsideScope, ProtectedAccount

DENIALS = (errors.PermissionDenied, ProtectedAccount, OutsideScope)


@dataclass(frozen=True)
class RequestSeen:
    """What the audit event says of the request (no body, no token)."""

    method: str
    path: str  # the route, ids as placeholders
    target: str | None  # the id the request named, if any
    ip: str | None
    user_agent: str | None


def is_denial(exc: BaseException) -> bool:
    return isinstance(exc, DENIALS)


def record(db: Session, caller: Caller, exc: errors.DomainError, seen: RequestSeen) -> None:
    if isinstance(exc, OutsideScope):
        reason = "outside_scope"
    elif isinstance(exc, ProtectedAccount):
        reason = exc.reason
    else:
        reason = exc.code
    audit.record(
        db,
        "admin.request.denied",
        outcome="denied",
        actor=caller.actor,
        client_id=caller.client.client_id if caller.client else None,
        subject=seen.target,
        ip=seen.ip,
        user_agent=seen.user_agent,
        details={"method": seen.method, "path": seen.path, "reason": reason},
    )
