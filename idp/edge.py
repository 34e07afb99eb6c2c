"""The edge: what every HTTP request goes through before and after the app, in ONE pure
ASGI middleware (decision 0027). Each concern keeps its rules in its own module; this is
only the order they apply in (outermost first):

1. the request id and the log context (``idp.logs``), returned in ``X-Request-ID``;
2. the metrics: the answer's status and latency per route template (``idp.metrics``);
3. the client's address behind the trusted proxies (``idp.net``), when configured;
4. the security headers and CORS (``idp.web.security``); a CORS preflight is answered
   here (it gets the request id, not the page headers);
5. the body limit (``idp.body_limit``): 413 before the body is read;
6. the rate limits (``idp.ratelimit.hooks``), everything but ``/token``.

Refusals (413, 429) pass through 1-4 like any answer: they carry the request id and the
security headers and are counted. Six middlewares did this before, each a coroutine and
a ``send`` wrapper of its own that every answer and every resumed await went through:
~0.3 M of a userinfo's ~1.2 M instructions (decision 0027).
"""

from __future__ import annotations

import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from idp import body_limit, metrics
from idp.config import Settings
from idp.logs import CLIENT_ID, HEADER, REQUEST_ID, request_id_of
from idp.net import ClientAddress, behind_proxies
from idp.ratelimit.budget import RateLimiter
from idp.ratelimit.hooks import RateLimits
from idp.web import security


class Edge:
    def __init__(
        self,
        app: ASGIApp,
        *,
        settings: Settings,
        limiter: RateLimiter,
        client_address: ClientAddress | None = None,
    ) -> None:
        self.app = app
        self.https = settings.issuer.startswith("https://")
        self.bodies = body_limit.BodyLimits(settings)
        self.rates = RateLimits(limiter)
        self.client_address = client_address  # IDP_TRUSTED_PROXIES set

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            if self.client_address is not None and scope["type"] == "websocket":
                behind_proxies(scope, self.client_address)
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        rid = request_id_of(scope)
        raw_id = rid.encode()
        rid_token = REQUEST_ID.set(rid)
        client_token = CLIENT_ID.set(None)
        path: str = scope["path"]
        cors = path in security.CORS_PATHS
        https = self.https
        status = 500

        async def answer(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = security.with_defaults(message.get("headers") or [], cors, https)
                headers.append((HEADER, raw_id))
                message["headers"] = headers
            await send(message)

        try:
            if self.client_address is not None:
                behind_proxies(scope, self.client_address)
            if cors and scope["method"] == "OPTIONS":

                async def preflight(message: Message) -> None:
                    nonlocal status
                    if message["type"] == "http.response.start":
                        status = message["status"]
                        message["headers"] = [*message["headers"], (HEADER, raw_id)]
                    await send(message)

                await security.preflight(preflight)
            else:
                kind, limit, declared, streamed = self.bodies.check(scope)
                if declared is not None and declared > limit:
                    await body_limit.refuse(scope, receive, answer, kind, limit)
                elif streamed:
                    await self._counted(scope, receive, answer, kind, limit)
                else:  # the server delivers no more than Content-Length (or no body)
                    await self._rated(scope, receive, answer)
        finally:
            metrics.count_request(scope, status, started)
            CLIENT_ID.reset(client_token)
            REQUEST_ID.reset(rid_token)

    async def _counted(self, scope: Scope, receive: Receive, send: Send, kind, limit) -> None:
        """A body streamed without Content-Length, counted as the app reads it."""
        counted = body_limit.Counted(receive, send, limit)
        try:
            await self._rated(scope, counted.receive, counted.send)
        except Exception:
            if not counted.over:
                raise
        if counted.refused:
            await body_limit.refuse(scope, receive, send, kind, limit)

    async def _rated(self, scope: Scope, receive: Receive, send: Send) -> None:
        """The rate limits, then the app."""
        surface = self.rates.surface(scope["path"])
        if surface is None:
            await self.app(scope, receive, send)
        elif isinstance(surface, tuple):  # the admin API, SCIM: by caller
            await self.rates.by_caller(surface, self.app, scope, receive, send)
        else:
            refusal = await self.rates.take_address(scope)
            if refusal is not None:
                await refusal(scope, receive, send)
            else:
                await self.app(scope, receive, send)
