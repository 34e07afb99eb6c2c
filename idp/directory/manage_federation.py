"""Per-agency LDAP federation through the admin API (the console's agency
screen): read (the agency's subtree), set and disable (operators, like every agency
change), and a connection test that binds with the stored settings and a timeout.

The test makes GovID open a connection, so it is guarded like ``idp.outbound`` guards
back-channel logout (OWASP SSRF Prevention): only the servers already stored for the
agency are tried (never an address from the request), only by operators, and outside
``IDP_ENV=dev`` each server's host must resolve to public addresses unless an operator
named it in ``IDP_OUTBOUND_ALLOWED_HOSTS`` (agency directories on an internal network are
named there). Every test is audited with its outcome and a fixed reason, never a
password."""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from idp.audit import service as audit
from idp.authz.caller import agency_in_scope
from idp.authz.context import Ctx
from idp.directory import agency_federation as fed
from idp.directory.federation import authenticate
from idp.directory.ldap import BindRejected, Unreachable, close, connect
from idp.errors import NotFound
from idp.outbound import OutboundPolicy, is_public


def outbound_policy(settings) -> OutboundPolicy:
    return OutboundPolicy.of(settings)


def read(ctx: Ctx, agency_id) -> dict[str, Any]:
    agency = agency_in_scope(ctx.db, ctx.scope("agencies:read"), agency_id)
    row = fed.get(ctx.db, agency.code)
    if row is None:
        raise NotFound(f"agency {agency.code} has no federation settings", field="federation")
    return fed.as_dict(row)


def configure(ctx: Ctx, agency_id, data: fed.FederationInput) -> dict[str, Any]:
    agency = agency_in_scope(ctx.db, ctx.scope("agencies:write"), agency_id)
    existing = fed.get(ctx.db, agency.code)
    if data.ca_pem is None and existing is not None:  # null keeps the stored CA bundle
        data = dataclasses.replace(data, ca_pem=existing.ca_pem)
    elif data.ca_pem == "":  # "" removes it (the system's CAs then)
        data = dataclasses.replace(data, ca_pem=None)
    row = fed.configure(ctx.db, agency.code, data, cipher=ctx.services.cipher, actor=ctx.actor)
    return fed.as_dict(row)


def disable(ctx: Ctx, agency_id) -> dict[str, Any]:
    agency = agency_in_scope(ctx.db, ctx.scope("agencies:write"), agency_id)
    return fed.as_dict(fed.disable(ctx.db, agency.code, actor=ctx.actor))


def ldap_refusal(policy: OutboundPolicy, url: str) -> str | None:
    """Why GovID must not connect to this LDAP URL now (``OutboundPolicy.refusal`` with
    the LDAP schemes and ports), or None."""
    if policy.allow_any:
        return None
    parts = urlsplit(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if host in policy.allowed_hosts:
        return None
    try:
        port = parts.port or (636 if parts.scheme == "ldaps" else 389)
    except ValueError:
        return "invalid_port"
    try:
        addresses = policy.resolver(host, port)
    except (OSError, UnicodeError):
        return None  # not in DNS: nothing is reached; the test then reports unreachable
    if any(not is_public(a) for a in addresses):
        return "non_public_address"
    return None


@dataclass
class TestResult:
    ok: bool
    reason: str  # fixed vocabulary: ok, unreachable, tls_failed, bind_refused, ...
    server: str | None = None
    refused: list[dict[str, str]] | None = None
    elapsed_ms: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "reason": self.reason,
            "server": self.server,
            "refused_servers": self.refused or [],
            "elapsed_ms": self.elapsed_ms,
        }


def _try(config, login: str | None, password: str | None) -> tuple[bool, str, str | None]:
    if login:  # a person's sign-in as the login page would make it
        result = authenticate(config, login, password or "")
        return result.ok, "ok" if result.ok else (result.reason or "failed"), result.server
    t = config.transport()
    try:  # the service account when there is one, else reach and secure only
        conn, server = connect(t, config.service_bind_dn, config.service_password)
    except BindRejected:
        return False, "service_bind_refused" if config.service_bind_dn else "bind_refused", None
    except Unreachable as exc:
        return False, "tls_failed" if exc.tls_failed else "unreachable", None
    close(conn)
    return True, "ok", server


def test_connection(
    ctx: Ctx, agency_id, login: str | None = None, password: str | None = None
) -> TestResult:
    agency = agency_in_scope(ctx.db, ctx.scope("agencies:write"), agency_id)
    row = fed.get(ctx.db, agency.code)
    if row is None:
        raise NotFound(f"agency {agency.code} has no federation settings", field="federation")
    policy = outbound_policy(ctx.services.settings)
    refused = [
        {"server": s, "reason": why} for s in row.servers if (why := ldap_refusal(policy, s))
    ]
    allowed = [s for s in row.servers if s not in {r["server"] for r in refused}]
    started = time.monotonic()
    if not allowed:
        result = TestResult(False, "refused_by_outbound_policy", refused=refused)
    else:
        try:
            config = fed._to_config(row, ctx.services.cipher)
        except ValueError:
            result = TestResult(False, "bad_configuration", refused=refused)
        else:
            config = dataclasses.replace(config, servers=tuple(allowed))
            ok, reason, server = _try(config, login, password)
            result = TestResult(ok, reason, server, refused)
    result.elapsed_ms = int((time.monotonic() - started) * 1000)
    audit.record(
        ctx.db,
        "admin.agency.federation_tested",
        outcome="success" if result.ok else "failure",
        actor=ctx.actor,
        agency_id=agency.id,
        subject=agency.code,
        details={
            "reason": result.reason,
            "server": result.server,
            "refused_servers": [r["server"] for r in refused],
            "with_login": bool(login),
        },
    )
    return result
