"""Request body size limits, per surface.

A 64 MiB POST to ``/token`` without credentials used to be read in full (~90 MB of
memory) before the 401. The edge (``idp.edge``) refuses a body over its surface's limit
(``BodyLimits``) with 413 **before reading it**: at once when ``Content-Length`` says so
(the app is not called, no byte of the body is read), and while streaming for a chunked
body (``Counted``: the moment the bytes read pass the limit; whatever the app answered
is dropped). The 413 carries ``Connection: close``, so the server stops reading the rest.

Surfaces, their limits (settings) and the 413's body:

- protocol (``/token``, ``/revoke``, ``/introspect``, ``/userinfo``): ``IDP_MAX_BODY_BYTES``
  (64 KiB); OAuth ``invalid_request`` with status 413 (RFC 6749 §5.2 has no code for it);
- admin API (``/admin/v1``): ``IDP_MAX_ADMIN_BODY_BYTES`` (1 MiB); RFC 9457
  ``application/problem+json``, type ``urn:govid:problem:body-too-large``;
- imports (``/admin/v1/imports``): ``IDP_MAX_IMPORT_BODY_BYTES`` (64 MiB); the same;
- SCIM (``/scim/v2``): ``IDP_MAX_ADMIN_BODY_BYTES``; a SCIM error (RFC 7644 §3.12,
  ``status: "413"``), the surface's own format;
- people's pages and everything else (``/authorize``, ``/login``, ``/mfa``, …):
  ``IDP_MAX_BODY_BYTES``; the error page in the person's language.

JSON nested too deeply for the standard library's decoder (``RecursionError``, e.g. in
a ``client_assertion`` that Authlib decodes) is answered by ``nested_too_deeply``: 400,
in the same formats, instead of 500. Our own JSON parsing bounds depth with
``idp.json_depth``.

It costs one scan of the request's headers; a body is counted (``Counted``) only when
it streams without a Content-Length.
"""

from __future__ import annotations

import logging
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import Message, Receive, Scope, Send

from idp.config import Settings

PROTOCOL_JSON = ("/token", "/revoke", "/introspect", "/userinfo")
PROBLEM_TYPE = "urn:govid:problem:body-too-large"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
# The error page's sentence (error.html shows it under the code), th and en.
PAGE_TEXT = {
    "th": "ข้อมูลที่ส่งมีขนาดใหญ่เกินกว่าที่ระบบรับได้ กรุณากลับไปและลองอีกครั้ง",
    "en": "What was sent is larger than this page accepts. Please go back and try again.",
}
DEEP_TEXT = {
    "th": "ข้อมูลที่ส่งมีรูปแบบที่ระบบอ่านไม่ได้ กรุณากลับไปและลองอีกครั้ง",
    "en": "What was sent could not be read. Please go back and try again.",
}
log = logging.getLogger(__name__)


class BodyTooLarge(Exception):
    """Raised inside the app's ``receive`` when a streamed body passes the limit."""


def surface(path: str) -> str:
    if path.startswith("/admin/v1/imports"):
        return "import"
    if path == "/admin/v1" or path.startswith("/admin/v1/"):
        return "admin"
    if path == "/scim/v2" or path.startswith("/scim/v2/"):
        return "scim"
    if path in PROTOCOL_JSON:
        return "protocol"
    return "page"


class BodyLimits:
    """The limit of each surface (settings), and what a request's framing says of its
    body; the edge (``idp.edge``) refuses or counts by it."""

    def __init__(self, settings: Settings) -> None:
        self.limits = {
            "protocol": settings.max_body_bytes,
            "page": settings.max_body_bytes,
            "admin": settings.max_admin_body_bytes,
            "scim": settings.max_admin_body_bytes,
            "import": settings.max_import_body_bytes,
        }

    def check(self, scope: Scope) -> tuple[str, int, int | None, bool]:
        """(surface, its limit, the declared Content-Length or None, whether the body
        must be counted as it streams: no Content-Length but a Transfer-Encoding. A
        request with neither has no body, RFC 9112 §6.3)."""
        kind = surface(scope["path"])
        declared = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = None  # the server refuses a malformed one itself
                    chunked = True  # ... and if it did not, count what arrives
                break
            if name == b"transfer-encoding":
                chunked = True
        return kind, self.limits[kind], declared, chunked and declared is None


class Counted:
    """A streamed body counted as the app reads it: past ``limit`` the app's ``receive``
    raises ``BodyTooLarge``, whatever the app answers is dropped, and ``refused`` says
    whether the 413 is still to be sent (nothing of the app's answer went out)."""

    def __init__(self, receive: Receive, send: Send, limit: int) -> None:
        self._receive, self._send, self.limit = receive, send, limit
        self.seen = 0
        self.over = False
        self.started = False

    async def receive(self) -> Message:
        if self.over:
            return {"type": "http.disconnect"}
        message = await self._receive()
        if message["type"] == "http.request":
            self.seen += len(message.get("body", b""))
            if self.seen > self.limit:
                self.over = True
                raise BodyTooLarge
        return message

    async def send(self, message: Message) -> None:
        if self.over:  # the app's answer to a body it never got in full
            return
        if message["type"] == "http.response.start":
            self.started = True
        await self._send(message)

    @property
    def refused(self) -> bool:
        return self.over and not self.started


async def refuse(scope: Scope, receive: Receive, send: Send, kind: str, limit: int) -> None:
    detail = f"The request body is larger than {limit} bytes."
    headers = {"Connection": "close", "Cache-Control": "no-store"}
    response: Response
    body: dict[str, Any]
    if kind == "protocol":
        body = {"error": "invalid_request", "error_description": detail}
        if scope["path"] == "/userinfo":  # RFC 6750 §3
            headers["WWW-Authenticate"] = 'Bearer error="invalid_request"'
        response = JSONResponse(body, status_code=413, headers=headers)
    elif kind in ("admin", "import"):
        body = {
            "type": PROBLEM_TYPE,
            "title": "Request body too large",
            "status": 413,
            "detail": detail,
            "code": "body_too_large",
            "limit": limit,
        }
        response = JSONResponse(
            body, status_code=413, headers=headers, media_type="application/problem+json"
        )
    elif kind == "scim":
        body = {"schemas": [SCIM_ERROR], "status": "413", "detail": detail}
        response = JSONResponse(
            body, status_code=413, headers=headers, media_type="application/scim+json"
        )
    else:
        response = _page(scope, receive, headers)
    await response(scope, receive, send)


def _page(scope: Scope, receive: Receive, headers: dict[str, str], status: int = 413) -> Response:
    request = Request(scope, receive)
    pages = request.app.state.pages
    locale = pages.locale(request)
    error, text = ("request_too_large", PAGE_TEXT) if status == 413 else ("bad_request", DEEP_TEXT)
    response = pages.render(
        request,
        "error.html",
        status=status,
        locale=locale,
        error=error,
        description=text.get(locale, text["en"]),
    )
    response.headers.update(headers)
    return response


async def nested_too_deeply(request: Request, _exc: Exception) -> Response:
    """``RecursionError`` out of a JSON decoder (a JWT, a JSON body): 400, not 500."""
    log.warning("request refused: %s nested too deeply to parse", request.url.path)
    kind = surface(request.url.path)
    detail = "The request holds JSON nested too deeply."
    body: dict[str, Any]
    if kind == "page":
        return _page(request.scope, request.receive, {"Cache-Control": "no-store"}, 400)
    if kind == "protocol":
        body = {"error": "invalid_request", "error_description": detail}
        return JSONResponse(body, status_code=400, headers={"Cache-Control": "no-store"})
    body = {"type": "urn:govid:problem:bad-request", "title": "Bad request", "status": 400}
    return JSONResponse(
        {**body, "detail": detail, "code": "bad_request"},
        status_code=400,
        media_type="application/problem+json",
    )
