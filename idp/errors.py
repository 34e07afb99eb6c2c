"""Domain errors. One class per kind of failure; HTTP/CLI mapping lives in one place each
(``idp.admin.problems`` for problem+json, ``idp.cli.common`` for exit codes).

Every error has a stable machine ``code`` and a human message; ``field`` names the input
that was wrong where there is one.
"""

from __future__ import annotations


class ServiceUnavailable(Exception):
    """A backing service did not do what was asked in time; the caller may retry
    (idp/outage.py answers 503 with Retry-After in the surface's own format)."""


class DomainError(Exception):
    code = "error"

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def to_dict(self) -> dict[str, str]:
        d = {"error": self.code, "message": self.message}
        if self.field:
            d["field"] = self.field
        return d


class InvalidInput(DomainError):
    code = "invalid_input"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


class InvalidCitizenId(InvalidInput):
    code = "invalid_citizen_id"


class DuplicateEmail(Conflict):
    code = "duplicate_email"


class AddressOutsideDomains(InvalidInput):
    """An email or alias outside the mail domains of the account's agency chain."""

    code = "address_outside_domains"


class DuplicateAgencyCode(Conflict):
    code = "duplicate_agency_code"


class UnknownAgency(NotFound):
    code = "unknown_agency"


class PermissionDenied(DomainError):
    code = "forbidden"


class LifetimeAboveMaximum(InvalidInput):
    """A client asked for a token lifetime longer than the server allows."""

    code = "lifetime_above_maximum"


# Authority over the agency tree, versions (If-Match), idempotency and lists: raised by
# the admin use cases (idp.authz, the domains' manage modules), shown by the admin API/SCIM.


class PreconditionFailed(Conflict):
    """``If-Match`` does not match the current ``ETag`` (RFC 9110 §13.1.1)."""

    code = "precondition_failed"


class IdempotencyKeyReused(InvalidInput):
    """The same ``Idempotency-Key`` was sent with a different request body."""

    code = "idempotency_key_reused"


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
