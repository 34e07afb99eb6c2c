"""RFC 9457 problem details for the admin API and SCIM: the ONE place where domain errors
become HTTP responses (DESIGN §2 rule 5). Each kind of error has a stable ``type`` URI.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError
from starlette.exceptions import HTTPException as StarletteHTTPException

from idp import errors, outage
from idp.admin import errors as admin_errors

log = logging.getLogger(__name__)
PROBLEM_JSON = "application/problem+json"
TYPE_BASE = "urn:govid:problem:"

# error class -> (HTTP status, problem slug, title). Looked up along the class's MRO, so
# a subclass without an entry gets its parent's.
PROBLEMS: dict[type[Exception], tuple[int, str, str]] = {
    admin_errors.Unauthenticated: (401, "unauthenticated", "Authentication required"),
    admin_errors.InsufficientAssurance: (
        401,
        "insufficient-assurance",
        "Sign in with a second factor (level 2) to use the admin API",
    ),
    errors.PermissionDenied: (403, "forbidden", "Not allowed"),
    errors.ScopeNotHeld: (
        403,
        "scope-not-held",
        "You cannot give or manage scopes you do not hold yourself",
    ),
    errors.ProtectedAccount: (
        403,
        "protected-account",
        "Your authority does not cover every role this account holds",
    ),
    errors.NotFound: (404, "not-found", "Not found"),
    errors.UnknownAgency: (404, "not-found", "Not found"),
    errors.Conflict: (409, "conflict", "Conflict"),
    errors.DuplicateEmail: (409, "duplicate-email", "Email address already in use"),
    errors.DuplicateAgencyCode: (409, "duplicate-agency-code", "Agency code already in use"),
    errors.AgencyNotEmpty: (409, "agency-not-empty", "The agency still has members"),
    admin_errors.IdempotencyInProgress: (
        409,
        "idempotency-in-progress",
        "A request with this Idempotency-Key is still being processed",
    ),
    errors.PreconditionFailed: (412, "precondition-failed", "The resource has changed"),
    admin_errors.PreconditionRequired: (428, "precondition-required", "If-Match is required"),
    errors.InvalidInput: (422, "invalid-input", "Invalid input"),
    errors.InvalidCitizenId: (422, "invalid-input", "Invalid input"),
    errors.AddressOutsideDomains: (
        422,
        "address-outside-domains",
        "The address is not in the mail domains of the account's agency",
    ),
    errors.IdempotencyKeyReused: (
        422,
        "idempotency-key-reused",
        "This Idempotency-Key was used with a different request",
    ),
    errors.InvalidCursor: (400, "invalid-cursor", "The cursor is not usable"),
    errors.DomainError: (400, "bad-request", "Bad request"),
}

# Errors raised by the framework itself (routing, body parsing): status -> (slug, code).
HTTP_PROBLEMS: dict[int, tuple[str, str]] = {
    400: ("bad-request", "bad_request"),
    404: ("not-found", "not_found"),
    405: ("method-not-allowed", "method_not_allowed"),
}


def problem_type(slug: str) -> str:
    return TYPE_BASE + slug


def lookup(exc: Exception) -> tuple[int, str, str]:
    for cls in type(exc).__mro__:
        if cls in PROBLEMS:
            return PROBLEMS[cls]
    return 500, "internal", "Internal error"


def problem_response(
    status: int,
    slug: str,
    title: str,
    detail: str | None = None,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": problem_type(slug), "title": title, "status": status}
    if detail:
        body["detail"] = detail
    body.update({k: v for k, v in extra.items() if v is not None})
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def normalise(exc: errors.DomainError) -> errors.DomainError:
    """Errors that services report generically but the API names precisely."""
    # A stale version reported by a domain service is a failed precondition here.
    if isinstance(exc, errors.Conflict) and exc.field == "version":
        return errors.PreconditionFailed(exc.message)
    # Any cursor a service could not use (also the audit log's own cursors).
    if (
        isinstance(exc, errors.InvalidInput)
        and exc.field == "cursor"
        and not isinstance(exc, errors.InvalidCursor)
    ):
        return errors.InvalidCursor(exc.message)
    return exc


def challenge(exc: errors.DomainError, realm: str) -> str | None:
    """The ``WWW-Authenticate`` value for an error, if it has one."""
    if isinstance(exc, admin_errors.InsufficientAssurance):
        # RFC 9470 §3: a valid token issued at too low an acr is a 401 step-up
        # challenge; the app asks GovID again with these acr values.
        return (
            f'Bearer realm="{realm}", error="insufficient_user_authentication", '
            'error_description="A second factor is required", '
            f'acr_values="{exc.acr_values}"'
        )
    if isinstance(exc, admin_errors.Unauthenticated):
        # RFC 6750 §3: tell the client how to authenticate (no detail for bad tokens).
        return f'Bearer realm="{realm}", error="invalid_token"'
    if isinstance(exc, errors.InsufficientScope):
        # RFC 6750 §3.1: the token lacks the scope; name the scopes that would do.
        return f'Bearer realm="{realm}", error="insufficient_scope", scope="{" ".join(exc.scopes)}"'
    return None


def from_domain(exc: errors.DomainError) -> JSONResponse:
    exc = normalise(exc)
    status, slug, title = lookup(exc)
    headers = None
    www = challenge(exc, "govid-admin")
    if www is None and status == 401:
        www = 'Bearer realm="govid-admin"'
    if www:
        headers = {"WWW-Authenticate": www}
    extra: dict[str, Any] = {"code": exc.code}
    if isinstance(exc, errors.ProtectedAccount):
        extra["reason"] = exc.reason
    scopes = getattr(exc, "scopes", None)  # the scopes a refusal names, when it does
    if scopes:
        extra["scopes"] = list(scopes)
    if isinstance(exc, errors.InvalidInput):
        extra["errors"] = getattr(exc, "errors", None) or [
            {"field": exc.field or "", "message": exc.message, "code": exc.code}
        ]
    elif exc.field:
        extra["field"] = exc.field
    return problem_response(status, slug, title, exc.message, headers=headers, **extra)


def _field_of(loc: tuple | list) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "header", "path")]
    return ".".join(parts) or "body"


def from_validation(exc: RequestValidationError) -> JSONResponse:
    """Every bad field at once (not only the first)."""
    problems = [
        {"field": _field_of(e.get("loc", ())), "message": e.get("msg", ""), "code": e["type"]}
        for e in exc.errors()
    ]
    return problem_response(
        422,
        "invalid-input",
        "Invalid input",
        f"{len(problems)} field(s) are invalid",
        code="invalid_input",
        errors=problems,
    )


def outage_problem(headers: dict[str, str]) -> JSONResponse:
    """A backing service is down (idp/outage.py): 503 + Retry-After as problem+json."""
    return problem_response(
        503,
        "service-unavailable",
        "Service temporarily unavailable",
        "A service GovID depends on is not answering; try again later.",
        headers=headers,
        code="service_unavailable",
    )


def install(app: FastAPI) -> None:
    """Register the handlers on an admin (or SCIM) application."""
    outage.install(app)  # 503 + Retry-After as problem+json
    outage.respond_with(app, "admin", outage_problem)

    @app.exception_handler(errors.DomainError)
    async def _domain(_request: Request, exc: errors.DomainError) -> JSONResponse:
        return from_domain(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        return from_validation(exc)

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return from_domain(errors.PreconditionFailed("the resource was changed meanwhile"))

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, exc: IntegrityError) -> JSONResponse:
        log.info("integrity error in admin API: %s", type(exc.orig).__name__)
        return from_domain(errors.Conflict("the change conflicts with existing data"))

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, code = HTTP_PROBLEMS.get(exc.status_code, ("http-error", "http_error"))
        return problem_response(
            exc.status_code,
            slug,
            str(exc.detail),
            headers=getattr(exc, "headers", None),
            code=code,
        )


# ------------------------------------------------------------------------------- SCIM

SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
SCIM_JSON = "application/scim+json"
# RFC 7644 §3.12 scimType for the domain errors that have one.
SCIM_TYPES = {
    "invalid_filter": "invalidFilter",
    "duplicate_email": "uniqueness",
    "conflict": "uniqueness",
    "invalid_input": "invalidValue",
    "invalid_citizen_id": "invalidValue",
    "address_outside_domains": "invalidValue",
}


def scim_error(status: int, detail: str, scim_type: str | None = None) -> JSONResponse:
    body: dict[str, Any] = {"schemas": [SCIM_ERROR], "status": str(status), "detail": detail}
    if scim_type:
        body["scimType"] = scim_type
    return JSONResponse(body, status_code=status, media_type=SCIM_JSON)


def outage_scim(headers: dict[str, str]) -> JSONResponse:
    """A backing service is down (idp/outage.py): 503 + Retry-After as a SCIM error."""
    response = scim_error(503, "A service GovID depends on is not answering; try again later.")
    response.headers.update(headers)
    return response


def install_scim(app: FastAPI) -> None:
    """The same mapping (``PROBLEMS``) rendered as SCIM errors (RFC 7644 §3.12)."""
    outage.install(app)  # 503 + Retry-After as a SCIM error
    outage.respond_with(app, "scim", outage_scim)

    @app.exception_handler(errors.DomainError)
    async def _domain(_request: Request, exc: errors.DomainError) -> JSONResponse:
        exc = normalise(exc)
        status, _slug, _title = lookup(exc)
        if status == 422:
            status = 400  # SCIM reports bad values as 400 with a scimType
        scim_type = getattr(exc, "scim_type", None) or SCIM_TYPES.get(exc.code)
        response = scim_error(status, exc.message, scim_type)
        www = challenge(exc, "govid-scim")
        if www is None and status == 401:
            www = 'Bearer realm="govid-scim"'
        if www:
            response.headers["WWW-Authenticate"] = www
        return response

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = ", ".join(_field_of(e.get("loc", ())) for e in exc.errors())
        return scim_error(400, f"invalid request: {fields}", "invalidSyntax")

    @app.exception_handler(StaleDataError)
    async def _stale(_request: Request, _exc: StaleDataError) -> JSONResponse:
        return scim_error(412, "the resource was changed meanwhile")

    @app.exception_handler(IntegrityError)
    async def _integrity(_request: Request, _exc: IntegrityError) -> JSONResponse:
        return scim_error(409, "the change conflicts with existing data", "uniqueness")

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        scim_type = "invalidSyntax" if exc.status_code == 400 else None
        return scim_error(exc.status_code, str(exc.detail), scim_type)
