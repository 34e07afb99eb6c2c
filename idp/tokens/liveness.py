"""Is an access token live, for the resource-server reads (userinfo, introspection).

An access token (RFC 9068) is checked in two steps (decision 0016):

1. ``check`` — what the token says: signature, ``typ``, issuer, audience, expiry,
   ``jti`` and ``client_id`` (no I/O);
2. ``decide`` on ONE row read by the caller — what the database says now: the grant
   named in the ``jti`` not revoked, its account active, the ``jti`` not on the
   deny-list, the client active. The row is read with ``statement``/``params`` on
   every request, by the thread path through the engine (``read``) or on the event loop
   (``idp.pg_reads``); nothing about liveness is cached, so revocation, a suspended
   account or a disabled client take effect with the next request.

The rows are narrow Core selects (no ORM objects): the account's claims come back as an
``AccountView`` with the attributes ``idp.oidc.claims.user_claims`` reads.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.agencies.models import Agency
from idp.clients.models import Client
from idp.keys.service import InvalidToken, KeyRing
from idp.tokens.models import Grant, RevokedToken

CC_PREFIX = "cc"


class TokenError(Exception):
    """A token is invalid, expired or revoked (the reason is for logs, not for callers)."""


class WrongAudience(TokenError):
    """A valid token issued for another resource (RFC 9068 §4: `aud` must be checked)."""


# What the database decides about an access token; built once (constructing a statement
# per call cost more than running it).
DENIED = select(RevokedToken.jti).where(RevokedToken.jti == bindparam("jti")).exists()
CLIENT_STATUS = (
    select(Client.status).where(Client.client_id == bindparam("client_id")).scalar_subquery()
)
# client_credentials tokens: (denied, client status)
LIVE_CC = select(DENIED, CLIENT_STATUS)
# tokens of a grant: (denied, client status, grant revoked_at, account status)
LIVE_GRANT = (
    select(DENIED, CLIENT_STATUS, Grant.revoked_at, Account.status)
    .join(Account, Account.id == Grant.account_id)
    .where(Grant.id == bindparam("grant_id"))
)
# userinfo: the same, the grant's claims request and the account's claims
_ACCOUNT_COLUMNS = (
    Account.id,
    Account.agency_id,
    Account.email,
    Account.given_name_th,
    Account.family_name_th,
    Account.given_name_en,
    Account.family_name_en,
    Account.locale,
    Account.updated_at,
    Account.citizen_id_enc,
)
_AGENCY_COLUMNS = (Agency.code, Agency.name_th, Agency.name_en, Agency.path)
LIVE_GRANT_CLAIMS = (
    select(
        DENIED,
        CLIENT_STATUS,
        Grant.revoked_at,
        Account.status,
        Grant.claims,
        *_ACCOUNT_COLUMNS,
        *_AGENCY_COLUMNS,
    )
    .join(Account, Account.id == Grant.account_id)
    .join(Agency, Agency.id == Account.agency_id)
    .where(Grant.id == bindparam("grant_id"))
)


@dataclass(frozen=True, slots=True)
class AgencyView:
    id: uuid.UUID
    code: str
    name_th: str
    name_en: str
    path: str  # the materialised path (idp.agencies.service.ancestors)


@dataclass(frozen=True, slots=True)
class AccountView:
    """The account's columns that claims are made of (``idp.oidc.claims.user_claims``)."""

    id: uuid.UUID
    agency_id: uuid.UUID
    email: str
    given_name_th: str
    family_name_th: str
    given_name_en: str
    family_name_en: str
    locale: str
    updated_at: dt.datetime
    citizen_id_enc: str | None
    agency: AgencyView


@dataclass(frozen=True, slots=True)
class Checked:
    """An access token whose own claims passed ``check``; the row to read next."""

    token: str
    claims: dict[str, Any]
    client_id: str
    grant_id: uuid.UUID | None

    def statement(self, with_claims: bool = False):
        if self.grant_id is None:
            return LIVE_CC
        return LIVE_GRANT_CLAIMS if with_claims else LIVE_GRANT

    @property
    def params(self) -> dict[str, Any]:
        out: dict[str, Any] = {"jti": self.claims["jti"], "client_id": self.client_id}
        if self.grant_id is not None:
            out["grant_id"] = self.grant_id
        return out


@dataclass(frozen=True, slots=True)
class LiveToken:
    claims: dict[str, Any]
    client_id: str
    account: AccountView | None = None  # with_claims only
    claims_request: dict | None = None  # the grant's OIDC Core §5.5 request


def check(
    keys: KeyRing,
    token: str,
    *,
    issuer: str,
    now: float,
    audience: str | None = None,
    leeway: int = 0,
    verified: tuple[dict[str, Any], dict[str, Any]] | None = None,
) -> Checked:
    """Signature, type, issuer, expiry, ``jti`` and ``client_id``; with ``audience``, also
    that the token is for that resource (``WrongAudience``). ``verified`` is
    ``keys.verify(token)`` when the caller has already checked the signature; ``now`` is
    the Clock's ``time()`` (DESIGN rule 4), the same time the token's ``exp`` was set by."""
    try:
        header, claims = verified if verified is not None else keys.verify(token)
    except InvalidToken as exc:
        raise TokenError("bad signature or format") from exc
    typ = header.get("typ")
    if not isinstance(typ, str) or typ.lower() not in ("at+jwt", "application/at+jwt"):
        raise TokenError("not an access token")  # RFC 9068 §4: typ must be checked
    if claims.get("iss") != issuer:
        raise TokenError("wrong issuer")
    aud = claims.get("aud")
    if (
        audience is not None
        and audience != aud
        and audience not in (aud if isinstance(aud, list) else ())
    ):
        raise WrongAudience("issued for another resource")  # RFC 9068 §4, RFC 8707 §2
    exp = claims.get("exp")
    if not isinstance(exp, int) or exp + leeway < int(now):
        raise TokenError("expired")
    jti = claims.get("jti")
    client_id = claims.get("client_id")
    if not isinstance(jti, str) or not isinstance(client_id, str):
        raise TokenError("no jti or client_id")
    prefix = jti.split(".", 1)[0]
    grant_id = None
    if prefix != CC_PREFIX:
        try:
            grant_id = uuid.UUID(hex=prefix)
        except ValueError:
            raise TokenError("malformed jti") from None
    return Checked(token, claims, client_id, grant_id)


def decide(checked: Checked, row: Any, with_claims: bool = False) -> LiveToken:
    """The token's liveness from the row of ``checked.statement(with_claims)``."""
    if row is None:
        raise TokenError("grant or account gone")
    if row[0]:
        raise TokenError("revoked")
    if row[1] != "active":
        raise TokenError("client disabled or gone")  # a disabled app's tokens stop at once
    if checked.grant_id is None:
        return LiveToken(checked.claims, checked.client_id)
    if row[2] is not None:
        raise TokenError("grant revoked")
    if row[3] != "active":
        raise TokenError("account not active")
    if not with_claims:
        return LiveToken(checked.claims, checked.client_id)
    n = len(_ACCOUNT_COLUMNS)
    # The slice holds exactly the columns before ``agency`` (mypy cannot count it).
    account = AccountView(*row[5 : 5 + n], agency=AgencyView(row[6], *row[5 + n :]))  # type: ignore[misc]
    return LiveToken(checked.claims, checked.client_id, account, row[4])


def read(session: Session, checked: Checked, with_claims: bool = False) -> LiveToken:
    """``check``'s token decided with one statement through ``session``."""
    statement = checked.statement(with_claims)
    return decide(checked, session.execute(statement, checked.params).first(), with_claims)


def active_client(clients, client_id: str, session=None) -> Client:
    """The token's client from the process's cache (its status was read with the row);
    ``session`` is called on a miss. None: raises ``TokenError``."""
    client = clients.active(client_id, session or _no_session)
    if client is None or client.status != "active":
        raise TokenError("client disabled or gone")
    return client


class NeedsSession(Exception):  # noqa: N818 - a control-flow signal, not an error
    """A read on the event loop needs what only a session can read (a client not in the
    cache); the caller answers from the thread path instead."""


def _no_session():
    raise NeedsSession
