"""A refresh on the event loop (PostgreSQL, decision 0026): one narrow read of the token's
family, and the rotation as ONE guarded statement in the audit group commit's transaction.

1. ``FAMILY``: the refresh token, its grant and the grant's account and agency (only the
   columns a refresh uses), by the token's hash; ``Family.of`` turns the row into plain
   values (no ORM objects). Read in autocommit on the loop (``idp.pg_reads``).
2. ``ROTATE``: marks the presented token used and inserts its successor in one
   statement, only if the presented token is still neither used nor revoked. It runs in
   the group-commit writer's transaction, before the chain's lock and the token's audit
   event (``idp.audit.batch.Guard``): the rotation and its event commit together or not
   at all, and no token leaves before both are committed.

Reuse stays detected under concurrency: the UPDATE takes the old token's row lock, so of
two rotations of one token the second waits for the first to commit and then finds it
used; it changes nothing, its event is dropped, and the request is answered by the
thread path, which sees a rotated token come back and revokes the family (RFC 9700
§4.14.2). A family revoked after the read is seen the same way (``revoked_at``).
"""

from __future__ import annotations

import datetime as dt
import secrets
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, insert, literal_column, select, update
from sqlalchemy.sql import Executable

from idp.accounts.models import Account
from idp.agencies.models import Agency
from idp.crypto import sha256_hex
from idp.db import table
from idp.tokens.models import Grant, RefreshToken

_RT = table(RefreshToken)

FAMILY = (
    select(
        RefreshToken.id,
        RefreshToken.grant_id,
        RefreshToken.client_id,
        RefreshToken.scope,
        RefreshToken.expires_at,
        RefreshToken.used_at,
        RefreshToken.revoked_at,
        Grant.revoked_at,
        Grant.expires_at,
        Grant.acr,
        Grant.amr,
        Grant.auth_time,
        Grant.sid,
        Grant.resources,
        Account.id,
        Account.status,
        Account.agency_id,
        Agency.code,
        Agency.name_th,
        Agency.name_en,
    )
    .select_from(RefreshToken)
    .outerjoin(Grant, Grant.id == RefreshToken.grant_id)
    .outerjoin(Account, Account.id == Grant.account_id)
    .outerjoin(Agency, Agency.id == Account.agency_id)
    .where(RefreshToken.token_hash == bindparam("token_hash"))
)

# Mark the presented token used and insert its successor, one statement (one round
# trip, one snapshot); a row back means it applied.
_USED = (
    update(_RT)
    .where(
        _RT.c.id == bindparam("token_id"),
        _RT.c.used_at.is_(None),
        _RT.c.revoked_at.is_(None),
    )
    .values(used_at=bindparam("now"))
    .returning(_RT.c.grant_id)
    .cte("used")
)
ROTATE: Executable = (
    insert(_RT)
    .from_select(
        [
            _RT.c.id,
            _RT.c.token_hash,
            _RT.c.grant_id,
            _RT.c.client_id,
            _RT.c.scope,
            _RT.c.rotated_from,
            _RT.c.created_at,
            _RT.c.expires_at,
        ],
        select(
            bindparam("new_id", type_=_RT.c.id.type),
            bindparam("token_hash", type_=_RT.c.token_hash.type),
            _USED.c.grant_id,
            bindparam("client_id", type_=_RT.c.client_id.type),
            bindparam("scope", type_=_RT.c.scope.type),
            bindparam("token_id", type_=_RT.c.rotated_from.type),
            bindparam("now", type_=_RT.c.created_at.type),
            bindparam("expires_at", type_=_RT.c.expires_at.type),
        ),
    )
    .returning(literal_column("1"))
)


def _utc(value: dt.datetime | None) -> dt.datetime | None:
    # psycopg returns timestamptz in the session's zone; the ORM's UTCDateTime gives UTC.
    return value.astimezone(dt.UTC) if value is not None else None


def _at(value: dt.datetime) -> dt.datetime:
    return value.astimezone(dt.UTC)  # a NOT NULL timestamptz, as _utc


@dataclass(frozen=True, slots=True)
class AgencyClaim:
    """What the access token's ``agency`` claim is made of (``agencies.claim``)."""

    id: uuid.UUID
    code: str
    name_th: str
    name_en: str


@dataclass(frozen=True, slots=True)
class FamilyAccount:
    """The grant's account as a refresh uses it: the token's subject and agency."""

    id: uuid.UUID
    status: str
    agency_id: uuid.UUID
    agency: AgencyClaim


@dataclass(frozen=True, slots=True)
class FamilyGrant:
    """The grant's columns a refresh's access token is made of (as ``tokens.Grant``)."""

    id: uuid.UUID
    revoked_at: dt.datetime | None
    expires_at: dt.datetime
    acr: str | None
    amr: list[str]
    auth_time: dt.datetime | None
    sid: str | None
    resources: list[str] | None


@dataclass(frozen=True, slots=True)
class FamilyToken:
    """The presented refresh token's row (the attributes ``RefreshTokenAdapter`` reads)."""

    id: uuid.UUID
    grant_id: uuid.UUID
    client_id: str
    scope: str
    expires_at: dt.datetime
    used_at: dt.datetime | None
    revoked_at: dt.datetime | None


@dataclass(frozen=True, slots=True)
class Family:
    """A refresh token read with ``FAMILY``: ``grant``/``account`` None when gone."""

    value: str  # the presented token
    token: FamilyToken
    grant: FamilyGrant | None
    account: FamilyAccount | None

    @classmethod
    def of(cls, value: str, row: Any) -> Family | None:
        if row is None:
            return None
        token = FamilyToken(row[0], row[1], row[2], row[3], _at(row[4]), row[5], row[6])
        grant = account = None
        if row[8] is not None:  # the grant's expires_at is NOT NULL: it exists
            grant = FamilyGrant(
                row[1], row[7], _at(row[8]), row[9], list(row[10] or []), _utc(row[11]),
                row[12], row[13],
            )  # fmt: skip
        if row[14] is not None:
            account = FamilyAccount(
                row[14], row[15], row[16], AgencyClaim(row[16], row[17], row[18], row[19])
            )
        return cls(value, token, grant, account)


@dataclass(frozen=True, slots=True)
class Rotation:
    """The rotation a refresh on the loop asks the group commit to make (``ROTATE``)."""

    params: dict[str, Any]

    @property
    def order(self) -> uuid.UUID:
        return self.params["token_id"]


def new_rotation(
    family: Family, *, client_id: str, scope: str, lifetime: int, now: dt.datetime
) -> tuple[str, Rotation]:
    """The successor of ``family``'s token (as ``tokens.issue_refresh_token`` makes it,
    ``lifetime`` from ``now``, the Clock's) and the statement's parameters that put it in
    place of the presented one."""
    assert family.grant is not None
    value = secrets.token_urlsafe(32)
    expires = min(now + dt.timedelta(seconds=lifetime), family.grant.expires_at)
    return value, Rotation(
        {
            "token_id": family.token.id,
            "now": now,
            "new_id": uuid.uuid4(),
            "token_hash": sha256_hex(value),
            "client_id": client_id,
            "scope": scope,
            "expires_at": expires,
        }
    )
