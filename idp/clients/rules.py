"""What an app's registration may be: the grant types, algorithms and scopes GovID knows,
the limits the settings set (``Limits``), redirect URIs (RFC 8252 loopback and native
schemes, OAuth 2.0 Security BCP), names, token lifetimes, the policy page, and the whole
registration checked at once (``check_registration``). Registering, changing and
rotating is ``idp.clients.service``. No web framework here."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.clients.models import AUTH_METHODS
from idp.config import Settings
from idp.errors import InvalidInput, LifetimeAboveMaximum
from idp.outbound import OutboundPolicy

GRANT_TYPES = ("authorization_code", "refresh_token", "client_credentials")
# OIDC Registration §2 id_token_signed_response_alg: the algorithms GovID signs with
# (discovery's id_token_signing_alg_values_supported lists the same).
ID_TOKEN_ALGS = ("RS256", "ES256")
# The scopes GovID knows (discovery's scopes_supported). Which of them a caller may give
# is the caller's rule (idp.clients.manage: citizen_id for operators only).
KNOWN_SCOPES = frozenset(
    {"openid", "profile", "email", "govid", "citizen_id", "offline_access"}
    | {"admin:accounts", "admin:clients", "admin:audit", "scim"}
)
MIN_TOKEN_TTL = 60  # seconds; shorter tokens only make apps hammer /token


@dataclass(frozen=True)
class Limits:
    """What the server's settings allow a registration: the assurance levels, and the
    longest access and refresh token lifetimes (a client may ask for shorter ones)."""

    acr_values: tuple[str, ...]
    max_access_token_ttl: int
    max_refresh_token_ttl: int
    # Where GovID may send back-channel logouts; without settings (the domain called
    # directly, as on a developer's machine), anywhere.
    outbound: OutboundPolicy = OutboundPolicy(allow_any=True)

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            (settings.acr_level1, settings.acr_level2),
            settings.access_token_ttl,
            settings.refresh_token_ttl,
            OutboundPolicy.of(settings),
        )


def default_limits() -> Limits:
    d = {name: f.default for name, f in Settings.model_fields.items()}
    return Limits((d["acr_level1"], d["acr_level2"]), d["access_token_ttl"], d["refresh_token_ttl"])


def _is_loopback(host: str | None) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host or "").is_loopback
    except ValueError:
        return False


class BadRedirectUri(InvalidInput):
    """A redirect URI the rules refuse; ``code`` says which rule, so a form can say it in
    the person's language (the admin console does)."""

    def __init__(self, message: str, *, field: str, code: str) -> None:
        super().__init__(message, field=field)
        self.code = code


def validate_redirect_uri(uri: str, field_name: str = "redirect_uris") -> str:
    """Absolute, no fragment (RFC 6749 §3.1.2), https except loopback (RFC 8252 §7.3)."""
    try:
        parts = urlsplit(uri)
    except ValueError as exc:
        raise BadRedirectUri(
            f"malformed URI: {uri!r}", field=field_name, code="redirect_uri_malformed"
        ) from exc
    if parts.scheme not in ("https", "http") or not parts.netloc:
        raise BadRedirectUri(
            f"redirect URI must be an absolute URL: {uri!r}",
            field=field_name,
            code="redirect_uri_not_absolute",
        )
    if parts.fragment or "#" in uri:
        raise BadRedirectUri(
            f"redirect URI must not have a fragment: {uri!r}",
            field=field_name,
            code="redirect_uri_fragment",
        )
    if parts.username or parts.password:
        raise BadRedirectUri(
            f"redirect URI must not carry user info: {uri!r}",
            field=field_name,
            code="redirect_uri_userinfo",
        )
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise BadRedirectUri(
            f"redirect URI must use https (http only for loopback): {uri!r}",
            field=field_name,
            code="redirect_uri_not_https",
        )
    return uri


def _name(value: str, field_name: str) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(f"{field_name} must not be empty", field=field_name)
    return value


def _ttl(value: int | None, maximum: int, field_name: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < MIN_TOKEN_TTL:
        raise InvalidInput(
            f"{field_name} must be a whole number of seconds, at least {MIN_TOKEN_TTL}",
            field=field_name,
        )
    if value > maximum:
        raise LifetimeAboveMaximum(
            f"{field_name} {value} s is above this server's maximum of {maximum} s "
            f"(IDP_{field_name.upper()}); ask for {maximum} or less, or leave it unset",
            field=field_name,
        )
    return value


_POLICY_URI = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s<>\"'`]*)?$")


def _policy_uri(value: str | None) -> str | None:
    """The app's privacy notice (OIDC Dynamic Client Registration 1.0 §2 ``policy_uri``),
    linked from the consent page: https only (people follow it from a sign-in page), no
    credentials in it, at most 2,000 characters."""
    if value is None:
        return None
    if value == "":  # the admin API refuses it too (422)
        raise InvalidInput(
            "policy_uri is empty; to remove it use --no-policy-uri (admin API: null)",
            field="policy_uri",
        )
    parts = urlsplit(value) if len(value) <= 2000 else None
    if parts is None or not _POLICY_URI.match(value) or parts.username or not parts.hostname:
        raise InvalidInput(
            "policy_uri must be an https:// address of at most 2,000 characters",
            field="policy_uri",
        )
    return value


def check_registration(
    r: dict[str, Any], limits: Limits, *, api_scopes: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """The rules every registration obeys, at creation and after every change (so a
    change can never leave a client the CLI or the API could not have created). ``r``
    maps ``Client`` attribute names to values; returns them normalised."""
    out = dict(r)
    out["name_th"] = _name(r["name_th"], "name_th")
    out["name_en"] = _name(r["name_en"], "name_en")
    method = r["token_endpoint_auth_method"]
    if method not in AUTH_METHODS:
        raise InvalidInput(
            f"auth method must be one of {', '.join(AUTH_METHODS)}", field="auth_method"
        )
    grant_types = list(dict.fromkeys(r["grant_types"]))
    for g in grant_types:
        if g not in GRANT_TYPES:
            raise InvalidInput(
                f"unsupported grant type {g!r}; one of {', '.join(GRANT_TYPES)}",
                field="grant_types",
            )
    if not grant_types:
        raise InvalidInput("a client needs at least one grant type", field="grant_types")
    out["grant_types"] = grant_types
    out["redirect_uris"] = [validate_redirect_uri(u) for u in r["redirect_uris"]]
    if "authorization_code" in grant_types and not out["redirect_uris"]:
        raise InvalidInput(
            "an authorization-code client needs a redirect URI", field="redirect_uris"
        )
    if method == "none" and "client_credentials" in grant_types:
        raise InvalidInput("a public client cannot use client_credentials", field="grant_types")
    if method == "private_key_jwt" and not r.get("jwks"):
        raise InvalidInput("private_key_jwt needs the client's public JWKS", field="jwks")
    out["post_logout_redirect_uris"] = [
        validate_redirect_uri(u, "post_logout_redirect_uris")
        for u in r["post_logout_redirect_uris"]
    ]
    if r.get("backchannel_logout_uri") == "":  # the admin API refuses it too (422)
        raise InvalidInput(
            "backchannel_logout_uri is empty; to remove it use --no-backchannel-logout-uri "
            "(admin API: null)",
            field="backchannel_logout_uri",
        )
    if r.get("backchannel_logout_uri"):
        validate_redirect_uri(r["backchannel_logout_uri"], "backchannel_logout_uri")
        # GovID itself POSTs there: no private or loopback targets (SSRF, idp.outbound).
        limits.outbound.check(r["backchannel_logout_uri"], "backchannel_logout_uri")
    out["policy_uri"] = _policy_uri(r.get("policy_uri"))
    unknown = sorted(set(r["scopes"]) - KNOWN_SCOPES - api_scopes)
    if unknown:
        raise InvalidInput(
            f"unknown scope(s): {', '.join(unknown)}; known: {', '.join(sorted(KNOWN_SCOPES))}",
            field="scopes",
        )
    out["scopes"] = sorted(set(r["scopes"]))
    if r.get("min_acr") is not None and r["min_acr"] not in limits.acr_values:
        raise InvalidInput(
            f"min_acr must be one of {', '.join(limits.acr_values)}", field="min_acr"
        )
    if r["id_token_signed_response_alg"] not in ID_TOKEN_ALGS:
        raise InvalidInput(
            f"id_token_signed_response_alg must be one of {', '.join(ID_TOKEN_ALGS)}",
            field="id_token_signed_response_alg",
        )
    out["access_token_ttl"] = _ttl(
        r.get("access_token_ttl"), limits.max_access_token_ttl, "access_token_ttl"
    )
    out["refresh_token_ttl"] = _ttl(
        r.get("refresh_token_ttl"), limits.max_refresh_token_ttl, "refresh_token_ttl"
    )
    return out
