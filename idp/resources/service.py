"""API resources (RFC 8707): registration and the rules the protocol layer applies.

An agency registers an API (identifier URI, names, its own scopes, who may use it, may it
introspect). Apps hold API scopes in their scope list; a token request naming the API
with ``resource`` gets a token whose ``aud`` is the API and whose scope is only the API's.
Who may give an app an API's scopes: docs/decisions/0011-api-resources.md. No web
framework here; ``idp.resources.manage`` adds the caller's authority, ``idp.cli.apis``
is the CLI.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.agencies.models import Agency
from idp.clients.models import Client
from idp.errors import DomainError, InvalidInput, NotFound
from idp.resources.models import ApiResource, ApiScope

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


class InvalidTarget(DomainError):
    """RFC 8707 §2: the requested resource is invalid, unknown, or not for this client."""

    code = "invalid_target"


class InvalidScope(InvalidInput):
    """A scope that is neither GovID's nor an API's the client (or its agency) may use."""

    code = "invalid_scope"


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
    api_agency = session.get_one(Agency, api.agency_id)
    client_agency = session.get_one(Agency, client.agency_id)
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
    if session is None:
        raise ValueError("an API's token needs the database")  # callers pass one then
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
