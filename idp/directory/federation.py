"""Sign-in against an agency's own LDAP / Active Directory (DESIGN §8).

``authenticate(config, login, password)`` is the whole API for the login page: it never
raises for directory problems and never leaks ldap3 details; it returns a
``FederationResult`` whose ``outcome`` is ``ok``, ``bad_credentials`` or ``unavailable``.

A successful federated bind counts as the password factor only (``amr`` ``pwd``,
RFC 8176 §2); level 2 still needs GovID's own second factor.
"""

from __future__ import annotations

import logging
import ssl
import string
from dataclasses import dataclass, field
from enum import StrEnum

from ldap3 import SUBTREE
from ldap3.core.exceptions import LDAPException
from ldap3.operation.search import parse_filter
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from idp.directory.ldap import (
    INVALID_CREDENTIALS,
    BindRejected,
    DirectoryError,
    Transport,
    Unreachable,
    close,
    connect,
)

log = logging.getLogger("idp.directory.federation")

MAX_PASSWORD_LENGTH = 1024
DEFAULT_SEARCH_FILTER = "(&(objectClass=person)(|(uid={username})(mail={email})))"
# invalidCredentials, and what some servers say for a DN that cannot exist
# (invalidDNSyntax, noSuchObject): all "wrong name or password" to the user.
_CREDENTIAL_CODES = frozenset({INVALID_CREDENTIALS, 34, 32})
AD_SEARCH_FILTER = "(&(objectClass=user)(|(sAMAccountName={username})(userPrincipalName={email})))"


class Outcome(StrEnum):
    OK = "ok"
    BAD_CREDENTIALS = "bad_credentials"
    UNAVAILABLE = "unavailable"


PLACEHOLDERS = ("username", "email")


class SettingsError(ValueError):
    """Federation settings that can never work; ``field`` names the setting."""

    def __init__(self, field_name: str, message: str) -> None:
        super().__init__(f"{field_name}: {message}")
        self.field = field_name


def _render(name: str, template: str, escape) -> str:
    """``template`` filled in as the login path does, after checking its placeholders:
    only ``{username}`` and ``{email}``, no conversions or format specs, balanced braces."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise SettingsError(name, f"{exc} (write a literal brace as {{{{ or }}}})") from None
    used = [f for _, f, _, _ in parts if f is not None]
    for _, f, spec, conv in parts:
        if f is not None and (f not in PLACEHOLDERS or spec or conv):
            shown = "{" + f + (f"!{conv}" if conv else "") + (f":{spec}" if spec else "") + "}"
            raise SettingsError(
                name, f"unknown placeholder {shown} (allowed: {{username}}, {{email}})"
            )
    if not used:
        raise SettingsError(name, "must contain {username} or {email}")
    sample = "a*b(c)\\d,e+f"
    return template.format(username=escape(sample), email=escape(sample + "@x.go.th"))


def _check_dn(name: str, dn: str) -> None:
    try:
        parse_dn(dn)
    except LDAPException as exc:
        raise SettingsError(name, f"not a valid DN (RFC 4514): {exc}") from None


@dataclass(frozen=True)
class FederationConfig:
    """How one agency's directory is asked. Build it with ``agency_config`` or directly.

    Exactly one of ``bind_dn_template`` (direct bind, e.g.
    ``uid={username},ou=people,dc=agency,dc=go,dc=th``) and ``search_base`` (search with
    ``search_filter`` as ``service_bind_dn`` or anonymously, then bind as the entry found)
    is used; the template wins if both are set. Placeholders: ``{username}`` (the part
    before "@"), ``{email}`` (the whole login).
    """

    servers: tuple[str, ...]
    start_tls: bool = True
    allow_plain: bool = False
    ca_pem: str | None = None
    ca_file: str | None = None
    bind_dn_template: str | None = None
    search_base: str | None = None
    search_filter: str = DEFAULT_SEARCH_FILTER
    service_bind_dn: str | None = None
    service_password: str | None = field(default=None, repr=False)
    timeout: float = 5.0
    fallback_to_local: bool = False
    # Plain LDAP to a non-loopback host: only with IDP_LDAP_ALLOW_PLAIN_REMOTE as well.
    allow_plain_remote: bool = False

    def __post_init__(self) -> None:
        # Everything the login path will do with these settings is tried here, so that
        # settings that can never work are refused when they are made, not at every
        # sign-in ("try again later" for a whole agency subtree).
        if not self.bind_dn_template and not self.search_base:
            raise SettingsError("search_base", "set a bind DN template or a search base")
        if self.bind_dn_template:
            _check_dn(
                "bind_dn_template", _render("bind_dn_template", self.bind_dn_template, escape_rdn)
            )
        if self.search_base:
            _check_dn("search_base", self.search_base)
            flt = _render("search_filter", self.search_filter, escape_filter_chars)
            try:
                parse_filter(flt, None, False, True, None, False)
            except LDAPException as exc:
                raise SettingsError(
                    "search_filter", f"not a valid LDAP filter (RFC 4515): {exc}"
                ) from None
        if self.service_bind_dn:
            _check_dn("service_bind_dn", self.service_bind_dn)
            if not self.service_password:
                raise SettingsError("service_password", "a service bind DN needs its password")
        if self.ca_pem is not None or self.ca_file is not None:
            try:
                if self.ca_pem is not None and not self.ca_pem.strip():
                    raise ssl.SSLError("empty")
                ssl.create_default_context(cafile=self.ca_file, cadata=self.ca_pem or None)
            except (ssl.SSLError, OSError, ValueError):
                raise SettingsError("ca_file", "not a PEM CA certificate bundle") from None
        try:
            self.transport()  # URLs (ports 1-65535) and the TLS rule
        except ValueError as exc:
            raise SettingsError("servers", str(exc)) from None

    def transport(self) -> Transport:
        return Transport(
            urls=tuple(self.servers),
            start_tls=self.start_tls,
            allow_plain=self.allow_plain,
            allow_plain_remote=self.allow_plain_remote,
            ca_pem=self.ca_pem,
            ca_file=self.ca_file,
            connect_timeout=self.timeout,
            op_timeout=self.timeout,
        )


@dataclass(frozen=True)
class FederationResult:
    outcome: Outcome
    # Short, fixed vocabulary, safe for logs and audit details (never a password).
    reason: str = ""
    dn: str | None = None
    mail: str | None = None
    server: str | None = None
    amr: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return self.outcome is Outcome.OK


def _split_login(login: str) -> tuple[str, str]:
    login = login.strip()
    username = login.split("@", 1)[0] if "@" in login else login
    return username, login.lower() if "@" in login else login


def _bad(reason: str) -> FederationResult:
    return FederationResult(Outcome.BAD_CREDENTIALS, reason=reason)


def _unavailable(reason: str) -> FederationResult:
    return FederationResult(Outcome.UNAVAILABLE, reason=reason)


def authenticate(config: FederationConfig, login: str, password: str) -> FederationResult:
    """Check ``login``/``password`` against the agency directory. Never raises for
    directory trouble; returns ok / bad_credentials / unavailable."""
    # RFC 4513 §5.1.2: an empty password makes a simple bind "unauthenticated", which
    # servers may answer with success. Refuse before any network traffic.
    if not password or len(password) > MAX_PASSWORD_LENGTH or "\x00" in password:
        return _bad("empty_or_invalid_password")
    username, email = _split_login(login or "")
    if not username or any(ord(c) < 32 for c in login):
        return _bad("invalid_login")
    t = config.transport()
    try:
        if config.bind_dn_template:
            # RFC 4514 §2.4: escape the value placed into the DN.
            dn = config.bind_dn_template.format(
                username=escape_rdn(username), email=escape_rdn(email)
            )
            return _bind_as(t, dn, password)
        return _search_then_bind(config, t, username, email, password)
    except Exception:  # noqa: BLE001 - a login page must get an answer, not a traceback
        log.exception("federated login: unexpected error")
        return _unavailable("internal_error")


def _bind_as(t: Transport, dn: str, password: str, mail: str | None = None) -> FederationResult:
    try:
        conn, server = connect(t, dn, password)
    except BindRejected as exc:
        if exc.code in _CREDENTIAL_CODES:
            return _bad("invalid_credentials")
        log.warning("federated bind refused: %s", exc.message)
        return _unavailable("bind_refused")
    except Unreachable as exc:
        log.warning("agency directory unreachable: %s", exc.message)
        return _unavailable("tls_failed" if exc.tls_failed else "unreachable")
    close(conn)
    return FederationResult(Outcome.OK, dn=dn, mail=mail, server=server, amr=("pwd",))


def _search_then_bind(
    config: FederationConfig, t: Transport, username: str, email: str, password: str
) -> FederationResult:
    base = config.search_base
    if not base:  # FederationConfig requires one when there is no bind DN template
        raise ValueError("search-then-bind without a search base")
    # RFC 4515 §3: every value placed in the filter is escaped, so "*)(uid=*" is the
    # literal text it is and matches nobody.
    flt = config.search_filter.format(
        username=escape_filter_chars(username), email=escape_filter_chars(email)
    )
    try:
        conn, _server = connect(t, config.service_bind_dn, config.service_password)
    except BindRejected as exc:
        log.warning("agency directory refused the service account: %s", exc.message)
        return _unavailable("service_bind_refused")
    except Unreachable as exc:
        log.warning("agency directory unreachable: %s", exc.message)
        return _unavailable("tls_failed" if exc.tls_failed else "unreachable")
    try:
        ok = conn.search(
            base,
            flt,
            search_scope=SUBTREE,
            attributes=["mail"],
            size_limit=2,
            time_limit=max(1, int(config.timeout)),
        )
        code = int(conn.result.get("result", 80))
        if not ok and code not in (0, 4, 32):  # 4 sizeLimitExceeded: >1 match
            log.warning("federated search failed: %s", conn.result.get("description"))
            return _unavailable("search_failed")
        found = [e for e in conn.response or [] if e.get("type") == "searchResEntry"]
    except LDAPException as exc:
        log.warning("federated search failed: %s", type(exc).__name__)
        return _unavailable("search_failed")
    finally:
        close(conn)
    if not found:
        return _bad("unknown_user")
    if len(found) > 1:
        log.warning("federated login %r matches several entries; refused", username)
        return _bad("ambiguous_user")
    entry = found[0]
    mails = (entry.get("attributes") or {}).get("mail") or []
    mail = mails[0] if isinstance(mails, list) and mails else None
    # Bind as the entry found, on a fresh connection (the service identity is not reused).
    return _bind_as(t, entry["dn"], password, mail=mail)


__all__ = [
    "AD_SEARCH_FILTER",
    "DEFAULT_SEARCH_FILTER",
    "DirectoryError",
    "FederationConfig",
    "FederationResult",
    "Outcome",
    "SettingsError",
    "authenticate",
]
