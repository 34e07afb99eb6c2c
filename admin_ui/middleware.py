"""Pure ASGI middlewares: the server-side session and the security headers."""

from __future__ import annotations

import json

from starlette.datastructures import MutableHeaders
from starlette.requests import cookie_parser

from admin_ui.store import Record, SessionStore

COOKIE = "govid_admin"


class ServerSession:
    """``request.session`` is the stored record's data; the cookie holds a signed random
    id only. A handler asks for a new id (after sign-in: no session fixation) with
    ``scope['admin_session'].rotate = True`` and ends it with ``.end = True``."""

    def __init__(self, app, store: SessionStore, *, secure: bool) -> None:
        self.app = app
        self.store = store
        self.secure = secure

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        cookies: dict[str, str] = {}
        for name, value in scope.get("headers", []):
            if name == b"cookie":
                cookies.update(cookie_parser(value.decode("latin-1")))
        raw = cookies.get(COOKIE)
        session_id = self.store.unsign(raw)
        record = self.store.load(session_id) if session_id else None
        had_cookie = raw is not None
        if record is None:
            record = Record(id=self.store.new_id())
        state = _State(record)
        scope["session"] = record.data
        scope["admin_session"] = state
        before = json.dumps(record.data, sort_keys=True)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                if state.end:
                    self.store.delete(record.id)
                    if had_cookie:
                        headers.append("Set-Cookie", self._cookie("", max_age=0))
                elif state.rotate or json.dumps(record.data, sort_keys=True) != before:
                    if state.rotate:
                        self.store.delete(record.id)
                        record.id = self.store.new_id()
                        record.expires_at = 0
                    self.store.save(record)
                    headers.append("Set-Cookie", self._cookie(self.store.sign(record.id)))
            await send(message)

        await self.app(scope, receive, send_wrapper)

    def _cookie(self, value: str, max_age: int | None = None) -> str:
        parts = [f"{COOKIE}={value}", "Path=/", "HttpOnly", "SameSite=Lax"]
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        if self.secure:
            parts.append("Secure")
        return "; ".join(parts)


class _State:
    def __init__(self, record: Record) -> None:
        self.record = record
        self.rotate = False
        self.end = False

    @property
    def sid(self) -> str | None:
        return self.record.sid

    @sid.setter
    def sid(self, value: str | None) -> None:
        self.record.sid = value


class SecurityHeaders:
    """A strict CSP on every answer (no inline script or style; forms only to the console
    and, for the redirects that follow sign-out, to GovID)."""

    def __init__(self, app, *, issuer: str) -> None:
        self.app = app
        self.csp = (
            "default-src 'none'; style-src 'self'; img-src 'self'; font-src 'self'; "
            "script-src 'self'; "
            f"form-action 'self' {issuer}; frame-ancestors 'none'; base-uri 'none'"
        )

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)

        async def send_wrapper(message):
            if message["type"] == "http.response.start":
                h = MutableHeaders(scope=message)
                h.setdefault("Content-Security-Policy", self.csp)
                h.setdefault("X-Content-Type-Options", "nosniff")
                h.setdefault("Referrer-Policy", "same-origin")
                h.setdefault("X-Frame-Options", "DENY")
                h.setdefault("Cache-Control", "no-store")
            await send(message)

        await self.app(scope, receive, send_wrapper)
