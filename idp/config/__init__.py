"""Settings: one pydantic-settings class, prefix ``IDP_``. The mail directory's settings
are a group of it, ``settings.ldap`` (``IDP_LDAP_*``, ``idp/config/ldap.py``), checked
when the directory is used.

Nothing here is read at import time by other modules; ``create_app(settings)`` and the CLI
build a ``Settings`` and pass it down (DESIGN §2 rule 3).
"""

from __future__ import annotations

import base64
import os
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from idp.config import ldap
from idp.config.ldap import DirectorySettings

# Built-in development secrets. They make `make run` work out of the box and are refused
# whenever IDP_ENV is not "dev" (see _refuse_dev_secrets).
DEV_SECRET_KEY = "dev-only-secret-key-change-me-0123456789abcdef"
DEV_DATA_KEY = "ZGV2LW9ubHktZGF0YS1rZXktMzItYnl0ZXMtbG9uZyE="  # base64 of 32 bytes

MIN_AUDIT_RETENTION_DAYS = 90  # Computer Crime Act B.E. 2550, s. 26


class InsecureSettingsError(ValueError):
    """Raised when production settings still hold a development default."""


class SecretFiles(PydanticBaseSettingsSource):
    """``<PREFIX><NAME>_FILE``: a secret setting read from a file (Docker/compose secrets,
    systemd credentials), for each name in ``fields``. The file's content is the value,
    one trailing newline removed. Setting both the variable and its ``_FILE`` form is an
    error (which one wins would be a guess); an unreadable file is an error too."""

    def __init__(self, settings_cls: type[BaseSettings], prefix: str, fields: tuple[str, ...]):
        super().__init__(settings_cls)
        self.prefix, self.fields = prefix, fields

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        return read_secret_files(self.prefix, self.fields)


def read_secret_files(prefix: str, names: tuple[str, ...]) -> dict[str, Any]:
    env = {k.upper(): v for k, v in os.environ.items()}
    values: dict[str, Any] = {}
    for name in names:
        var = f"{prefix}{name}".upper()
        path = env.get(f"{var}_FILE")
        if not path:
            continue
        if var in env:
            raise ValueError(f"{var} and {var}_FILE are both set; set one of them")
        try:
            values[name] = Path(path).read_text(encoding="utf-8").removesuffix("\n")
        except OSError as exc:
            raise ValueError(f"{var}_FILE: cannot read {path} ({exc.strerror})") from None
    return values


class LdapGroup(PydanticBaseSettingsSource):
    """``IDP_LDAP_<NAME>`` (and ``IDP_LDAP_BIND_PASSWORD_FILE``) as read, for
    ``Settings.ldap``: the variable names the directory has always read."""

    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # everything happens in __call__

    def __call__(self) -> dict[str, Any]:
        env = {k.upper(): v for k, v in os.environ.items()}
        values: dict[str, Any] = {
            name: env[var]
            for name in DirectorySettings.model_fields
            if (var := f"{ldap.ENV_PREFIX}{name}".upper()) in env
        }
        values.update(read_secret_files(ldap.ENV_PREFIX, ldap.SECRETS))
        return {"ldap_env": values} if values else {}


# The settings that may come from a file (IDP_<NAME>_FILE); see SecretFiles.
SECRET_SETTINGS = (
    "secret_key",
    "secret_key_previous",
    "data_key",
    "data_key_previous",
    "database_url",
    "redis_url",
    "smtp_password",
    "metrics_token",
)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IDP_", env_file=None, extra="ignore")

    env: Literal["dev", "test", "prod"] = "dev"
    issuer: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///var/idp.db"
    redis_url: str | None = None
    secret_key: str = DEV_SECRET_KEY
    data_key: str = Field(
        DEV_DATA_KEY, description="base64 of 32 random bytes; encrypts secrets at rest"
    )
    # Key rotation (docs/operations.md "Rotating the data key"): earlier keys, separated
    # by whitespace or commas. Previous data keys still decrypt (idp/crypto.py) until
    # `idp keys rotate-data-key` has rewritten everything; previous secret keys still
    # verify cookies, CSRF tokens and signed steps (new ones are signed with
    # IDP_SECRET_KEY) for as long as they are listed.
    data_key_previous: str = ""
    secret_key_previous: str = ""
    # Tests only (idp/clock.py OffsetFileClock): the server's clock runs this file's number
    # of seconds ahead, so a test moves a real server's time instead of sleeping.
    # Refused when IDP_ENV=prod.
    clock_offset_file: str = ""

    # Lifetimes in seconds (DESIGN §5).
    auth_code_ttl: int = Field(60, ge=10, le=600)
    access_token_ttl: int = Field(600, ge=60, le=86400)
    id_token_ttl: int = Field(600, ge=60, le=86400)
    refresh_token_ttl: int = Field(8 * 3600, ge=300)
    session_absolute_ttl: int = Field(12 * 3600, ge=300)
    session_idle_ttl_level1: int = Field(2 * 3600, ge=60)
    session_idle_ttl_level2: int = Field(30 * 60, ge=60)

    # Access tokens are RFC 9068 JWTs; ID tokens default to RS256 (ES256 per client).
    # Access tokens are audience-restricted to GovID itself (aud = issuer) and verified by
    # GovID or through introspection, so their algorithm is ours to choose: ES256 signs
    # ~10x faster than RS256 and makes shorter tokens (decision 0008). RS256 stays
    # available (RFC 9068 §2.1); ID tokens keep RS256 by default (OIDC Core §15.1).
    access_token_alg: Literal["RS256", "ES256"] = "ES256"
    # Seconds a worker reuses a client registration it read (idp/clients/cache.py);
    # another worker sees a changed client within this time. 0: read it every time.
    client_cache_seconds: float = Field(5.0, ge=0, le=300)

    # Assurance level names (DESIGN §5 "Assurance").
    acr_level1: str = "urn:govid:acr:1"
    acr_level2: str = "urn:govid:acr:2"

    # Password hashing (argon2id; OWASP / RFC 9106 second recommended option).
    argon2_memory_kib: int = Field(19 * 1024, ge=8 * 1024)
    argon2_time_cost: int = Field(2, ge=1)
    argon2_parallelism: int = Field(1, ge=1)
    # Which library computes argon2id: "auto" times both at start-up and keeps the faster
    # on this host (idp/credentials/passwords.py); the hashes are the same either way.
    argon2_backend: Literal["auto", "libsodium", "argon2-cffi"] = "auto"
    # At most this many argon2id computations at once per process, each in a reusable
    # area of argon2_memory_kib (idp/credentials/argon2_memory.py); 0 = one per CPU the
    # process may run on.
    argon2_concurrency: int = Field(0, ge=0)
    # The most work a stored (imported) hash may ask of one verification; beyond it an
    # import refuses the row and sign-in refuses without verifying
    # (idp/credentials/hash_bounds.py; CPU at each bound: bench/legacy_hashes.py).
    hash_max_sha_crypt_rounds: int = Field(100_000, ge=1000)
    hash_max_bcrypt_cost: int = Field(12, ge=4, le=31)
    hash_max_pbkdf2_rounds: int = Field(300_000, ge=1)
    hash_max_argon2_memory_kib: int = Field(64 * 1024, ge=8)
    hash_max_argon2_time_cost: int = Field(4, ge=1)
    hash_max_argon2_parallelism: int = Field(4, ge=1)

    # Password policy (NIST SP 800-63B §5.1.1.2).
    password_min_length_with_mfa: int = Field(8, ge=8)
    password_min_length_without_mfa: int = Field(15, ge=8)

    # Sign-in throttling: exponential delay after a few failures, a temporary lock after
    # many consecutive ones (NIST SP 800-63B §5.2.2: at most 100), and a per-IP ceiling.
    login_delay_after_failures: int = Field(5, ge=1)
    login_max_delay_seconds: int = Field(900, ge=1)
    login_lockout_threshold: int = Field(20, ge=3, le=100)
    login_lockout_seconds: int = Field(1800, ge=60)
    # A failed sign-in answers no sooner than this: known and unknown emails then take the
    # same time even though a known account costs a few more database round trips.
    login_failure_floor_ms: int = Field(200, ge=0, le=5000)
    # An account's failure count is forgotten after this long without a failure.
    login_failure_decay_seconds: int = Field(86400, ge=60)
    # An address with this many failed sign-ins (any accounts) in a window of
    # ip_failure_window_seconds (this one or the last) is suspect: accounts signing in from
    # it without a device cookie are delayed from their first failure. It never refuses a
    # correct password for an account that is not itself throttled (decision 0012).
    ip_failure_threshold: int = Field(100, ge=10)
    ip_failure_window_seconds: int = Field(900, ge=60)
    # Device cookies (OWASP): a browser that signed in to an account is not slowed by
    # failures on that account from elsewhere. Rotated at every sign-in.
    device_cookie_days: int = Field(180, ge=1, le=400)
    # Reverse proxies whose X-Forwarded-For is believed (CIDRs or addresses, comma or
    # space separated). Empty: none; the client is the TCP peer (decision 0012).
    trusted_proxies: str = ""
    # Hosts GovID may send requests to although they are not public https endpoints
    # (comma or space separated), e.g. an agency's back-channel logout receiver on an
    # internal network. Outside IDP_ENV=dev nothing else private is reached (idp.outbound).
    outbound_allowed_hosts: str = ""

    # Rate limits (decision 0012): per fixed window of rate_limit_window_seconds, shared
    # by every worker (Redis when configured, else the database). 0 = no limit.
    rate_limits: bool = True
    rate_limit_window_seconds: int = Field(10, ge=1, le=3600)
    rate_limit_token_per_client: int = Field(1000, ge=0)
    rate_limit_admin_per_caller: int = Field(600, ge=0)
    rate_limit_scim_per_caller: int = Field(1200, ge=0)
    rate_limit_per_address: int = Field(1000, ge=0)

    audit_retention_days: int = MIN_AUDIT_RETENTION_DAYS

    default_mailbox_quota_mb: int = Field(6144, ge=1)
    default_attachment_limit_mb: int = Field(25, ge=1)

    # The central helpdesk: whom people contact when their agency names no
    # helpdesk of its own (agency.helpdesk_*), or when the address they typed belongs to
    # no agency. Shown on the recovery and help pages and in the pages' footer.
    helpdesk_email: str = Field("helpdesk@govid.go.th", max_length=320)
    helpdesk_phone: str = Field("", max_length=40)
    helpdesk_url: str = Field("", max_length=2000)
    # After a password sign-in, people without a second factor are offered to add a
    # passkey (a page they can skip). Off in most tests (tests/conftest.py).
    passkey_offer: bool = True

    # Mail to people (idp/mail/, docs/recovery-and-passkeys.md "Notification"): the SMTP
    # relay that sends the notice of a password reset or change to the account's address.
    # No host: nothing is sent (the audit event says so). TLS: "starttls" (port 587),
    # "tls" (implicit, 465) or "none" (25; a relay on the same host or segment); the
    # relay's certificate is checked against the system CAs or smtp_ca_file.
    smtp_host: str = ""
    smtp_port: int = Field(0, ge=0, le=65535)  # 0: the TLS mode's usual port
    smtp_tls: Literal["starttls", "tls", "none"] = "starttls"
    smtp_ca_file: str = ""
    smtp_username: str = ""
    smtp_password: str = ""
    smtp_from: str = Field("", max_length=320)  # empty: no-reply@<the issuer's host>
    smtp_timeout_seconds: float = Field(10.0, ge=0.5, le=120)

    # Request bodies over these are refused with 413 before being read (idp/body_limit.py):
    # protocol endpoints and people's pages; admin API and SCIM JSON;
    # bulk imports (POST /admin/v1/imports; bigger files go through `idp accounts import`).
    max_body_bytes: int = Field(64 * 1024, ge=1024)
    max_admin_body_bytes: int = Field(1024 * 1024, ge=1024)
    max_import_body_bytes: int = Field(64 * 1024 * 1024, ge=1024)

    # Off by default: request lines can carry tokens (id_token_hint) and personal data;
    # security events are in the audit log.
    access_log: bool = False
    # FastAPI's OpenTelemetry traces/metrics/logs. Off unless an operator wires up a
    # provider: even unconfigured, FastAPI asks the OpenTelemetry API for its providers on
    # every request, ~10 % of a machine token's CPU (decision 0008).
    telemetry: bool = False
    # OpenTelemetry traces over OTLP/HTTP (idp/tracing.py, docs/operations.md "Traces"):
    # the collector's base URL (e.g. http://otel-collector:4318; empty: no traces), the
    # service name spans carry, and the share of new traces kept (a proxy's sampled
    # traceparent is always followed).
    otlp_endpoint: str = ""
    otlp_service_name: str = "govid"
    otlp_sample_ratio: float = Field(1.0, ge=0.0, le=1.0)

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)

    # Operations (docs/operations.md). Logs: "json" is one JSON object per line with the
    # request id; "plain" is for a terminal.
    log_format: Literal["json", "plain"] = "plain"
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    # Prometheus /metrics: on its own port (bound to metrics_host; 0 = no port), and/or on
    # the public port for a bearer token (empty = not served there).
    metrics_port: int = Field(0, ge=0, le=65535)
    metrics_host: str = "127.0.0.1"
    metrics_token: str = ""
    # `idp maintenance run` and its schedule in `idp serve --with-worker`: rows expired
    # for longer than maintenance_grace_seconds go, batch_size rows per statement.
    maintenance_interval_seconds: int = Field(300, ge=10)
    maintenance_batch_size: int = Field(1000, ge=1, le=100_000)
    maintenance_grace_seconds: int = Field(3600, ge=0)
    # Timeouts toward the backing services (docs/operations.md "Timeouts"): a
    # stopped, frozen or unreachable service costs a request at most these, then 503 with
    # Retry-After. PostgreSQL: connect, server-side statement/lock/idle-in-transaction
    # limits (libpq options), a client-side limit on waiting for any answer (a frozen
    # server enforces nothing), the wait for a pooled connection, and /readyz's own limit.
    db_connect_timeout_seconds: int = Field(5, ge=1, le=60)
    db_statement_timeout_ms: int = Field(10_000, ge=0)
    db_lock_timeout_ms: int = Field(5_000, ge=0)
    db_idle_in_transaction_timeout_ms: int = Field(30_000, ge=0)
    db_client_timeout_seconds: float = Field(15.0, ge=0.5, le=600)
    db_pool_timeout_seconds: float = Field(5.0, ge=0.1, le=120)
    readyz_timeout_seconds: float = Field(2.0, ge=0.2, le=30)
    # Redis (socket connect and read); after a failure Redis is left alone for
    # redis_retry_seconds and its work goes to the database meanwhile.
    redis_timeout_seconds: float = Field(0.5, ge=0.05, le=30)
    redis_retry_seconds: float = Field(5.0, ge=0, le=300)
    # The Retry-After of a 503 during an outage.
    outage_retry_after_seconds: int = Field(5, ge=1, le=3600)

    # The mail directory (LDAP provisioning): IDP_LDAP_<NAME> as read (LdapGroup), checked
    # when the directory is used (``ldap`` below), so that a wrong value stops the
    # directory's worker and commands, never sign-in. Not in repr: a bind password.
    ldap_env: dict[str, str] = Field(default_factory=dict, repr=False)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        files = SecretFiles(settings_cls, "IDP_", SECRET_SETTINGS)
        group = LdapGroup(settings_cls)
        return init_settings, env_settings, files, group, dotenv_settings, file_secret_settings

    @field_validator("audit_retention_days")
    @classmethod
    def _retention_minimum(cls, v: int) -> int:
        if v < MIN_AUDIT_RETENTION_DAYS:
            raise ValueError(
                f"IDP_AUDIT_RETENTION_DAYS must be at least {MIN_AUDIT_RETENTION_DAYS} "
                "(Computer Crime Act B.E. 2550 requires 90 days of traffic data)"
            )
        return v

    @field_validator("trusted_proxies")
    @classmethod
    def _proxies_form(cls, v: str) -> str:
        import ipaddress

        nets = []
        for item in v.replace(",", " ").split():
            try:
                net = ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"IDP_TRUSTED_PROXIES: {item!r} is not an address or CIDR"
                ) from None
            if net.prefixlen < 8:  # 0.0.0.0/0 and the like: every client could set XFF
                raise ValueError(
                    f"IDP_TRUSTED_PROXIES: {item!r} trusts (nearly) every address, so any "
                    "client could choose its own address in X-Forwarded-For; name the "
                    "proxies' own addresses or subnet"
                )
            nets.append(str(net))
        return ",".join(nets)

    @field_validator("issuer")
    @classmethod
    def _issuer_form(cls, v: str) -> str:
        # OIDC Discovery §3: issuer is an https URL without query or fragment.
        if "?" in v or "#" in v:
            raise ValueError("IDP_ISSUER must not contain a query or fragment")
        if not (v.startswith("https://") or v.startswith("http://")):
            raise ValueError("IDP_ISSUER must be an http(s) URL")
        return v.rstrip("/")

    @field_validator("data_key")
    @classmethod
    def _data_key_form(cls, v: str) -> str:
        try:
            raw = base64.b64decode(v, validate=True)
        except ValueError as exc:
            raise ValueError("IDP_DATA_KEY must be base64") from exc
        if len(raw) != 32:
            raise ValueError("IDP_DATA_KEY must decode to exactly 32 bytes")
        return v

    @field_validator("data_key_previous")
    @classmethod
    def _previous_data_keys_form(cls, v: str) -> str:
        for n, item in enumerate(v.replace(",", " ").split(), 1):
            try:
                raw = base64.b64decode(item, validate=True)
            except ValueError:
                raise ValueError(f"IDP_DATA_KEY_PREVIOUS: key {n} is not base64") from None
            if len(raw) != 32:
                raise ValueError(f"IDP_DATA_KEY_PREVIOUS: key {n} is not 32 bytes")
        return v

    @model_validator(mode="after")
    def _refuse_test_clock(self) -> Settings:
        if self.clock_offset_file and self.env == "prod":
            raise InsecureSettingsError(
                "IDP_CLOCK_OFFSET_FILE moves the clock for tests; it is refused when IDP_ENV=prod"
            )
        return self

    @model_validator(mode="after")
    def _refuse_dev_secrets(self) -> Settings:
        if self.env == "dev":
            return self
        problems = []
        if self.secret_key == DEV_SECRET_KEY:
            problems.append("IDP_SECRET_KEY")
        if self.data_key == DEV_DATA_KEY:
            problems.append("IDP_DATA_KEY")
        if problems:
            raise InsecureSettingsError(
                f"{', '.join(problems)} still hold the built-in development value; "
                f"set your own secret(s) when IDP_ENV={self.env}"
            )
        if len(self.secret_key) < 32:
            raise InsecureSettingsError("IDP_SECRET_KEY must be at least 32 characters")
        if self.smtp_username and self.smtp_tls == "none":
            raise InsecureSettingsError(
                "IDP_SMTP_USERNAME with IDP_SMTP_TLS=none would send the relay's password "
                "in clear; use starttls or tls"
            )
        if self.env == "prod" and not self.issuer.startswith("https://"):
            raise InsecureSettingsError("IDP_ISSUER must use https when IDP_ENV=prod")
        return self

    @cached_property
    def ldap(self) -> DirectorySettings:
        """The mail directory's settings (``IDP_LDAP_*``, idp/config/ldap.py); raises
        pydantic's ``ValidationError`` when one is wrong."""
        return DirectorySettings.model_validate(self.ldap_env)

    @cached_property
    def data_key_bytes(self) -> bytes:
        return base64.b64decode(self.data_key)

    @cached_property
    def data_keys_bytes(self) -> tuple[bytes, ...]:
        """The data keyring: the current key first, then IDP_DATA_KEY_PREVIOUS."""
        previous = self.data_key_previous.replace(",", " ").split()
        return (self.data_key_bytes, *(base64.b64decode(k) for k in previous))

    @cached_property
    def secret_keys(self) -> tuple[str, ...]:
        """IDP_SECRET_KEY (signs) then IDP_SECRET_KEY_PREVIOUS (still verify)."""
        return (self.secret_key, *self.secret_key_previous.replace(",", " ").split())

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


def fastapi_telemetry(settings: Settings) -> dict | None:
    """``FastAPI(telemetry=...)``: request spans to IDP_OTLP_ENDPOINT when set
    (idp/tracing.py); FastAPI's defaults when ``IDP_TELEMETRY`` is on; otherwise
    everything off (no per-request look-up of OpenTelemetry providers)."""
    if settings.otlp_endpoint:
        from idp import tracing

        return tracing.fastapi_config(settings)
    return None if settings.telemetry else {"tracing": False, "metrics": False, "logs": False}
