"""A refresh (RFC 6749 §6, rotation per RFC 9700 §4.14.2) on the event loop, PostgreSQL
(decision 0026): no thread, no ORM, no session.

1. the presented token's family (token, grant, account, agency) is read in one narrow
   statement on the loop's connection (``idp.pg_reads``, ``tokens.rotation.FAMILY``);
2. Authlib's refresh grant runs inline on it (client authentication from the client
   cache, the scope check, the access token signed): the grant leaves the rotation on
   the request instead of writing it;
3. the rotation (old token marked used, its successor inserted: one statement) and the
   token's audit event are committed together by the group-commit writer, in its
   transaction, before the answer leaves (``idp.audit.batch.Guard``). The chain's lock
   is taken once per batch, not per refresh.

When the rotation changes nothing (the token was rotated or its family revoked since the
read), nothing of this request was written and the thread path answers it from the
start: it finds the token used and revokes the family (reuse), or refuses it. Anything
the inline grant cannot do without a session raises ``NeedsDatabase`` before anything
is written; the caller then takes the thread path too (None here).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from idp.audit.batch import Guard
from idp.crypto import sha256_hex
from idp.oidc.context import NeedsDatabase, RefreshAhead
from idp.oidc.routes.forms import make_ctx, oauth_request, with_no_store
from idp.oidc.server import server_for
from idp.services import Services
from idp.tokens import rotation

MAX_TOKEN = 512  # ours are 43 characters; anything longer is answered by the thread path


def inline_possible(services: Services, form: list[tuple[str, str]]) -> bool:
    """PostgreSQL (a loop reader and the group-commit writer), and no private_key_jwt
    (its replay cache is a write of its own)."""
    return services.pg_reader is not None and not any(
        k == "client_assertion" or k == "resource" for k, _ in form
    )


async def refresh_on_loop(
    request: Request, services: Services, form: list[tuple[str, str]]
) -> Response | None:
    """The answer to a refresh, or None: the thread path answers instead."""
    value = next((v for k, v in form if k == "refresh_token"), None)
    if not value or len(value) > MAX_TOKEN:
        return None
    row = await services.pg_reader.one(rotation.FAMILY, {"token_hash": sha256_hex(value)})
    ctx = make_ctx(request, None, services)
    ctx.refresh_ahead = RefreshAhead(value, rotation.Family.of(value, row))
    req = oauth_request(request, form, ctx.issuer, query=[])
    try:
        response = with_no_store(server_for(ctx).create_token_response(req))
    except NeedsDatabase:
        return None  # nothing was written or sent
    events = ctx.pending_audit or []
    rotated = req.govid.rotation
    if rotated is None:  # refused: its audit event, if any, then the answer
        await services.audit_batcher.commit(events)
        return response
    guard = Guard(rotation.ROTATE, rotated.params, rotated.order)
    if not await services.audit_batcher.commit(events, guard):
        return None  # rotated or revoked since the read: nothing written
    return response
