"""Errors of the admin API's own HTTP conventions (bearer token, assurance, If-Match,
Idempotency-Key in progress); the domain's errors are in ``idp.errors``.

Their HTTP form (status, problem type) is decided in ``idp.admin.problems`` only.
"""

from __future__ import annotations

from idp.errors import Conflict, DomainError


class Unauthenticated(DomainError):
    """No token, or a token that is invalid, expired, revoked or of an inactive account."""

    code = "unauthenticated"


class InsufficientAssurance(DomainError):
    """A person's token was not issued at the level-2 assurance the admin API needs;
    ``acr_values`` is the level to ask for (the configured name, IDP_ACR_LEVEL2)."""

    code = "insufficient_assurance"

    def __init__(self, message: str, *, acr_values: str) -> None:
        super().__init__(message)
        self.acr_values = acr_values


class PreconditionRequired(DomainError):
    """PATCH/DELETE without ``If-Match`` (RFC 6585 §3)."""

    code = "precondition_required"


class IdempotencyInProgress(Conflict):
    code = "idempotency_in_progress"
