"""Reading protocol requests: form bodies (RFC 6749 §3.2, Appendix B), the checks every
token-endpoint style request gets, the request Authlib sees, and OAuth error answers."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qsl

from authlib.oauth2.rfc6749 import InvalidRequestError, OAuth2Error
from fastapi import Depends, Request
from fastapi.responses import JSONResponse, Response

from idp.deps import client_ip
from idp.oidc.context import OidcContext
from idp.oidc.server import GovIDOAuth2Request

MAX_FORM_FIELDS = 1000  # Starlette's own limit for request.form()
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


class MalformedForm(ValueError):
    """A protocol request body that cannot be read; answered as ``invalid_request``
    (RFC 6749 §5.2) by ``malformed_form_response`` on every route."""


async def malformed_form_response(_request: Request, exc: Exception) -> Response:
    body = {"error": "invalid_request", "error_description": str(exc)}
    return JSONResponse(body, status_code=400, headers=NO_STORE)


async def form_pairs(request: Request) -> list[tuple[str, str]]:
    """Parse a urlencoded body before the sync route runs (Authlib is synchronous).

    Protocol requests are ``application/x-www-form-urlencoded`` (RFC 6749 §3.2, Appendix
    B): the standard library's parser reads them in a fraction of a multipart parser's
    time; ``+`` is a space, percent-escapes are UTF-8 (undecodable bytes become U+FFFD,
    which matches no client, code or token)."""
    if request.method != "POST":
        return []
    ctype = request.headers.get("content-type", "")
    if ctype.startswith("application/x-www-form-urlencoded"):
        body = (await request.body()).decode("utf-8", "replace")
        try:
            return parse_qsl(body, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS)
        except ValueError as exc:
            raise MalformedForm(f"More than {MAX_FORM_FIELDS} form fields.") from exc
    if not ctype.startswith("multipart/form-data"):
        return []
    form = await request.form()
    return [(k, v) for k, v in form.multi_items() if isinstance(v, str)]


FormDep = Annotated[list[tuple[str, str]], Depends(form_pairs)]


def form_problem(request: Request, form: list[tuple[str, str]]) -> Response | None:
    """What RFC 6749 asks of every token-endpoint style request (also /revoke and
    /introspect): no parameter twice (§3.2), and one way of authenticating the client
    (§2.3: "MUST NOT use more than one authentication method in each request")."""
    names: set[str] = set()
    repeated: set[str] = set()
    for name, _ in form:  # linear: a body may carry up to MAX_FORM_FIELDS fields
        (repeated if name in names else names).add(name)
    if repeated:
        return oauth_error_response(
            InvalidRequestError(description=f"Repeated parameter: {', '.join(sorted(repeated))}.")
        )
    basic = request.headers.get("authorization", "")[:6].lower() == "basic "
    if basic + ("client_secret" in names) + ("client_assertion" in names) > 1:
        return oauth_error_response(
            InvalidRequestError(
                description="More than one client authentication method in the request."
            )
        )
    return None


def make_ctx(request: Request, db, services) -> OidcContext:
    return OidcContext(
        db=db,
        services=services,
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )


def oauth_request(
    request: Request,
    form: list[tuple[str, str]],
    issuer: str,
    query: list[tuple[str, str]] | None = None,
) -> GovIDOAuth2Request:
    q = list(request.query_params.multi_items()) if query is None else query
    # The path from the ASGI scope: ``request.url`` would parse a whole URL per request.
    return GovIDOAuth2Request(
        request.method,
        f"{issuer}{request.scope['path']}",
        query=q,
        form=form,
        headers=request.headers,
    )


def with_no_store(response: Response) -> Response:
    response.headers.update(NO_STORE)
    return response


def oauth_error_response(err: OAuth2Error) -> Response:
    body = {"error": err.error}
    if err.description:
        body["error_description"] = err.description
    return JSONResponse(body, status_code=err.status_code or 400, headers=NO_STORE)
