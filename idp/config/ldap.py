"""The mail directory's settings (LDAP provisioning, DESIGN §8): ``Settings.ldap``, read
from ``IDP_LDAP_<NAME>`` (``IDP_LDAP_URLS`` is ``settings.ldap.urls``) by the one settings
class in ``idp.config``. A group of its own so the directory code takes only what it
uses, and tests build one with ``DirectorySettings(urls=..., ...)``.
"""

from __future__ import annotations

import ipaddress
import json
import os
from typing import Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)


def is_loopback_url(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def plain_remote_allowed() -> bool:
    """``IDP_LDAP_ALLOW_PLAIN_REMOTE``: the one override for plain LDAP to a non-loopback
    host, for provisioning and for agency federation alike."""
    raw = os.environ.get("IDP_LDAP_ALLOW_PLAIN_REMOTE", "")
    try:
        return bool(raw.strip()) and TypeAdapter(bool).validate_python(raw.strip())
    except ValidationError:
        return False


def check_ldap_urls(urls: list[str]) -> list[str]:
    out = []
    for raw in urls:
        url = raw.strip()
        parts = urlsplit(url)
        if parts.scheme not in ("ldap", "ldaps") or not parts.hostname:
            raise ValueError(f"not an ldap:// or ldaps:// URL: {url!r}")
        if parts.path not in ("", "/") or parts.query:
            raise ValueError(f"LDAP server URLs carry host and port only: {url!r}")
        try:
            port = parts.port  # urlsplit raises for non-numbers and > 65535
        except ValueError:
            port = -1
        if port is not None and not 1 <= port <= 65535:
            raise ValueError(f"port must be 1-65535: {url!r}")
        out.append(url)
    if not out:
        raise ValueError("at least one LDAP server URL is required")
    return out


ENV_PREFIX = "IDP_LDAP_"
SECRETS = ("bind_password",)  # also from IDP_LDAP_BIND_PASSWORD_FILE (idp.config.SecretFiles)


class DirectorySettings(BaseModel):
    """Where and how accounts are written to the mail directory (DESIGN §8)."""

    model_config = ConfigDict(extra="ignore")

    # Servers, tried in order (failover). Empty: provisioning is switched off.
    # Env: IDP_LDAP_URLS='["ldaps://ldap1:636","ldaps://ldap2:636"]' or "ldaps://a,ldaps://b".
    urls: list[str] = Field(default_factory=list)
    bind_dn: str = ""
    bind_password: SecretStr = SecretStr("")

    # Transport: ldaps:// URLs use TLS from the start; otherwise StartTLS (RFC 4513 §3).
    start_tls: bool = True
    # Plain LDAP (no TLS at all) must be asked for explicitly (loopback tests, a compose
    # network); it is refused for non-loopback hosts unless allow_plain_remote is also set.
    allow_plain: bool = False
    allow_plain_remote: bool = False
    ca_file: str | None = None
    connect_timeout: float = Field(5.0, gt=0, le=120)
    op_timeout: float = Field(10.0, gt=0, le=600)

    # Layout: entries are uid=<account id>,<people_dn>; suspended ones may move to
    # <disabled_dn> (disable_mode=move).
    people_dn: str = "ou=people,dc=mail,dc=go,dc=th"
    disabled_dn: str = "ou=disabled,dc=mail,dc=go,dc=th"
    disable_mode: Literal["attribute", "move"] = "attribute"

    # Attribute mapping. An empty name leaves that attribute out.
    object_classes: list[str] = Field(default_factory=lambda: ["inetOrgPerson", "govidMailAccount"])
    agency_attribute: str = "ou"
    quota_attribute: str = "govidMailQuota"
    attachment_limit_attribute: str = "govidAttachmentLimit"
    # "mail": aliases become extra values of mail; otherwise the named attribute.
    alias_attribute: str = "mail"
    status_attribute: str = "govidAccountStatus"
    status_active: str = "active"
    status_disabled: str = "disabled"

    # Worker.
    batch_size: int = Field(200, ge=1, le=5000)
    poll_interval: float = Field(2.0, gt=0)
    retry_base_seconds: float = Field(2.0, gt=0)
    retry_max_seconds: float = Field(600.0, gt=0)
    # A row failing for a non-transient reason (schema violation) is parked after this
    # many attempts; transient failures (directory down) are retried for ever.
    park_after: int = Field(3, ge=1)
    # A claimed row is invisible to other workers this long (crash → retried after it).
    lease_seconds: float = Field(120.0, gt=0)

    @field_validator("urls", "object_classes", mode="before")
    @classmethod
    def _split(cls, v: object) -> object:
        if isinstance(v, str) and v.lstrip().startswith("["):
            return json.loads(v)
        if isinstance(v, str):
            return [p for p in (s.strip() for s in v.split(",")) if p]
        return v

    @field_validator("urls")
    @classmethod
    def _urls(cls, v: list[str]) -> list[str]:
        return check_ldap_urls(v) if v else v

    @model_validator(mode="after")
    def _transport(self) -> DirectorySettings:
        for url in self.urls:
            if url.startswith("ldaps://") or self.start_tls:
                continue
            if not self.allow_plain:
                raise ValueError(
                    f"{url} would send passwords in clear: use ldaps:// or "
                    "IDP_LDAP_START_TLS=true (or IDP_LDAP_ALLOW_PLAIN=true for tests)"
                )
            if not is_loopback_url(url) and not self.allow_plain_remote:
                raise ValueError(
                    f"plain LDAP to a non-loopback host ({url}) also needs "
                    "IDP_LDAP_ALLOW_PLAIN_REMOTE=true"
                )
        if self.retry_max_seconds < self.retry_base_seconds:
            raise ValueError("IDP_LDAP_RETRY_MAX_SECONDS must be >= IDP_LDAP_RETRY_BASE_SECONDS")
        return self

    @property
    def enabled(self) -> bool:
        return bool(self.urls)

    def backoff(self, attempts: int) -> float:
        """Seconds before retry number ``attempts`` (1, 2, ...): exponential, capped."""
        return min(self.retry_max_seconds, self.retry_base_seconds * 2 ** max(0, attempts - 1))
