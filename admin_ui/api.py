"""The admin API as the console calls it: the person's access token from the server-side
session, refreshed when it has expired, and the answers that send them to sign in again.

The console never reads GovID's database: what a role may see is what this API answers."""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx

from admin_ui import oidc
from admin_ui.config import Settings

PROBLEM = "urn:govid:problem:"


class SignInRequired(Exception):
    """No usable token (none, refresh refused) or GovID's level-2 sign-in lapsed (401
    insufficient-assurance, decision 0013): sign in again, then come back."""


class Unavailable(Exception):
    """GovID did not answer: a clear page, nothing half-done. ``maybe_done``: a write
    was sent but its answer was lost (read timeout, dropped connection), so it may have
    happened; the person is told to look before trying again (the form's
    Idempotency-Key makes a resubmission of the same form one change)."""

    def __init__(self, *args, maybe_done: bool = False) -> None:
        super().__init__(*args)
        self.maybe_done = maybe_done


@dataclass
class Answer:
    status: int
    body: Any = None
    etag: str | None = None
    problem: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def problem_code(self) -> str:
        t = str(self.problem.get("type", ""))
        return t.removeprefix(PROBLEM) if t.startswith(PROBLEM) else f"http-{self.status}"


class AdminApi:
    def __init__(self, settings: Settings, client: Any, http: httpx.AsyncClient) -> None:
        self.settings = settings
        self.client = client  # Authlib's registered GovID client
        self.http = http
        self.base = f"{settings.issuer}/admin/v1"
        # GovID rotates refresh tokens and treats a second use as theft (the whole family
        # is revoked). Two requests of one session (two tabs) must not both refresh: the
        # second waits and takes the first one's result. Per process; one worker.
        self._refresh_locks: dict[str, asyncio.Lock] = {}
        self._refreshed: dict[str, tuple[float, dict]] = {}

    async def call(
        self,
        session: dict,
        method: str,
        path: str,
        *,
        params: dict | None = None,
        json: Any = None,
        headers: dict | None = None,
        content: bytes | None = None,
        timeout: float | None = None,
    ) -> Answer:
        tokens = session.get("tokens")
        if not tokens:
            raise SignInRequired
        if tokens.get("expires_at", 0) < time.time() + 10:
            await self._refresh(session)
        extra = {"content": content} if content is not None else {}
        if timeout is not None:  # a long request (an import) waits longer than a page
            extra["timeout"] = timeout
        r = await self._send(session, method, path, params, json, headers, **extra)
        if r.status_code == 401 and _problem(r).get("type") == PROBLEM + "unauthenticated":
            await self._refresh(session)  # revoked or expired early: one more try
            r = await self._send(session, method, path, params, json, headers, **extra)
        if r.status_code == 401:
            raise SignInRequired  # insufficient-assurance, or still not accepted
        body = None
        if r.headers.get("content-type", "").split(";")[0].endswith("json"):
            body = r.json()
        return Answer(
            status=r.status_code,
            body=body,
            etag=r.headers.get("etag"),
            problem=body if r.status_code >= 400 and isinstance(body, dict) else {},
        )

    async def _send(self, session, method, path, params, json, headers, **extra) -> httpx.Response:
        h = {"Authorization": f"Bearer {session['tokens']['access_token']}", **(headers or {})}
        try:
            return await self.http.request(
                method, f"{self.base}{path}", params=params, json=json, headers=h, **extra
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            raise Unavailable from exc  # never reached GovID: nothing happened
        except httpx.TransportError as exc:
            raise Unavailable(maybe_done=method not in ("GET", "HEAD")) from exc

    async def _refresh(self, session: dict) -> None:
        tokens = session["tokens"]
        rt = tokens.get("refresh_token")
        if not rt:
            raise SignInRequired
        lock = self._refresh_locks.setdefault(rt, asyncio.Lock())
        async with lock:
            now = time.time()
            for old in [k for k, (at, _) in self._refreshed.items() if at < now - 60]:
                self._refreshed.pop(old, None)
                self._refresh_locks.pop(old, None)
            done = self._refreshed.get(rt)
            if done:
                session["tokens"] = {**tokens, **done[1]}
                return
            try:
                new = await oidc.refresh(self.settings, self.client, rt)
            except httpx.TransportError as exc:
                raise Unavailable from exc
            if not new:
                session.pop("tokens", None)
                raise SignInRequired
            fresh = {
                "access_token": new["access_token"],
                "refresh_token": new.get("refresh_token", rt),
                "expires_at": int(now) + int(new.get("expires_in", 60)),
            }
            self._refreshed[rt] = (now, fresh)
            session["tokens"] = {**tokens, **fresh}


def idempotency_key() -> str:
    return str(uuid.uuid4())


def _problem(r: httpx.Response) -> dict:
    try:
        body = r.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}
