"""The Authlib AuthorizationServer adapted to FastAPI (decision 0008).

Authlib is synchronous; routes that use it are plain ``def`` and run in FastAPI's
threadpool. Form bodies are parsed by an async dependency (``form_params`` in
idp.oidc.routes.forms) before the sync route runs, so the adapter below only reads what
Starlette already has. One server object serves the process; each request binds its
``OidcContext`` (database session, services) with ``server_for``.
"""

from __future__ import annotations

import json
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.oauth2 import AuthorizationServer
from authlib.oauth2.rfc6749 import (
    InsecureTransportError,
    InvalidScopeError,
    JsonPayload,
    JsonRequest,
    OAuth2Payload,
    OAuth2Request,
)
from authlib.oauth2.rfc6749.util import scope_to_list
from starlette.responses import Response

from idp.oidc import claims as oidc_claims
from idp.oidc import endpoints, grants, refusals
from idp.oidc.context import OidcContext
from idp.oidc.models import ClientAdapter
from idp.resources import service as api_resources


class ParamsPayload(OAuth2Payload):
    def __init__(self, pairs: Iterable[tuple[str, str]]) -> None:
        self._datalist: defaultdict[str, list[str]] = defaultdict(list)
        for k, v in pairs:
            self._datalist[k].append(v)
        # The first value of each name (duplicates are rejected where it matters).
        self._data = {k: v[0] for k, v in self._datalist.items()}

    @property
    def data(self) -> dict[str, str]:
        return self._data

    @property
    def datalist(self) -> defaultdict[str, list[str]]:
        return self._datalist


# URIs already found to be https (or loopback http): the endpoints' own, a handful.
_SECURE_URIS: set[str] = set()


def _check_transport(uri: str) -> None:
    """Authlib's ``InsecureTransportError.check``, which parses the URI (``urlsplit``,
    ``hostname``, an ``ipaddress`` for loopback) on every request: ~4 % of a machine
    token (decision 0014). Our request URIs are the issuer plus an endpoint path, so a
    URI found secure by itself once is remembered (not one let through only by
    ``AUTHLIB_INSECURE_TRANSPORT``)."""
    if uri in _SECURE_URIS:
        return
    if not is_secure_transport(uri):
        raise InsecureTransportError()
    if not os.environ.get("AUTHLIB_INSECURE_TRANSPORT") and len(_SECURE_URIS) < 256:
        _SECURE_URIS.add(uri)


@dataclass(slots=True)
class RequestState:
    """What GovID's grants and hooks note about one token or authorization request while
    Authlib handles it (one typed place instead of attributes added to the request)."""

    ctx: Any = None  # the OidcContext the grant ran with (the ID token hook needs it)
    grant: Any = None  # the tokens.models.Grant being issued from
    account: Any = None  # the refresh token's account, read with it
    code_row: Any = None  # the redeemed authorization code's row
    at_claims: dict[str, Any] | None = None  # the access token's claims, once signed
    audit_last: bool = False  # the token's audit event goes in after the ID token
    audit_events: list | None = None  # ... kept here until then
    error: Any = None  # a refusal (an OAuth2Error) for idp.oidc.refusals
    said: str | None = None  # ... and what the answer said about it
    claims: dict | None = None  # the authorization request's `claims` (OIDC Core §5.5)
    resources: list[str] | None = None  # its `resource` indicators (RFC 8707)
    rotation: Any = None  # a refresh on the event loop: its tokens.rotation.Rotation


class GovIDOAuth2Request(OAuth2Request):
    """An OAuth2Request built from already-parsed query/form pairs."""

    def __init__(
        self,
        method: str,
        uri: str,
        *,
        query: Iterable[tuple[str, str]] = (),
        form: Iterable[tuple[str, str]] = (),
        headers: Mapping[str, str] | None = None,
    ) -> None:
        # OAuth2Request.__init__'s attributes, with the transport check remembered.
        _check_transport(uri)
        self.method = method
        self.uri = uri
        self.headers = headers or {}
        self._body = None
        self.client = None
        self.auth_method = None
        self.user = None
        self.authorization_code = None
        self.refresh_token = None
        self.credential = None
        self._scope = None
        self._query = list(query)
        self._form = list(form)
        self.payload: ParamsPayload = ParamsPayload(self._query + self._form)
        self.govid = RequestState()

    @cached_property
    def args(self) -> dict[str, str]:  # type: ignore[override]  # parsed pairs: never None
        return dict(reversed(self._query))

    @cached_property
    def form(self) -> dict[str, str]:
        return dict(reversed(self._form))


class _JsonPayload(JsonPayload):
    def __init__(self, data: dict[str, Any]) -> None:
        self._data = data

    @property
    def data(self) -> dict[str, Any]:
        return self._data


class GovIDJsonRequest(JsonRequest):
    def __init__(self, method: str, uri: str, headers: dict[str, str], body: bytes) -> None:
        super().__init__(method, uri, headers)
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            data = {}
        self.payload = _JsonPayload(data if isinstance(data, dict) else {})


# The request's OidcContext. Each request runs in its own copy of the context (its ASGI
# task, or the thread-pool call), so one server object serves every request.
_REQUEST_CTX: ContextVar[OidcContext] = ContextVar("govid_oidc_ctx")


def server_for(ctx: OidcContext) -> GovIDAuthorizationServer:
    """The process's Authlib server, bound to ``ctx`` for the rest of this request.

    Authlib's server keeps no per-request state (grants and requests are made per call);
    building it, with its grants and endpoints, for every request cost more than a
    machine token's client authentication (decision 0008)."""
    global _SERVER
    _REQUEST_CTX.set(ctx)
    if _SERVER is None:
        _SERVER = GovIDAuthorizationServer()
    return _SERVER


class GovIDAuthorizationServer(AuthorizationServer):
    def __init__(self) -> None:
        super().__init__(scopes_supported=oidc_claims.SCOPES_SUPPORTED)
        self.register_grant(
            grants.AuthorizationCodeGrant,
            [grants.S256CodeChallenge(required=True), grants.GovIDOpenIDCode()],
        )
        self.register_grant(grants.RefreshTokenGrant)
        self.register_grant(grants.ClientCredentialsGrant)
        self.register_client_auth_method("private_key_jwt", grants.PrivateKeyJWT(self))
        self.register_client_auth_method(
            "client_secret_basic", grants.authenticate_client_secret_basic
        )
        self.register_endpoint(endpoints.RevocationEndpoint(self))
        self.register_endpoint(endpoints.IntrospectionEndpoint(self))
        self.register_endpoint(endpoints.EndSessionEndpoint(self))
        # How many refused token requests this process audits one by one (refusals.py).
        self.refusal_gate = refusals.RefusalGate()

    @property
    def ctx(self) -> OidcContext:
        return _REQUEST_CTX.get()

    # -- Authlib storage hooks ----------------------------------------------------------
    # Authlib calls it for unknown ids too and expects None (its stubs say ClientMixin).
    def query_client(self, client_id: str) -> ClientAdapter | None:  # type: ignore[override]
        if not isinstance(client_id, str) or len(client_id) > 128:
            return None
        ctx = self.ctx
        row = ctx.services.client_cache.active(client_id, lambda: ctx.db)
        return ClientAdapter(row) if row else None

    def validate_requested_scope(self, scope: str | None) -> None:
        """GovID's scopes, or scopes of registered APIs (RFC 8707); the database is
        read only when a scope is not GovID's own (the inline token path stays off it)."""
        wanted = set(scope_to_list(scope) or [])
        others = wanted - api_resources.GOVID_SCOPES
        if others:
            unknown = sorted(others - set(api_resources.owners(self.ctx.db, others)))
            if unknown:
                raise InvalidScopeError(description=f"Unknown scope(s): {' '.join(unknown)}.")

    def save_token(self, token: dict[str, Any], request: OAuth2Request) -> None:
        grants.audit_token_issued(self.ctx, request, token)

    # -- Authlib framework hooks ----------------------------------------------------------
    def create_oauth2_request(self, request) -> OAuth2Request:
        if isinstance(request, OAuth2Request):
            return request
        raise TypeError("routes must pass a GovIDOAuth2Request")

    def create_json_request(self, request) -> JsonRequest:
        if isinstance(request, JsonRequest):
            return request
        raise TypeError("routes must pass a GovIDJsonRequest")

    def create_token_response(self, request=None):
        response = super().create_token_response(request)
        error = request.govid.error if isinstance(request, GovIDOAuth2Request) else None
        if error is not None:
            # Only refusals come here; an issued token went through save_token instead.
            refusals.record(self.ctx, request, error, request.govid.said, self.refusal_gate)
        return response

    def handle_error_response(self, request, error):
        # RFC 6749 §5.2: one invalid_client answer, whoever asks (no client-id probing).
        said = refusals.hide_client_auth_detail(error)
        if isinstance(request, GovIDOAuth2Request):
            request.govid.error, request.govid.said = error, said
        return super().handle_error_response(request, error)

    def handle_response(self, status: int, body: Any, headers: Any):  # a mapping or pairs
        hdrs = dict(headers or [])
        if isinstance(body, dict):
            content = json.dumps(body).encode()
            hdrs.setdefault("Content-Type", "application/json")
        else:
            content = (body or "").encode() if isinstance(body, str) else (body or b"")
        if status in (400, 401) and "error" in (body if isinstance(body, dict) else {}):
            hdrs.setdefault("Cache-Control", "no-store")
        return Response(content=content, status_code=status, headers=hdrs)

    def send_signal(self, name: str, *args: Any, **kwargs: Any) -> None:
        if name == "after_revoke_token":
            endpoints.audit_revocation(self.ctx, kwargs.get("token"), kwargs.get("client"))


_SERVER: GovIDAuthorizationServer | None = None
