"""Whose budget a request spends (overview in ``idp.ratelimit``): the caller a bearer
token or a token request names, read before anything is verified. Only ever used to
choose a budget, and given back when the caller turns out not to be who it said."""

from __future__ import annotations

import base64
import binascii
import json
from functools import lru_cache
from urllib.parse import parse_qsl, unquote

from starlette.requests import Request


def _b64json(segment: str) -> dict:
    try:
        data = json.loads(base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4)))
    except (ValueError, binascii.Error):
        return {}
    return data if isinstance(data, dict) else {}


def bearer_caller(scope) -> str | None:
    """``client_id|sub`` of the bearer token, read without verifying it: only ever used
    to choose whose budget to spend, and given back when the token is refused (401)."""
    for name, value in scope.get("headers") or ():
        if name == b"authorization":
            text = value.decode("latin-1")
            if text[:7].lower() != "bearer " or text.count(".") != 2 or len(text) > 8192:
                return None
            claims = _b64json(text[7:].split(".")[1])
            cid, sub = claims.get("client_id"), claims.get("sub")
            if not isinstance(cid, str) and not isinstance(sub, str):
                return None
            return f"{cid}|{sub}"
    return None


@lru_cache(maxsize=1024)
def _basic_user(auth: str) -> str | None:
    """The user part of HTTP Basic (a client id, RFC 6749 §2.3.1), cached: a machine
    client sends the same header with every request."""
    try:
        user = base64.b64decode(auth[6:], validate=True).decode().split(":", 1)[0]
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    return unquote(user.replace("+", " ")) or None


def claimed_client(request: Request, body: bytes) -> str | None:
    """The client a token request names (HTTP Basic, else ``client_id``, else a
    ``client_assertion``'s ``sub``), before it is authenticated."""
    auth = request.headers.get("authorization", "")
    if auth[:6].lower() == "basic ":
        return _basic_user(auth)
    if not body:
        return None
    try:
        form = dict(parse_qsl(body.decode("utf-8", "replace"), max_num_fields=1000))
    except ValueError:
        return None
    if form.get("client_id"):
        return form["client_id"]
    if form.get("client_assertion", "").count(".") == 2:
        sub = _b64json(form["client_assertion"].split(".")[1]).get("sub")
        return sub if isinstance(sub, str) else None
    return None
