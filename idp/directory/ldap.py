"""ldap3 plumbing shared by provisioning and federation: TLS, failover, error kinds.

Nothing here knows about accounts. ``connect`` opens a connection to the first server of
a list that answers, secures it and binds; every ldap3 failure comes out as a
``DirectoryError`` that says whether trying again later can help.

Failover is an explicit loop over ``ldap3.Server`` objects rather than ``ServerPool``:
ServerPool only probes TCP reachability, and after a failed cycle it sleeps
``POOLING_LOOP_TIMEOUT`` (10 s) even when no cycle is left, which would blow a login's
time budget. The loop also fails over on TLS errors and timeouts, and never sends the
same password to a second server after a definite "invalid credentials".
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import math
import ssl
from collections.abc import Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from ldap3 import NONE, SIMPLE, Connection, Server, Tls
from ldap3.core.exceptions import (
    LDAPCertificateError,
    LDAPException,
    LDAPStartTLSError,
)

from idp.config.ldap import check_ldap_urls, is_loopback_url

log = logging.getLogger("idp.directory")

# RFC 4511 §4.1.9 result codes after which the same request may succeed later, or
# that concern our connection/credentials rather than the data sent (so retrying after
# an operator fixes the configuration helps; parking the row would not).
TRANSIENT_CODES = frozenset(
    {
        3,  # timeLimitExceeded
        8,  # strongerAuthRequired
        11,  # adminLimitExceeded
        13,  # confidentialityRequired
        48,  # inappropriateAuthentication
        49,  # invalidCredentials (our service account)
        50,  # insufficientAccessRights
        51,  # busy
        52,  # unavailable
        53,  # unwillingToPerform (read-only replica, shutting down)
        80,  # other
    }
)
INVALID_CREDENTIALS = 49
# Bind answers that say "this server, not now": try the next one.
_FAILOVER_BIND_CODES = frozenset({3, 11, 51, 52, 80})


class DirectoryError(Exception):
    """An LDAP operation failed. ``transient``: the same request may succeed later."""

    def __init__(self, message: str, *, transient: bool, code: int | None = None) -> None:
        super().__init__(message)
        self.message, self.transient, self.code = message, transient, code


class Unreachable(DirectoryError):
    """No server of the list could be reached, secured and bound."""

    def __init__(self, message: str, *, tls_failed: bool = False) -> None:
        super().__init__(message, transient=True)
        self.tls_failed = tls_failed


class BindRejected(DirectoryError):
    """The server answered the bind with a definite no (RFC 4511 §4.2.2)."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message, transient=True, code=code)


@dataclass(frozen=True)
class Transport:
    urls: tuple[str, ...]
    start_tls: bool = True
    allow_plain: bool = False
    allow_plain_remote: bool = False
    ca_file: str | None = None
    ca_pem: str | None = None
    connect_timeout: float = 5.0
    op_timeout: float = 10.0

    def __post_init__(self) -> None:
        check_ldap_urls(list(self.urls))
        for url in self.urls:
            if not url.startswith("ldap://") or self.start_tls:
                continue
            if not self.allow_plain:
                raise ValueError(f"{url}: plain LDAP needs allow_plain (loopback/testing only)")
            if not is_loopback_url(url) and not self.allow_plain_remote:
                raise ValueError(
                    f"{url}: plain LDAP to a non-loopback host is refused "
                    "(IDP_LDAP_ALLOW_PLAIN_REMOTE=true overrides)"
                )

    def secured(self, url: str) -> bool:
        return url.startswith("ldaps://") or self.start_tls


def result_error(conn: Connection, what: str) -> DirectoryError:
    code = int(conn.result.get("result", 80))
    desc = conn.result.get("description") or "error"
    msg = (conn.result.get("message") or "").strip()
    text = f"{what}: {desc} ({code})" + (f": {msg}" if msg else "")
    return DirectoryError(text, transient=code in TRANSIENT_CODES, code=code)


def _tls(t: Transport, host: str) -> Tls:
    # Certificate and host name always checked (RFC 4513 §3.1.3); TLS 1.2 minimum comes
    # from ssl.create_default_context, which ldap3 uses when no version is given.
    try:
        ipaddress.ip_address(host)
        sni = None  # RFC 6066 §3: no IP literals in SNI
    except ValueError:
        sni = host
    return Tls(
        validate=ssl.CERT_REQUIRED,
        ca_certs_file=t.ca_file,
        ca_certs_data=t.ca_pem,
        sni=sni,
    )


def make_server(url: str, t: Transport) -> Server:
    parts = urlsplit(url)
    ldaps = parts.scheme == "ldaps"
    return Server(
        parts.hostname or "",  # (a URL without a host: ldap3 refuses it as before)
        port=parts.port or (636 if ldaps else 389),
        use_ssl=ldaps,
        tls=_tls(t, parts.hostname or "") if t.secured(url) else None,
        get_info=NONE,
        connect_timeout=t.connect_timeout,
    )


def _open(url: str, t: Transport, user: str | None, password: bytes | None) -> Connection:
    conn = Connection(
        make_server(url, t),
        user=user,
        password=password,  # type: ignore[arg-type]  # ldap3 sends bytes as they are
        authentication=SIMPLE if user else None,
        # ldap3 packs this into SO_RCVTIMEO as whole seconds: it must be an int.
        receive_timeout=max(1, math.ceil(t.op_timeout)),
        raise_exceptions=False,
        auto_referrals=False,
        return_empty_attributes=False,
    )
    conn.open(read_server_info=False)
    if url.startswith("ldap://") and t.start_tls:
        conn.start_tls(read_server_info=False)  # RFC 4513 §3: before any credentials
    elif url.startswith("ldap://") and not is_loopback_url(url):
        log.warning("LDAP to %s without TLS (explicitly allowed)", url)
    return conn


def connect(
    t: Transport, user: str | None = None, password: str | None = None
) -> tuple[Connection, str]:
    """Open, secure and (with ``user``) bind, trying each server in order.

    Returns the connection and the URL it went to. Raises ``BindRejected`` when a server
    refused the credentials (no other server is tried with them) and ``Unreachable``
    when none could be used.
    """
    if user and not password:
        # RFC 4513 §5.1.2: a name with an empty password is an *unauthenticated* bind,
        # which many servers answer with success. Never send one.
        raise BindRejected("empty password refused", INVALID_CREDENTIALS)
    # The password goes as the UTF-8 of what was typed: ldap3 would SASLprep (NFKC) a
    # str, which RFC 4513 §5.1.3 leaves to the client, and directories compare against
    # the password as it was set — Thai "ำ" (U+0E33) would never match, and text SASLprep
    # refuses (mixed scripts) would look like an outage.
    secret = password.encode("utf-8") if isinstance(password, str) else password
    failures: list[str] = []
    tls_failed = False
    for url in t.urls:
        conn = None
        try:
            conn = _open(url, t, user, secret)
            if user and not conn.bind(read_server_info=False):
                err = result_error(conn, "bind")
                _quiet_close(conn)
                if err.code not in _FAILOVER_BIND_CODES:
                    # A definite answer (RFC 4511 §4.2.2): a replica would say the same,
                    # and trying the password elsewhere only adds lockout counts.
                    raise BindRejected(err.message, err.code or INVALID_CREDENTIALS)
                failures.append(f"{url}: {err.message}")
                continue
            return conn, url
        except (LDAPStartTLSError, LDAPCertificateError, ssl.SSLError) as exc:
            tls_failed = True
            failures.append(f"{url}: TLS failed ({type(exc).__name__}: {exc})")
        except (LDAPException, OSError) as exc:
            failures.append(f"{url}: {type(exc).__name__}: {exc}")
        if conn is not None:
            _quiet_close(conn)
    raise Unreachable("; ".join(failures) or "no LDAP server configured", tls_failed=tls_failed)


def _quiet_close(conn: Connection) -> None:
    with contextlib.suppress(LDAPException, OSError):
        conn.unbind()


def close(conn: Connection | None) -> None:
    if conn is not None:
        _quiet_close(conn)


def transport_from_urls(
    urls: Sequence[str],
    *,
    start_tls: bool,
    allow_plain: bool,
    allow_plain_remote: bool = False,
    ca_file: str | None = None,
    ca_pem: str | None = None,
    connect_timeout: float = 5.0,
    op_timeout: float = 10.0,
) -> Transport:
    return Transport(
        urls=tuple(urls),
        start_tls=start_tls,
        allow_plain=allow_plain,
        allow_plain_remote=allow_plain_remote,
        ca_file=ca_file,
        ca_pem=ca_pem,
        connect_timeout=connect_timeout,
        op_timeout=op_timeout,
    )
