"""Tokens as domain objects: grants, JWT access tokens (RFC 9068), rotating refresh
tokens (RFC 9700 §4.14.2), revocation (RFC 7009) and validation for userinfo and
introspection. No web framework here; the Authlib adapter in idp.oidc calls these.
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.clients.cache import ClientCache
from idp.clients.models import Client
from idp.crypto import sha256_hex
from idp.db import insert_row, insert_values, rowcount, table, utcnow
from idp.keys.service import KeyRing
from idp.tokens.liveness import CC_PREFIX, CLIENT_STATUS, DENIED, TokenError, WrongAudience, check
from idp.tokens.models import Grant, RefreshToken, RevokedToken

__all__ = ["CC_PREFIX", "TokenError", "WrongAudience"]  # known to callers as tokens.*


@dataclass(frozen=True)
class TokenContext:
    """Everything that goes into an access token besides the client."""

    scope: str
    account: Account | None = None
    grant: Grant | None = None
    acr: str | None = None
    amr: tuple[str, ...] = ()
    auth_time: dt.datetime | None = None
    sid: str | None = None
    # RFC 8707: the API the token is for (its identifier); None is GovID itself.
    audience: str | None = None


def _ts(value: dt.datetime) -> int:
    return int(value.timestamp())


def create_grant(
    session: Session,
    *,
    client: Client,
    account: Account,
    scope: str,
    sid: str | None,
    acr: str | None,
    amr: list[str],
    auth_time: dt.datetime | None,
    claims: dict | None,
    lifetime: int,
    now: dt.datetime,
    grant_id: uuid.UUID | None = None,
    resources: list[str] | None = None,
) -> Grant:
    values = {
        "id": grant_id or uuid.uuid4(),
        "client_id": client.client_id,
        "account_id": account.id,
        "sid": sid,
        "scope": scope,
        "acr": acr,
        "amr": list(amr),
        "auth_time": auth_time,
        "claims": claims,
        "resources": resources or None,
        "created_at": now,
        "expires_at": now + dt.timedelta(seconds=lifetime),
        "revoked_at": None,
        "revoked_reason": None,
    }
    return insert_row(session, Grant, values)


def issue_access_token(
    keys: KeyRing,
    *,
    issuer: str,
    client: Client,
    ctx: TokenContext,
    lifetime: int,
    now: dt.datetime,
    alg: str = "RS256",
) -> tuple[str, dict[str, Any]]:
    """RFC 9068 JWT access token. ``jti`` carries the grant id so that revoking a grant
    (code replay, refresh reuse, logout) also kills its access tokens. ``now`` is the
    Clock's (DESIGN rule 4): ``iat`` and ``exp`` are checked against the same clock."""
    prefix = ctx.grant.id.hex if ctx.grant else CC_PREFIX
    claims: dict[str, Any] = {
        "iss": issuer,
        # RFC 9068 §3: without a resource indicator, the default resource is GovID's
        # own APIs (userinfo, admin API), identified by the issuer; with one (RFC 8707
        # §2), the API it names.
        "aud": ctx.audience or issuer,
        "sub": str(ctx.account.id) if ctx.account else client.client_id,
        "client_id": client.client_id,
        "iat": _ts(now),
        "exp": _ts(now) + lifetime,
        "jti": f"{prefix}.{secrets.token_urlsafe(16)}",
        "scope": ctx.scope,
    }
    if ctx.account is not None:
        if ctx.auth_time:
            claims["auth_time"] = _ts(ctx.auth_time)
        if ctx.acr:
            claims["acr"] = ctx.acr
        if ctx.amr:
            claims["amr"] = list(ctx.amr)
        if ctx.sid:
            claims["sid"] = ctx.sid
        # The same object as in the ID token and userinfo (Account.agency is loaded with
        # the account: no query).
        claims["agency"] = agencies.claim(ctx.account.agency)
    return keys.sign(claims, alg=alg, typ="at+jwt"), claims


def issue_refresh_token(
    session: Session,
    *,
    grant: Grant,
    client: Client,
    scope: str,
    lifetime: int,
    now: dt.datetime,
    rotated_from: uuid.UUID | None = None,
) -> str:
    """A refresh token of ``grant`` good for ``lifetime`` seconds from ``now`` (each
    rotation starts it again: an idle limit), never past the grant's own expiry."""
    value = secrets.token_urlsafe(32)
    expires = min(now + dt.timedelta(seconds=lifetime), grant.expires_at)
    # A Core INSERT: nothing in this request reads the row back, and the ORM's flush
    # bookkeeping cost more than the statement (decision 0009).
    insert_values(
        session,
        RefreshToken,
        {
            "token_hash": sha256_hex(value),
            "grant_id": grant.id,
            "client_id": client.client_id,
            "scope": scope,
            "rotated_from": rotated_from,
            "expires_at": expires,
        },
    )
    return value


def find_refresh_token(session: Session, value: str) -> RefreshToken | None:
    return session.scalar(select(RefreshToken).where(RefreshToken.token_hash == sha256_hex(value)))


def find_refresh_family(
    session: Session, value: str
) -> tuple[RefreshToken, Grant | None, Account | None] | None:
    """A refresh token with its grant and the grant's account (and agency) in one
    statement (not one by one: decision 0014), or None."""
    row = session.execute(_REFRESH_FAMILY, {"token_hash": sha256_hex(value)}).first()
    return (row[0], row[1], row[2]) if row else None


_REFRESH_FAMILY = (
    select(RefreshToken, Grant, Account)
    .outerjoin(Grant, Grant.id == RefreshToken.grant_id)
    .outerjoin(Account, Account.id == Grant.account_id)
    .where(RefreshToken.token_hash == bindparam("token_hash"))
)


def mark_refresh_used(session: Session, token_id: uuid.UUID, now: dt.datetime) -> bool:
    """Atomically mark a refresh token as rotated. False means somebody used it first.

    A Core UPDATE of the table, built once: the ORM-enabled ``update(RefreshToken)``
    evaluated its WHERE against the session's objects to keep them in step, which
    nothing here reads afterwards (decision 0016)."""
    result = session.execute(_MARK_USED, {"token_id": token_id, "now": now})
    return rowcount(result) == 1


_REFRESH = table(RefreshToken)
_MARK_USED = (
    update(_REFRESH)
    .where(_REFRESH.c.id == bindparam("token_id"), _REFRESH.c.used_at.is_(None))
    .values(used_at=bindparam("now", type_=_REFRESH.c.used_at.type))
)


def revoke_grant(
    session: Session,
    grant_id: uuid.UUID,
    reason: str,
    *,
    audit_type: str | None = None,
    client_id: str | None = None,
) -> int:
    """Revoke a grant and every refresh token in its family; access tokens die with it
    because validation checks the grant named in their ``jti``."""
    # The system clock: revoked_at is a record; what decides is that it is set.
    now = utcnow()
    session.execute(
        update(Grant)
        .where(Grant.id == grant_id, Grant.revoked_at.is_(None))
        .values(revoked_at=now, revoked_reason=reason)
    )
    result = session.execute(
        update(RefreshToken)
        .where(RefreshToken.grant_id == grant_id, RefreshToken.revoked_at.is_(None))
        .values(revoked_at=now)
    )
    if audit_type:
        grant = session.get(Grant, grant_id)
        audit.record(
            session,
            audit_type,
            outcome="failure" if audit_type != "oidc.token.revoked" else "success",
            actor=client_id,
            subject=str(grant.account_id) if grant and grant.account_id else None,
            client_id=client_id,
            details={
                "grant": grant_id.hex,
                "reason": reason,
                "revoked_refresh_tokens": rowcount(result),
            },
        )
    return rowcount(result)


def revoke_grants_of_session(session: Session, sid: str, reason: str) -> None:
    for gid in session.scalars(
        select(Grant.id).where(Grant.sid == sid, Grant.revoked_at.is_(None))
    ):
        revoke_grant(session, gid, reason)


def revoke_grants_of_account(session: Session, account_id: uuid.UUID, reason: str) -> None:
    for gid in session.scalars(
        select(Grant.id).where(Grant.account_id == account_id, Grant.revoked_at.is_(None))
    ).all():
        revoke_grant(session, gid, reason)


def revoke_access_token(session: Session, claims: dict[str, Any]) -> None:
    jti = claims["jti"]
    if session.get(RevokedToken, jti) is None:
        session.add(
            RevokedToken(jti=jti, expires_at=dt.datetime.fromtimestamp(claims["exp"], dt.UTC))
        )
        session.flush()


# The admin API's check: the liveness of idp.tokens.liveness with the grant and the
# account as ORM objects (the caller's role grants and session are read from them).
_CHECK_CC = select(DENIED, CLIENT_STATUS)
_CHECK_GRANT = (
    select(Grant, Account, DENIED, CLIENT_STATUS)
    .join(Account, Account.id == Grant.account_id)
    .where(Grant.id == bindparam("grant_id"))
)


@dataclass(frozen=True)
class ValidAccessToken:
    claims: dict[str, Any]
    account: Account | None
    grant: Grant | None
    client: Client


def validate_access_token(
    session: Session,
    keys: KeyRing,
    token: str,
    *,
    issuer: str,
    now: float,
    leeway: int = 0,
    audience: str | None = None,
    clients: ClientCache | None = None,
    verified: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> ValidAccessToken:
    """Signature, type, issuer, expiry, deny-list, grant and account status; with
    ``audience``, also that the token is for that resource (``WrongAudience``).

    Everything the database decides is read in ONE statement (decision 0014): the grant and
    its account (with the agency, joined), whether the ``jti`` is on the deny-list and the
    client's status, so revocation, a disabled client or account take effect at once.
    With ``clients`` (the process's client cache) the client's other columns come from the
    cache (its status still from the database); ``verified`` is ``keys.verify(token)``
    when the caller has already checked the signature; ``now`` is the Clock's ``time()``."""
    checked = check(
        keys, token, issuer=issuer, now=now, audience=audience, leeway=leeway, verified=verified
    )
    claims, jti, client_id, grant_id = (
        checked.claims,
        checked.claims["jti"],
        checked.client_id,
        checked.grant_id,
    )
    grant = account = None
    if grant_id is None:
        row = session.execute(_CHECK_CC, {"jti": jti, "client_id": client_id}).one()
        is_denied, client_status = row[0], row[1]
    else:
        found = session.execute(
            _CHECK_GRANT, {"jti": jti, "client_id": client_id, "grant_id": grant_id}
        ).first()
        if found is None:
            raise TokenError("grant or account gone")
        grant, account, is_denied, client_status = found
    if is_denied:
        raise TokenError("revoked")
    if client_status != "active":
        raise TokenError("client disabled or gone")  # a disabled app's tokens stop at once
    if grant is not None and grant.revoked_at is not None:
        raise TokenError("grant revoked")
    if account is not None and account.status != "active":
        raise TokenError("account not active")
    if clients is not None:
        client = clients.active(client_id, lambda: session)
    else:
        client = session.scalar(select(Client).where(Client.client_id == client_id))
    if client is None or client.status != "active":
        raise TokenError("client disabled or gone")
    return ValidAccessToken(claims, account, grant, client)


def agency_of(session: Session, account: Account) -> Agency:
    return session.get_one(Agency, account.agency_id)
