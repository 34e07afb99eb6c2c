"""Client registration. Secrets are shown once and stored as SHA-256 (issue 5)."""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.audit import service as audit
from idp.clients.models import AUTH_METHODS, Client
from idp.crypto import constant_time_equal, random_token, sha256_hex
from idp.errors import InvalidInput, NotFound

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")


@dataclass(frozen=True)
class NewClient:
    agency_code: str
    name_th: str
    name_en: str
    redirect_uris: Sequence[str] = ()
    post_logout_redirect_uris: Sequence[str] = ()
    auth_method: str = "client_secret_basic"
    grant_types: Sequence[str] = ("authorization_code", "refresh_token")
    scopes: Sequence[str] = ("openid", "profile", "email", "govid")
    backchannel_logout_uri: str | None = None
    min_acr: str | None = None
    first_party: bool = False
    jwks: dict | None = None
    client_id: str | None = None
    extra: dict = field(default_factory=dict)


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


def validate_redirect_uri(uri: str, field_name: str = "redirect_uris") -> str:
    """Absolute, no fragment (RFC 6749 §3.1.2), https except loopback (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise InvalidInput(f"malformed URI: {uri!r}", field=field_name) from exc
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise InvalidInput(f"redirect URI must be an absolute URL: {uri!r}", field=field_name)
    if parts.fragment or "#" in uri:
        raise InvalidInput(f"redirect URI must not have a fragment: {uri!r}", field=field_name)
    if parts.username or parts.password:
        raise InvalidInput(f"redirect URI must not carry user info: {uri!r}", field=field_name)
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise InvalidInput(
            f"redirect URI must use https (http only for loopback): {uri!r}", field=field_name
        )
    return uri


def create(
    session: Session, data: NewClient, *, actor: str | None = None
) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (None for public/private_key_jwt)."""
    agency = agencies.get_by_code(session, data.agency_code)
    if data.auth_method not in AUTH_METHODS:
        raise InvalidInput(
            f"auth method must be one of {', '.join(AUTH_METHODS)}", field="auth_method"
        )
    for g in data.grant_types:
        if g not in GRANT_TYPES:
            raise InvalidInput(f"unsupported grant type {g!r}", field="grant_types")
    if "authorization_code" in data.grant_types and not data.redirect_uris:
        raise InvalidInput(
            "an authorization-code client needs a redirect URI", field="redirect_uris"
        )
    if data.auth_method == "none" and "client_credentials" in data.grant_types:
        raise InvalidInput("a public client cannot use client_credentials", field="grant_types")
    if data.auth_method == "private_key_jwt" and not data.jwks:
        raise InvalidInput("private_key_jwt needs the client's public JWKS", field="jwks")
    redirect_uris = [validate_redirect_uri(u) for u in data.redirect_uris]
    logout_uris = [
        validate_redirect_uri(u, "post_logout_redirect_uris")
        for u in data.post_logout_redirect_uris
    ]
    if data.backchannel_logout_uri:
        validate_redirect_uri(data.backchannel_logout_uri, "backchannel_logout_uri")
    client_id = data.client_id or random_token(16)
    if session.scalar(select(Client.id).where(Client.client_id == client_id)):
        raise InvalidInput(f"client_id {client_id!r} is taken", field="client_id")
    secret = None
    if data.auth_method in ("client_secret_basic", "client_secret_post"):
        secret = random_token(32)  # 256 bits
    client = Client(
        client_id=client_id,
        agency_id=agency.id,
        name_th=data.name_th,
        name_en=data.name_en,
        token_endpoint_auth_method=data.auth_method,
        secret_hash=sha256_hex(secret) if secret else None,
        jwks=data.jwks,
        redirect_uris=redirect_uris,
        post_logout_redirect_uris=logout_uris,
        backchannel_logout_uri=data.backchannel_logout_uri,
        grant_types=list(data.grant_types),
        scopes=list(data.scopes),
        min_acr=data.min_acr,
        first_party=data.first_party,
        **data.extra,
    )
    session.add(client)
    session.flush()
    audit.record(
        session,
        "admin.client.created",
        actor=actor,
        agency_id=agency.id,
        client_id=client_id,
        details={
            "client_id": client_id,
            "auth_method": data.auth_method,
            "redirect_uris": redirect_uris,
        },
    )
    return client, secret


def get_by_client_id(session: Session, client_id: str) -> Client:
    client = session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None:
        raise NotFound("no such client", field="client_id")
    return client


def get_active(session: Session, client_id: str) -> Client | None:
    """The active client ``client_id`` (what ``ClientCache`` loads), or None."""
    return session.scalar(
        select(Client).where(Client.client_id == client_id, Client.status == "active")
    )


def check_secret(client: Client, secret: str) -> bool:
    if not client.secret_hash:
        return False
    return constant_time_equal(client.secret_hash, sha256_hex(secret))
