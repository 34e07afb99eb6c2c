"""API resources (RFC 8707): registration and the rules the protocol layer applies.

An agency registers an API (identifier URI, names, its own scopes, who may use it, may it
introspect). Apps hold API scopes in their scope list; a token request naming the API
with ``resource`` gets a token whose ``aud`` is the API and whose scope is only the API's.
Who may give an app an API's scopes: docs/decisions/0011-api-resources.md. No web
framework here; ``idp.resources.manage`` adds the caller's authority, ``idp.cli.apis``
is the CLI.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.clients.models import Client
from idp.crypto import random_token, sha256_hex
from idp.errors import Conflict, DomainError, InvalidInput, NotFound
from idp.resources.models import SHARED_WITH, ApiResource, ApiScope

# GovID's own scopes (discovery's scopes_supported, in its order: the claims of
# idp.oidc.claims and the admin API's) and the prefix of its admin area: never an API's,
# so a token for GovID and a token for an API cannot be confused.
SCOPES_SUPPORTED = [
    "openid",
    "profile",
    "email",
    "govid",
    "citizen_id",
    "offline_access",
    "admin:accounts",
    "admin:clients",
    "admin:audit",
    "scim",
]
GOVID_SCOPES = frozenset(SCOPES_SUPPORTED)
RESERVED_PREFIXES = ("admin:",)
# RFC 6749 §3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E )
_SCOPE_TOKEN = re.compile(r"^[\x21\x23-\x5b\x5d-\x7e]{1,128}$")
MAX_SCOPES = 50


class InvalidTarget(DomainError):
    """RFC 8707 §2: the requested resource is invalid, unknown, or not for this client."""

    code = "invalid_target"


class InvalidScope(InvalidInput):
    """A scope that is neither GovID's nor an API's the client (or its agency) may use."""

    code = "invalid_scope"


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


def get(session: Session, key: str | uuid.UUID) -> ApiResource:
    """By id (UUID) or identifier URI."""
    api = None
    if isinstance(key, uuid.UUID):
        api = session.get(ApiResource, key)
    else:
        try:
            api = session.get(ApiResource, uuid.UUID(key))
        except ValueError:
            api = session.scalar(select(ApiResource).where(ApiResource.identifier == key))
    if api is None:
        raise NotFound("no such API", field="api")
    return api


def scopes_of(session: Session, api: ApiResource) -> list[str]:
    return sorted(session.scalars(select(ApiScope.value).where(ApiScope.api_id == api.id)))


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
        cred = session.scalar(select(Client).where(Client.client_id == api.client_id))
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
    cred = session.scalar(select(Client).where(Client.client_id == api.client_id))
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
        cred = session.scalar(select(Client).where(Client.client_id == api.client_id))
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


# ---------------------------------------------------------------- who may use an API


def may_use(api: ApiResource, api_agency: Agency, client_agency: Agency) -> bool:
    """The API owner's choice (decision 0011): its own agency's apps, its subtree's, or
    every agency's. Checked when an app is given the scopes and at every token."""
    if api.shared_with == "all":
        return True
    if api.shared_with == "subtree":
        return client_agency.path.startswith(api_agency.path)
    return client_agency.id == api.agency_id


def unknown_client_scopes(session: Session, agency: Agency, scopes: Iterable[str]) -> list[str]:
    """The scopes among ``scopes`` that are neither GovID's nor of an API that apps of
    ``agency`` may use (disabled APIs included: the app keeps its registration)."""
    rest = {s for s in scopes if s not in GOVID_SCOPES}
    if not rest:
        return []
    rows = session.execute(
        select(ApiScope.value, ApiResource, Agency)
        .join(ApiResource, ApiResource.id == ApiScope.api_id)
        .join(Agency, Agency.id == ApiResource.agency_id)
        .where(ApiScope.value.in_(rest))
    ).all()
    usable = {value for value, api, api_agency in rows if may_use(api, api_agency, agency)}
    return sorted(rest - usable)


def check_client_scopes(session: Session, agency: Agency, scopes: Iterable[str]) -> None:
    unknown = unknown_client_scopes(session, agency, scopes)
    if unknown:
        raise InvalidScope(
            f"unknown scope(s) {', '.join(unknown)}: neither a GovID scope "
            f"({', '.join(sorted(GOVID_SCOPES))}) nor a scope of an API that apps of agency "
            f"{agency.code} may use (register the API with `idp apis create`, or ask its "
            "owner to share it)",
            field="scopes",
        )


def owners(session: Session, scopes: Iterable[str]) -> dict[str, str]:
    """scope value -> identifier of the API that owns it."""
    wanted = {s for s in scopes if s not in GOVID_SCOPES}
    if not wanted:
        return {}
    return dict(
        session.execute(
            select(ApiScope.value, ApiResource.identifier)
            .join(ApiResource, ApiResource.id == ApiScope.api_id)
            .where(ApiScope.value.in_(wanted))
        ).all()
    )


@dataclass(frozen=True)
class Target:
    identifier: str
    scopes: frozenset[str]  # the API's scopes this client holds


NOT_FOR_YOU = "The resource is unknown, disabled, or not one this app may use."


def check_resource_value(value: str) -> str:
    """RFC 8707 §2: an absolute URI without a fragment, else invalid_target."""
    parts = urlsplit(value) if isinstance(value, str) and len(value) <= 512 else None
    if parts is None or not parts.scheme or "#" in value or any(ord(c) <= 0x20 for c in value):
        raise InvalidTarget("'resource' must be an absolute URI without a fragment.")
    return value


def target_for(session: Session, client: Client, identifier: str) -> Target:
    """The API ``identifier`` if ``client`` may get tokens for it now: the API is active,
    still shared with the client's agency, and the client holds some of its scopes."""
    check_resource_value(identifier)
    api = session.scalar(select(ApiResource).where(ApiResource.identifier == identifier))
    if api is None or api.status != "active":
        raise InvalidTarget(NOT_FOR_YOU)
    api_agency = session.get(Agency, api.agency_id)
    client_agency = session.get(Agency, client.agency_id)
    if not may_use(api, api_agency, client_agency):
        raise InvalidTarget(NOT_FOR_YOU)
    held = frozenset(scopes_of(session, api)) & frozenset(client.scopes or ())
    if not held:
        raise InvalidTarget(NOT_FOR_YOU)
    return Target(api.identifier, held)


def plan_authorization(
    session: Session,
    client: Client,
    resources: Sequence[str],
    scopes: Sequence[str],
    *,
    issuer: str,
) -> list[str]:
    """The APIs an authorization request names (RFC 8707 §2.1), checked: each usable by
    the client, every API scope asked for belongs to one of them, each gets one of its
    scopes. GovID's own identifier (the issuer) is the default and is not recorded."""
    named: list[str] = []
    for value in resources:
        check_resource_value(value)
        if value != issuer and value not in named:
            named.append(value)
    targets = [target_for(session, client, r) for r in named]
    covered = set().union(*(t.scopes for t in targets)) if targets else set()
    stray = [s for s in scopes if s not in GOVID_SCOPES and s not in covered]
    if stray:
        where = owners(session, stray)
        s = stray[0]
        raise InvalidScope(
            f"'{s}' is a scope of the API {where[s]}: ask for it with resource={where[s]}."
            if s in where
            else f"Unknown scope '{s}'."
        )
    for t in targets:
        if not t.scopes & set(scopes):
            raise InvalidScope(
                f"Ask for at least one scope of {t.identifier} "
                f"({' '.join(sorted(t.scopes))}) or do not name it."
            )
    return named


def token_target(
    session: Session | None,
    client: Client,
    resource: str | None,
    scope: str,
    *,
    issuer: str,
    granted: Sequence[str] | None,
) -> tuple[str | None, str]:
    """What a token for ``resource`` carries, from a grant (``granted``: the resources of
    its authorization request) of ``scope``: (audience, scope). The audience is None for
    GovID itself, whose token carries GovID's scopes only (no database needed); an API's
    token carries only the API's scopes (RFC 8707 §2.2, narrowing allowed)."""
    wanted = scope.split()
    if not resource or resource == issuer:
        return None, " ".join(s for s in wanted if s in GOVID_SCOPES)
    check_resource_value(resource)
    if resource not in (granted or ()):
        # RFC 8707 §2.2: only resources of the authorization request.
        raise InvalidTarget("The resource was not part of the authorization request.")
    target = target_for(session, client, resource)
    kept = [s for s in wanted if s in target.scopes]
    if not kept:
        raise InvalidScope(f"No scope of {resource} was granted.")
    return target.identifier, " ".join(kept)


def may_introspect(session: Session, client_id: str, audience) -> bool:
    """RFC 7662 §2.1/§4: an API's credentials see the tokens issued for that API only."""
    api = session.scalar(select(ApiResource).where(ApiResource.client_id == client_id))
    if api is None or api.status != "active" or not api.introspection:
        return False
    auds = audience if isinstance(audience, list) else [audience]
    return api.identifier in auds


def consent_apis(session: Session, scopes: Iterable[str]) -> list[dict]:
    """For the consent page: each API among ``scopes`` with its names and the scopes."""
    wanted = {s for s in scopes if s not in GOVID_SCOPES}
    if not wanted:
        return []
    rows = session.execute(
        select(ApiScope.value, ApiResource)
        .join(ApiResource, ApiResource.id == ApiScope.api_id)
        .where(ApiScope.value.in_(wanted))
        .order_by(ApiResource.identifier, ApiScope.value)
    ).all()
    out: dict[uuid.UUID, dict] = {}
    for value, api in rows:
        entry = out.setdefault(
            api.id, {"name_th": api.name_th, "name_en": api.name_en, "scopes": []}
        )
        entry["scopes"].append(value)
    return list(out.values())
