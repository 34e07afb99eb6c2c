"""SSO sessions: created at login, found by cookie, idle/absolute expiry per assurance
level (DESIGN §5), ended at logout; records which apps each session used."""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session, joinedload

from idp.accounts.models import Account
from idp.config import Settings
from idp.crypto import sha256_hex
from idp.db import insert_row, new_uuid, utcnow
from idp.sessions.models import SessionClient, SsoSession


@dataclass(frozen=True)
class NewSession:
    row: SsoSession
    cookie_value: str  # give to the browser; only its hash is stored


def create(
    db: Session,
    settings: Settings,
    account: Account,
    *,
    acr: str,
    amr: list[str],
    ip: str | None,
    user_agent: str | None,
    now: dt.datetime | None = None,
) -> NewSession:
    now = now or utcnow()
    cookie = secrets.token_urlsafe(16)  # 128 bits
    values = {
        "id": new_uuid(),
        "sid": secrets.token_urlsafe(16),
        "cookie_hash": sha256_hex(cookie),
        "account_id": account.id,
        "acr": acr,
        "amr": list(amr),
        "auth_time": now,
        "created_at": now,
        "last_seen_at": now,
        "expires_at": now + dt.timedelta(seconds=settings.session_absolute_ttl),
        "ended_at": None,
        "end_reason": None,
        "ip": ip,
        "user_agent": (user_agent or "")[:512] or None,
    }
    return NewSession(insert_row(db, SsoSession, values, account=account), cookie)


def find(
    db: Session, settings: Settings, cookie_value: str | None, now: dt.datetime | None = None
) -> SsoSession | None:
    """The live session for a cookie, or None (ended, absolute or idle expiry)."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    now = now or utcnow()
    row = db.scalar(
        select(SsoSession)
        .options(joinedload(SsoSession.account))  # always read below: one statement
        .where(SsoSession.cookie_hash == sha256_hex(cookie_value))
    )
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return None
    idle = now - row.last_seen_at
    if idle >= dt.timedelta(seconds=settings.session_idle_ttl_level1):
        return None
    if row.acr == settings.acr_level2 and idle >= dt.timedelta(
        seconds=settings.session_idle_ttl_level2
    ):
        # Level 2 lapses after its shorter idle time; the password still counts, so a
        # level-2 request asks for the second factor only (DESIGN §5).
        row.acr, row.amr = settings.acr_level1, ["pwd"]
    account = row.account
    if account is None or account.status != "active":
        return None
    return row


def step_up(
    row: SsoSession, settings: Settings, method: str, now: dt.datetime | None = None
) -> str:
    """Second factor passed: level 2, same sid, new auth_time and a new cookie value
    (privilege changed: no fixation). Returns the new cookie value."""
    now = now or utcnow()
    cookie = secrets.token_urlsafe(16)
    row.cookie_hash = sha256_hex(cookie)
    row.acr = settings.acr_level2
    row.amr = ["pwd", "hwk" if method == "webauthn" else "otp", "mfa"]
    row.auth_time = now
    row.last_seen_at = now
    return cookie


def find_by_row(
    db: Session, settings: Settings, row: SsoSession, now: dt.datetime | None = None
) -> bool:
    """Is this session still alive (not ended, not past absolute or idle expiry)?"""
    now = now or utcnow()
    return (
        row.ended_at is None
        and row.expires_at > now
        and now - row.last_seen_at < dt.timedelta(seconds=settings.session_idle_ttl_level1)
    )


def level2_in_use(
    db: Session, settings: Settings, sid: str | None, now: dt.datetime | None = None
) -> bool:
    """Whether the session ``sid`` is still at level 2 (not ended, within its absolute
    and level-2 idle times), counting this use as activity. Admin and SCIM power held by
    a person lasts exactly as long as the level-2 sign-in it came from: a refresh token
    (8 h) cannot stretch it past the 30-minute level-2 idle limit."""
    if not sid:
        return False
    now = now or utcnow()
    row = by_sid(db, sid)
    if row is None or row.ended_at is not None or row.expires_at <= now:
        return False
    if row.acr != settings.acr_level2:
        return False
    if now - row.last_seen_at >= dt.timedelta(seconds=settings.session_idle_ttl_level2):
        return False
    touch(row, now)
    return True


# Idle expiry is measured from ``last_seen_at``; writing it on every request would be an
# UPDATE per sign-in to each app. It is written when it is at least this old, so a session
# may lapse up to this much earlier than its idle time (the shortest allowed is 60 s).
TOUCH_GRANULARITY = dt.timedelta(seconds=30)


def touch(row: SsoSession, now: dt.datetime | None = None) -> None:
    now = now or utcnow()
    if now - row.last_seen_at >= TOUCH_GRANULARITY:
        row.last_seen_at = now


def record_client(db: Session, row: SsoSession, client_id: str) -> None:
    now = utcnow()
    values = {"session_id": row.id, "client_id": client_id, "first_at": now, "last_at": now}
    dialect = db.get_bind().dialect.name
    insert = pg_insert if dialect == "postgresql" else sqlite_insert
    stmt = insert(SessionClient).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["session_id", "client_id"], set_={"last_at": now}
    )
    db.execute(stmt)


def clients_of(db: Session, row: SsoSession) -> list[str]:
    return list(
        db.scalars(select(SessionClient.client_id).where(SessionClient.session_id == row.id))
    )


def end(row: SsoSession, reason: str, now: dt.datetime | None = None) -> None:
    if row.ended_at is None:
        row.ended_at = now or utcnow()
        row.end_reason = reason


def by_sid(db: Session, sid: str) -> SsoSession | None:
    return db.scalar(select(SsoSession).where(SsoSession.sid == sid))


def live_sessions_of(db: Session, account_id, now: dt.datetime) -> list[SsoSession]:
    rows = db.scalars(
        select(SsoSession).where(SsoSession.account_id == account_id, SsoSession.ended_at.is_(None))
    )
    return [r for r in rows if r.expires_at > now]
