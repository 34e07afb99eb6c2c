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
