"""Who is asking: the client's address behind the reverse proxies an operator trusts.

``X-Forwarded-For`` is a list that every proxy appends the address of its own peer to,
so only the right-hand end is written by someone we trust. The client is the right-most
address not in ``IDP_TRUSTED_PROXIES``, read from the right while each hop is trusted;
with no trusted proxies (the default) the header is ignored and the client is the TCP
peer. uvicorn's own proxy-header handling is off (``idp serve``): it believed the
header from any loopback peer.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
SCOPE_KEY = "govid.client_ip"


def parse_networks(value: str) -> tuple[Network, ...]:
    return tuple(
        ipaddress.ip_network(item, strict=False) for item in value.replace(",", " ").split()
    )


def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    text = text.strip()
    if text.startswith("["):  # "[2001:db8::1]:443"
        text = text[1 : text.find("]")] if "]" in text else ""
    elif text.count(":") == 1:  # "192.0.2.1:5678"
        text = text.split(":", 1)[0]
    try:
        addr = ipaddress.ip_address(text)
    except ValueError:
        return None
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped:
        return addr.ipv4_mapped
    return addr


class ClientAddress:
    """``ClientAddress(networks)(scope)``: the client's address as text, or None."""

    def __init__(self, trusted: tuple[Network, ...]) -> None:
        self.trusted = trusted
        self._is_trusted = lru_cache(maxsize=4096)(self._check)

    def _check(self, text: str) -> bool:
        addr = _address(text)
        return addr is not None and any(addr in net for net in self.trusted)

    def __call__(self, scope) -> str | None:
        cached = scope.get(SCOPE_KEY)
        if cached is not None:
            return cached or None
        ip = self._resolve(scope)
        scope[SCOPE_KEY] = ip or ""
        return ip

    def _resolve(self, scope) -> str | None:
        client = scope.get("client")
        peer = client[0] if client else None
        if peer is None or not self.trusted or not self._is_trusted(peer):
            return peer
        hops: list[str] = []
        for name, value in scope.get("headers") or ():
            if name == b"x-forwarded-for":
                hops.extend(value.decode("latin-1").split(","))
        current = peer
        for hop in reversed(hops):
            addr = _address(hop)
            if addr is None:
                break  # garbage: the last address we could trust handed it to us
            current = str(addr)
            if not self._is_trusted(current):
                return current
        return current


def behind_proxies(scope, resolve: ClientAddress) -> None:
    """``scope["client"]`` becomes the client behind the trusted proxies, so every
    ``request.client`` (pages, OIDC, admin, audit) sees the same address; the edge
    (``idp.edge``) calls it first when ``IDP_TRUSTED_PROXIES`` is set."""
    if scope.get("client"):
        ip = resolve(scope)
        if ip != scope["client"][0]:
            scope["client"] = (ip, 0)
