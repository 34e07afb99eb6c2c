"""Where GovID itself may send requests (back-channel logout today): a guard against
server-side request forgery (OWASP SSRF Prevention Cheat Sheet).

Any agency admin registers a client's ``backchannel_logout_uri``, and GovID POSTs to it.
Outside ``IDP_ENV=dev`` such a URI must be ``https`` and its host must resolve to public
addresses only (no loopback, private, link-local, shared, reserved or multicast ranges),
unless an operator names the host in ``IDP_OUTBOUND_ALLOWED_HOSTS``. It is checked when
the URI is registered and again before every delivery, since DNS can change in between.
A host that does not resolve is not refused (nothing is reached); httpx resolves again when
it connects, so a name re-pointed in that instant (DNS rebinding) is the residual risk.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from idp.errors import InvalidInput

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address the host resolves to (IPv4 and IPv6), by the system's resolver."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({str(info[4][0]) for info in infos})


NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 §2.1: the well-known prefix


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 one carries to a host behind it: IPv4-mapped, 6to4
    (RFC 3056), Teredo's server (RFC 4380) or NAT64's well-known prefix (RFC 6052)."""
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:  # judged by the address it reaches
            ip = embedded
    return ip.is_global and not ip.is_multicast


@dataclass(frozen=True)
class OutboundPolicy:
    allow_any: bool = False  # IDP_ENV=dev: a developer's own machine
    allowed_hosts: frozenset[str] = field(default_factory=frozenset)
    resolver: Resolver = system_resolver

    @classmethod
    def of(cls, settings) -> OutboundPolicy:
        hosts = settings.outbound_allowed_hosts.replace(",", " ").split()
        return cls(
            allow_any=settings.env == "dev",
            allowed_hosts=frozenset(h.lower().rstrip(".") for h in hosts),
        )

    def refusal(self, uri: str) -> str | None:
        """Why GovID must not send a request to ``uri`` now, or None."""
        if self.allow_any:
            return None
        parts = urlsplit(uri)
        host = (parts.hostname or "").rstrip(".")
        if host in self.allowed_hosts:
            return None
        if parts.scheme != "https":
            return "must use https"
        try:
            port = parts.port or 443
        except ValueError:
            return "has an invalid port"
        try:
            ipaddress.ip_address(host)
            addresses = [host]  # a literal address is what it says
        except ValueError:
            try:
                addresses = self.resolver(host, port)
            except (OSError, UnicodeError):
                # Not (yet) in DNS: nothing private is reached now. Registration accepts
                # it; a delivery then fails to connect and is retried, checked again.
                return None
        private = [a for a in addresses if not is_public(a)]
        if private:
            return f"host {host!r} resolves to a non-public address ({private[0]})"
        return None

    def check(self, uri: str, field_name: str) -> None:
        """Refuse a URI at registration with a message naming the field."""
        reason = self.refusal(uri)
        if reason:
            raise InvalidInput(
                f"{field_name} {reason}; an operator may allow the host in "
                "IDP_OUTBOUND_ALLOWED_HOSTS",
                field=field_name,
            )
