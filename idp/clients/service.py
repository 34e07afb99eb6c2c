"""Client registration and its changes, in one place for the CLI and the admin API (what
a registration may be: ``idp.clients.rules``). Secrets are shown once and stored as
SHA-256. Who may do what (agency subtree, operator-only scopes, scopes held) is decided
by the caller (``idp.clients.manage``); what a registration may *be* is decided here."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.audit import service as audit
from idp.clients.models import SECRET_METHODS, Client
from idp.clients.rules import Limits, check_registration, default_limits
from idp.crypto import constant_time_equal, random_identifier, random_token, sha256_hex
from idp.errors import Conflict, InvalidInput, NotFound
from idp.resources import service as api_resources
from idp.resources.models import ApiResource

# RFC 6749 Appendix A.1: a client_id is VSCHARs (%x20-7E; Basic sends it form-encoded,
# §2.3.1), here 1-128 of them, not starting with '-' (command lines read it as an option)
# nor starting or ending with a space.
_CLIENT_ID = re.compile(r"(?=[\x21-\x2c\x2e-\x7e])[\x20-\x7e]{1,128}(?<=[\x21-\x7e])")


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
    policy_uri: str | None = None  # the app's own privacy notice, https
    min_acr: str | None = None
    first_party: bool = False
    jwks: dict | None = None
    client_id: str | None = None
    id_token_signed_response_alg: str = "RS256"
    access_token_ttl: int | None = None  # None: the server's (IDP_ACCESS_TOKEN_TTL)
    refresh_token_ttl: int | None = None  # None: the server's (IDP_REFRESH_TOKEN_TTL)
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class ClientChanges:
    """A change to a registration; None leaves a field as it is, ``clear_*`` removes an
    optional one (back to none, or to the server's default lifetime)."""

    name_th: str | None = None
    name_en: str | None = None
    redirect_uris: Sequence[str] | None = None
    post_logout_redirect_uris: Sequence[str] | None = None
    backchannel_logout_uri: str | None = None
    clear_backchannel_logout_uri: bool = False
    policy_uri: str | None = None
    clear_policy_uri: bool = False
    scopes: Sequence[str] | None = None
    min_acr: str | None = None
    clear_min_acr: bool = False
    grant_types: Sequence[str] | None = None
    id_token_signed_response_alg: str | None = None
    access_token_ttl: int | None = None
    clear_access_token_ttl: bool = False
    refresh_token_ttl: int | None = None
    clear_refresh_token_ttl: bool = False

    def asked(self) -> list[str]:
        """The names of the fields this change touches."""
        return sorted(
            {
                f.name.removeprefix("clear_")
                for f in fields(self)
                if getattr(self, f.name) not in (None, False)
            }
        )


def _api_scopes(session: Session, agency, scopes: Sequence[str]) -> frozenset[str]:
    """The scopes of registered APIs (RFC 8707) among ``scopes``: each must be of an API
    that apps of ``agency`` may use (docs/decisions/0011-api-resources.md), else
    ``InvalidScope`` names it."""
    api_resources.check_client_scopes(session, agency, scopes)
    return frozenset(scopes) - api_resources.GOVID_SCOPES


def create(
    session: Session,
    data: NewClient,
    *,
    actor: str | None = None,
    limits: Limits | None = None,
) -> tuple[Client, str | None]:
    """Register a client; returns it and its secret (None for public/private_key_jwt)."""
    agency = agencies.get_by_code(session, data.agency_code)
    api_scopes = _api_scopes(session, agency, data.scopes)
    r = check_registration(
        {
            "name_th": data.name_th,
            "name_en": data.name_en,
            "token_endpoint_auth_method": data.auth_method,
            "grant_types": data.grant_types,
            "redirect_uris": data.redirect_uris,
            "post_logout_redirect_uris": data.post_logout_redirect_uris,
            "backchannel_logout_uri": data.backchannel_logout_uri,
            "policy_uri": data.policy_uri,
            "scopes": data.scopes,
            "min_acr": data.min_acr,
            "jwks": data.jwks,
            "id_token_signed_response_alg": data.id_token_signed_response_alg,
            "access_token_ttl": data.access_token_ttl,
            "refresh_token_ttl": data.refresh_token_ttl,
        },
        limits or default_limits(),
        api_scopes=api_scopes,
    )
    client_id = data.client_id or random_identifier(16)
    if data.client_id is not None and not _CLIENT_ID.fullmatch(client_id):
        raise InvalidInput(
            "client_id: 1-128 printable ASCII characters (RFC 6749 VSCHAR), not starting "
            "with '-' and not starting or ending with a space",
            field="client_id",
        )
    if session.scalar(select(Client.id).where(Client.client_id == client_id)):
        raise InvalidInput(f"client_id {client_id!r} is taken", field="client_id")
    secret = None
    if data.auth_method in SECRET_METHODS:
        secret = random_token(32)  # 256 bits
    client = Client(
        client_id=client_id,
        agency_id=agency.id,
        secret_hash=sha256_hex(secret) if secret else None,
        first_party=data.first_party,
        **{**r, **data.extra},
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
            "redirect_uris": r["redirect_uris"],
            **({"policy_uri": r["policy_uri"]} if r["policy_uri"] else {}),
        },
    )
    return client, secret


# Fields whose old and new values go into the audit event (URIs are where a client's
# codes, tokens and people are sent: an auditor must see where to, before and after).
AUDITED_VALUES = (
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "policy_uri",
)
_REGISTRATION = (
    "name_th",
    "name_en",
    "token_endpoint_auth_method",
    "grant_types",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
    "policy_uri",
    "scopes",
    "min_acr",
    "jwks",
    "id_token_signed_response_alg",
    "access_token_ttl",
    "refresh_token_ttl",
)


# Decision 0011: an API's own client only introspects; it can obtain no token. Nothing
# that would let it ask for tokens or receive them may be set on it.
_INTROSPECTION_ONLY_FIXED = (
    "grant_types",
    "scopes",
    "redirect_uris",
    "post_logout_redirect_uris",
    "backchannel_logout_uri",
)


def _keep_introspection_only(session: Session, client: Client, new: set[str]) -> None:
    fixed = sorted(set(new) & set(_INTROSPECTION_ONLY_FIXED))
    if fixed and session.scalar(
        select(ApiResource.id).where(ApiResource.client_id == client.client_id)
    ):
        raise InvalidInput(
            "this client is an API's introspection credential and can obtain no token; "
            f"{', '.join(fixed)} cannot be set on it (register an app for tokens)",
            field=fixed[0],
        )


def ensure_changeable(client: Client) -> None:
    if client.status != "active":
        raise Conflict("a disabled client cannot be changed; enable it first", field="status")


def update(
    session: Session,
    client: Client,
    changes: ClientChanges,
    *,
    actor: str | None,
    limits: Limits | None = None,
) -> list[str]:
    """Apply ``changes`` if the resulting registration obeys ``check_registration``;
    returns the names of the fields that changed (nothing is written or audited when
    none did). One ``admin.client.updated`` event names them, with the redirect URIs'
    values before and after."""
    ensure_changeable(client)
    current = {name: getattr(client, name) for name in _REGISTRATION}
    current = {
        **current,
        "grant_types": list(current["grant_types"] or []),
        "redirect_uris": list(current["redirect_uris"] or []),
        "post_logout_redirect_uris": list(current["post_logout_redirect_uris"] or []),
        "scopes": sorted(current["scopes"] or []),
    }
    wanted = dict(current)
    for name in ("name_th", "name_en", "backchannel_logout_uri", "policy_uri", "min_acr"):
        if getattr(changes, name) is not None:
            wanted[name] = getattr(changes, name)
    for name in ("redirect_uris", "post_logout_redirect_uris", "scopes", "grant_types"):
        if getattr(changes, name) is not None:
            wanted[name] = list(getattr(changes, name))
    for name in ("id_token_signed_response_alg", "access_token_ttl", "refresh_token_ttl"):
        if getattr(changes, name) is not None:
            wanted[name] = getattr(changes, name)
    for name in (
        "backchannel_logout_uri",
        "policy_uri",
        "min_acr",
        "access_token_ttl",
        "refresh_token_ttl",
    ):
        if getattr(changes, f"clear_{name}"):
            wanted[name] = None
    _keep_introspection_only(session, client, {k for k in wanted if wanted[k] != current[k]})
    api_scopes = _api_scopes(session, agencies.get(session, client.agency_id), wanted["scopes"])
    wanted = check_registration(wanted, limits or default_limits(), api_scopes=api_scopes)
    new = {k: v for k, v in wanted.items() if v != current[k]}
    if not new:
        return []
    details: dict[str, Any] = {"changed": sorted(new)}
    for name in AUDITED_VALUES:
        if name in new:
            details[name] = {"before": current[name], "after": new[name]}
    for name, value in new.items():
        setattr(client, name, value)
    session.flush()
    audit.record(
        session,
        "admin.client.updated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.client_id,
        details=details,
    )
    return sorted(new)


def rotate_secret(session: Session, client: Client, *, actor: str | None) -> str:
    """A new secret (shown once; the old one stops working at once in this process and
    within ``IDP_CLIENT_CACHE_SECONDS`` in others)."""
    if client.token_endpoint_auth_method not in SECRET_METHODS:
        raise Conflict("this client authenticates without a shared secret", field="auth_method")
    ensure_changeable(client)
    secret = random_token(32)  # 256 bits; only its SHA-256 is stored
    client.secret_hash = sha256_hex(secret)
    session.flush()
    audit.record(
        session,
        "admin.client.secret_rotated",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.client_id,
        details={"client_id": client.client_id},
    )
    return secret


def set_status(session: Session, client: Client, status: str, *, actor: str | None) -> bool:
    """Disable (the row stays, so tokens and audit events still resolve; its tokens stop
    working at once) or enable a client. False when it already was."""
    if status not in ("active", "disabled"):
        raise InvalidInput("status must be active or disabled", field="status")
    if client.status == status:
        return False
    client.status = status
    session.flush()
    audit.record(
        session,
        "admin.client.disabled" if status == "disabled" else "admin.client.enabled",
        actor=actor,
        agency_id=client.agency_id,
        client_id=client.client_id,
        details={"client_id": client.client_id},
    )
    return True


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
