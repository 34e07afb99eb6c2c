"""Registering an API (RFC 8707): what an identifier, a scope and a name may be, and
create, change, rotate its introspection secret, disable or enable, each audited. The
vocabulary and the rules the protocol applies are ``idp.resources.service``; the
caller's authority is ``idp.resources.manage``; the CLI is ``idp.cli.apis``. No web
framework here."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.audit import service as audit
from idp.clients.models import Client
from idp.crypto import random_token, sha256_hex
from idp.errors import Conflict, InvalidInput
from idp.resources.models import SHARED_WITH, ApiResource, ApiScope
from idp.resources.service import (
    GOVID_SCOPES,
    RESERVED_PREFIXES,
    scopes_of,
)

_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")
MAX_SCOPES = 50


@dataclass(frozen=True)
class NewApi:
    agency_code: str
    identifier: str
    name_th: str
    name_en: str
    scopes: Sequence[str]
    shared_with: str = "agency"
    introspection: bool = True


@dataclass(frozen=True)
class ApiChanges:
    """None leaves a field as it is; ``scopes`` replaces the whole list."""

    name_th: str | None = None
    name_en: str | None = None
    scopes: Sequence[str] | None = None
    shared_with: str | None = None
    introspection: bool | None = None


# ----------------------------------------------------------------------- validation


def validate_identifier(value: str, *, issuer: str, field: str = "identifier") -> str:
    """RFC 8707 §2: an absolute URI (RFC 3986 §4.3) without a fragment. Compared as a
    string: what an API checks in ``aud`` is exactly what was registered."""
    if not isinstance(value, str) or not value or len(value) > 512:
        raise InvalidInput("the identifier must be a URI of 1-512 characters", field=field)
    if any(ord(c) <= 0x20 or ord(c) >= 0x7F for c in value):
        raise InvalidInput(
            f"the identifier must be printable ASCII without spaces: {value!r}", field=field
        )
    try:
        parts = urlsplit(value)
    except ValueError as exc:
        raise InvalidInput(f"malformed URI: {value!r}", field=field) from exc
    if not parts.scheme or not re.match(r"^[A-Za-z][A-Za-z0-9+.-]*$", parts.scheme):
        raise InvalidInput(
            f"the identifier must be an absolute URI, such as https://api.agency.go.th/: {value!r}",
            field=field,
        )
    if parts.scheme.lower() in ("http", "https") and not parts.netloc:
        raise InvalidInput(f"the identifier has no host: {value!r}", field=field)
    if "#" in value:
        raise InvalidInput(
            f"the identifier must not have a fragment (RFC 8707 §2): {value!r}", field=field
        )
    if value.rstrip("/") == issuer.rstrip("/"):
        raise InvalidInput(
            "the identifier is GovID's own (its issuer); choose the API's base URI", field=field
        )
    return value


def validate_scope(value: str) -> str:
    if not isinstance(value, str) or not _SCOPE_TOKEN.match(value):
        raise InvalidInput(
            f"scope {value!r} is not a scope token (RFC 6749 §3.3: 1-128 printable "
            "characters, no space, quote or backslash)",
            field="scopes",
        )
    if value in GOVID_SCOPES or value.startswith(RESERVED_PREFIXES):
        raise InvalidInput(
            f"scope {value!r} is GovID's own; an API's scopes need names of their own "
            "(for example dopa.population:read)",
            field="scopes",
        )
    return value


def _check_scopes(session: Session, scopes: Iterable[str], api_id: uuid.UUID | None) -> list[str]:
    values = sorted({validate_scope(s) for s in scopes})
    if not values:
        raise InvalidInput("an API needs at least one scope", field="scopes")
    if len(values) > MAX_SCOPES:
        raise InvalidInput(f"an API has at most {MAX_SCOPES} scopes", field="scopes")
    taken = session.execute(
        select(ApiScope.value, ApiScope.api_id).where(ApiScope.value.in_(values))
    ).all()
    taken_elsewhere = [v for v, owner in taken if owner != api_id]
    if taken_elsewhere:
        raise Conflict(
            f"scope(s) {', '.join(sorted(taken_elsewhere))} already belong to another API; "
            "API scopes are unique across GovID (prefix them with your API's name)",
            field="scopes",
        )
    return values


def _shared_with(value: str) -> str:
    if value not in SHARED_WITH:
        raise InvalidInput(
            f"shared_with must be one of {', '.join(SHARED_WITH)}", field="shared_with"
        )
    return value


def _name(value: str, field: str) -> str:
    value = (value or "").strip()
    if not value or len(value) > 255:
        raise InvalidInput(f"{field} must be 1-255 characters", field=field)
    return value


# ----------------------------------------------------------------------- registration


def _new_credentials(
    session: Session, agency_id: uuid.UUID, name_th: str, name_en: str
) -> tuple[str, str]:
    """The API's own client for introspection (RFC 7662 §2.1: the protected resource
    authenticates), like a Keycloak bearer-only client: a secret, no grant types, no
    redirect URIs, no scopes, so it can obtain no token of any kind."""
    client_id = f"api-{random_token(12)}"
    secret = random_token(32)  # 256 bits; only its SHA-256 is stored
    session.add(
        Client(
            client_id=client_id,
            agency_id=agency_id,
            name_th=name_th,
            name_en=name_en,
            token_endpoint_auth_method="client_secret_basic",  # noqa: S106 - a method name
            secret_hash=sha256_hex(secret),
            redirect_uris=[],
            post_logout_redirect_uris=[],
            grant_types=[],
            scopes=[],
            resource_server=True,
        )
    )
    session.flush()
    return client_id, secret


def create(
    session: Session, data: NewApi, *, issuer: str, actor: str | None = None
) -> tuple[ApiResource, str | None]:
    """Register an API; returns it and its introspection secret (shown once; None when
    it may not introspect)."""
    agency = agencies.get_by_code(session, data.agency_code)
    identifier = validate_identifier(data.identifier, issuer=issuer)
    if session.scalar(select(ApiResource.id).where(ApiResource.identifier == identifier)):
        raise Conflict(f"an API with identifier {identifier!r} exists", field="identifier")
    name_th, name_en = _name(data.name_th, "name_th"), _name(data.name_en, "name_en")
    shared_with = _shared_with(data.shared_with)
    values = _check_scopes(session, data.scopes, None)
    client_id = secret = None
    if data.introspection:
        client_id, secret = _new_credentials(session, agency.id, name_th, name_en)
    api = ApiResource(
        identifier=identifier,
        agency_id=agency.id,
        name_th=name_th,
        name_en=name_en,
        shared_with=shared_with,
        introspection=bool(data.introspection),
        client_id=client_id,
    )
    session.add(api)
    session.flush()
    session.add_all(ApiScope(value=v, api_id=api.id) for v in values)
    session.flush()
    audit.record(
        session,
        "admin.api.created",
        actor=actor,
        agency_id=agency.id,
        subject=str(api.id),
        client_id=api.client_id,
        details={
            "identifier": identifier,
            "scopes": values,
            "shared_with": api.shared_with,
            "introspection": api.introspection,
        },
    )
    return api, secret


def _holders(session: Session, values: set[str]) -> list[str]:
    """Client ids holding any of ``values`` (client scopes are a JSON list: read them)."""
    return sorted(
        cid
        for cid, scopes in session.execute(select(Client.client_id, Client.scopes))
        if values & set(scopes or ())
    )


def update(
    session: Session, api: ApiResource, changes: ApiChanges, *, actor: str | None = None
) -> tuple[list[str], str | None]:
    """Apply ``changes``; returns the changed field names and, when introspection was
    turned on for an API without credentials, their new secret (shown once)."""
    if api.status != "active":
        raise Conflict("a disabled API cannot be changed; enable it first", field="status")
    changed: list[str] = []
    details: dict = {}
    for name in ("name_th", "name_en"):
        value = getattr(changes, name)
        if value is not None and _name(value, name) != getattr(api, name):
            setattr(api, name, _name(value, name))
            changed.append(name)
    if changes.shared_with is not None and _shared_with(changes.shared_with) != api.shared_with:
        details["shared_with"] = {"before": api.shared_with, "after": changes.shared_with}
        api.shared_with = changes.shared_with
        changed.append("shared_with")
    if changes.scopes is not None:
        before = scopes_of(session, api)
        after = _check_scopes(session, changes.scopes, api.id)
        removed = set(before) - set(after)
        if removed:
            # A freed scope could be registered by another API, and the apps holding it
            # would then get that API's tokens: take it from the apps first.
            holders = _holders(session, removed)
            if holders:
                raise Conflict(
                    f"scope(s) {', '.join(sorted(removed))} are held by {len(holders)} "
                    "app(s); remove them from those apps first",
                    field="scopes",
                )
            for row in session.scalars(select(ApiScope).where(ApiScope.value.in_(removed))):
                session.delete(row)
        session.add_all(ApiScope(value=v, api_id=api.id) for v in set(after) - set(before))
        if before != after:
            details["scopes"] = {"before": before, "after": after}
            changed.append("scopes")
    secret = None
    if changes.introspection is not None and changes.introspection != api.introspection:
        api.introspection = changes.introspection
        changed.append("introspection")
        if api.introspection and api.client_id is None:
            api.client_id, secret = _new_credentials(
                session, api.agency_id, api.name_th, api.name_en
            )
    if any(n in changed for n in ("name_th", "name_en")) and api.client_id:
        cred = session.scalars(select(Client).where(Client.client_id == api.client_id)).one()
        cred.name_th, cred.name_en = api.name_th, api.name_en
    if not changed:
        return [], None
    session.flush()
    audit.record(
        session,
        "admin.api.updated",
        actor=actor,
        agency_id=api.agency_id,
        subject=str(api.id),
        client_id=api.client_id,
        details={"changed": sorted(changed), **details},
    )
    return sorted(changed), secret


def rotate_secret(session: Session, api: ApiResource, *, actor: str | None = None) -> str:
    if api.status != "active":
        raise Conflict("a disabled API cannot be changed; enable it first", field="status")
    if api.client_id is None:
        raise Conflict(
            "this API has no introspection credentials; turn introspection on first",
            field="introspection",
        )
    cred = session.scalars(select(Client).where(Client.client_id == api.client_id)).one()
    secret = random_token(32)
    cred.secret_hash = sha256_hex(secret)
    session.flush()
    audit.record(
        session,
        "admin.api.secret_rotated",
        actor=actor,
        agency_id=api.agency_id,
        subject=str(api.id),
        client_id=api.client_id,
        details={"client_id": api.client_id},
    )
    return secret


def set_status(
    session: Session, api: ApiResource, status: str, *, actor: str | None = None
) -> bool:
    """Disable (no new tokens for it, its credentials stop working; the row and its scopes
    stay, so no other API can take them) or enable. False when it already was."""
    if status not in ("active", "disabled"):
        raise InvalidInput("status must be active or disabled", field="status")
    if api.status == status:
        return False
    api.status = status
    if api.client_id:
        cred = session.scalars(select(Client).where(Client.client_id == api.client_id)).one()
        cred.status = status
    session.flush()
    audit.record(
        session,
        "admin.api.disabled" if status == "disabled" else "admin.api.enabled",
        actor=actor,
        agency_id=api.agency_id,
        subject=str(api.id),
        client_id=api.client_id,
        details={"identifier": api.identifier},
    )
    return True
