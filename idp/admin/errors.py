"""Errors of the admin API that are not already in ``idp.errors`` (no web framework here).

Their HTTP form (status, problem type) is decided in ``idp.admin.problems`` only.
"""

from __future__ import annotations

from idp.errors import Conflict, DomainError, InvalidInput, NotFound, PermissionDenied


class Unauthenticated(DomainError):
    """No token, or a token that is invalid, expired, revoked or of an inactive account."""

    code = "unauthenticated"


class InsufficientAssurance(DomainError):
    """A person's token was not issued at the level-2 assurance the admin API needs."""

    code = "insufficient_assurance"
    acr_values = "urn:govid:acr:2"


class PreconditionRequired(DomainError):
    """PATCH/DELETE without ``If-Match`` (RFC 6585 §3)."""

    code = "precondition_required"


class PreconditionFailed(Conflict):
    """``If-Match`` does not match the current ``ETag`` (RFC 9110 §13.1.1)."""

    code = "precondition_failed"


class IdempotencyKeyReused(InvalidInput):
    """The same ``Idempotency-Key`` was sent with a different request body."""

    code = "idempotency_key_reused"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"


class InvalidFields(InvalidInput):
    """Several inputs were wrong at once; ``errors`` lists every one."""

    code = "invalid_input"

    def __init__(self, errors: list[dict[str, str]]) -> None:
        first = errors[0] if errors else {"message": "invalid input"}
        super().__init__(first["message"], field=first.get("field"))
        self.errors = errors


class AgencyNotEmpty(Conflict):
    code = "agency_not_empty"


class ProtectedAccount(DomainError):
    """The account holds a role the caller's authority does not cover (an operator
    grant, or a grant over an agency outside the caller's subtree): changing it would
    let the caller take over that role (decision 0013)."""

    code = "protected_account"

    def __init__(self, message: str, reason: str) -> None:
        super().__init__(message, field="account")
        self.reason = reason  # "operator" | "role_outside_scope"


class OutsideScope(NotFound):
    """The object exists but lies outside the caller's agency subtree. Answered exactly
    like a missing one (DESIGN §6); only the audit trail tells them apart."""


class InsufficientScope(PermissionDenied):
    """The token lacks the scope the operation needs (RFC 6750 §3.1 insufficient_scope);
    ``scopes`` names the scopes that would allow it."""

    code = "insufficient_scope"

    def __init__(self, message: str, scopes: tuple[str, ...] = ()) -> None:
        super().__init__(message, field="scope")
        self.scopes = tuple(scopes)


class ScopeNotHeld(PermissionDenied):
    """A caller tried to give (or manage) a client an admin/SCIM scope that the caller does
    not hold itself: no escalation through client registration."""

    code = "scope_not_held"

    def __init__(self, scopes: list[str], message: str | None = None) -> None:
        self.scopes = sorted(scopes)
        super().__init__(
            message
            or f"you cannot give a client scope(s) you do not hold: {', '.join(self.scopes)}",
            field="scopes",
        )


class InvalidCursor(InvalidInput):
    """A ``cursor`` that is not one this API handed out for this listing."""

    code = "invalid_cursor"

    def __init__(self, message: str = "the cursor is not usable; start from the first page"):
        super().__init__(message, field="cursor")
