"""Ending sessions and OpenID Connect Back-Channel Logout 1.0.

A logout writes one ``logout_delivery`` row per app the session used (in the same
transaction); a background worker POSTs them with retries so the user never waits on an
app that is slow or down (Back-Channel Logout §2.8: the OP should not block).
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
from typing import Any

import httpx
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.audit import service as audit
from idp.clients.models import Client
from idp.db import utcnow
from idp.keys.service import KeyRing
from idp.outbound import OutboundPolicy
from idp.sessions import service as sessions
from idp.sessions.models import LogoutDelivery, SsoSession
from idp.tokens import service as tokens

log = logging.getLogger(__name__)
BACKCHANNEL_EVENT = "http://schemas.openid.net/event/backchannel-logout"
MAX_ATTEMPTS = 8
LOGOUT_TOKEN_TTL = 120


def logout_token(
    keys: KeyRing, *, issuer: str, client: Client, sub: str, sid: str, now: dt.datetime
) -> str:
    """``now`` is the Clock's (DESIGN rule 4), as for every token GovID signs."""
    at = int(now.timestamp())
    claims: dict[str, Any] = {
        "iss": issuer,
        "aud": client.client_id,
        "iat": at,
        "exp": at + LOGOUT_TOKEN_TTL,
        "jti": secrets.token_urlsafe(16),
        "sub": sub,
        "events": {BACKCHANNEL_EVENT: {}},
    }
    # We always know the sid, so it is always sent (§2.4: sid and/or sub); RPs that asked
    # for backchannel_logout_session_required get what they need.
    claims["sid"] = sid
    # Back-Channel Logout §2.4: explicit typ "logout+jwt"; never a nonce.
    return keys.sign(claims, alg=client.id_token_signed_response_alg, typ="logout+jwt")


def end_session(
    db: Session,
    keys: KeyRing,
    *,
    issuer: str,
    row: SsoSession,
    reason: str,
    now: dt.datetime,
    actor: str | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> list[str]:
    """End one SSO session, revoke its grants and queue back-channel logouts.

    Returns the client_ids that will be notified."""
    if row.ended_at is not None:
        return []
    sessions.end(row, reason, now)
    tokens.revoke_grants_of_session(db, row.sid, reason)
    notified = []
    client_ids = sessions.clients_of(db, row)
    if client_ids:
        for client in db.scalars(select(Client).where(Client.client_id.in_(client_ids))):
            if not client.backchannel_logout_uri:
                continue
            db.add(
                LogoutDelivery(
                    client_id=client.client_id,
                    uri=client.backchannel_logout_uri,
                    logout_token=logout_token(
                        keys,
                        issuer=issuer,
                        client=client,
                        sub=str(row.account_id),
                        sid=row.sid,
                        now=now,
                    ),
                )
            )
            notified.append(client.client_id)
    audit.record(
        db,
        "oidc.logout",
        actor=actor or str(row.account_id),
        subject=str(row.account_id),
        session_id=row.sid,
        ip=ip,
        user_agent=user_agent,
        details={"reason": reason, "clients": sorted(client_ids), "notified": notified},
    )
    return notified


def end_everything(
    db: Session,
    keys: KeyRing,
    *,
    issuer: str,
    account_id,
    reason: str,
    now: dt.datetime,
    actor: str | None = None,
    keep: SsoSession | None = None,
    ip: str | None = None,
    user_agent: str | None = None,
) -> int:
    """End everything an account holds, in the caller's transaction: every session not
    ended yet but ``keep`` (each audited, back-channel logouts queued, also for sessions
    that ran out by time: an app may still hold one for them), and every grant with its
    refresh-token family (RFC 9700 §4.14: a grant outlives a session that ended by time).
    The one use case behind a password change, reset or recovery, an admin's reset,
    suspension, deletion and "end every session". Returns the number of sessions ended."""
    ended = 0
    rows = db.scalars(
        select(SsoSession).where(SsoSession.account_id == account_id, SsoSession.ended_at.is_(None))
    ).all()
    for row in rows:
        if keep is not None and row.id == keep.id:
            continue
        end_session(
            db,
            keys,
            issuer=issuer,
            row=row,
            reason=reason,
            now=now,
            actor=actor,
            ip=ip,
            user_agent=user_agent,
        )
        ended += 1
    tokens.revoke_grants_of_account(db, account_id, reason)
    return ended


def deliver_due(
    factory: sessionmaker[Session],
    http: httpx.Client,
    *,
    limit: int = 50,
    outbound: OutboundPolicy | None = None,
) -> int:
    """POST due logout tokens; returns how many were attempted. ``outbound`` is checked
    again before each POST (the URI was checked at registration, but DNS can change):
    a refused target is given up at once, logged, and never contacted."""
    now = utcnow()
    with factory() as db, db.begin():
        rows = db.scalars(
            select(LogoutDelivery)
            .where(
                LogoutDelivery.done_at.is_(None),
                LogoutDelivery.next_try_at <= now,
                LogoutDelivery.attempts < MAX_ATTEMPTS,
            )
            .order_by(LogoutDelivery.next_try_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.attempts += 1
            refused = outbound.refusal(row.uri) if outbound is not None else None
            if refused:
                log.warning("back-channel logout not sent: %s %s", row.uri, refused)
                row.last_error = f"refused: {refused}"[:255]
                row.attempts = MAX_ATTEMPTS  # never retried: the target is not allowed
                continue
            try:
                # Back-Channel Logout §2.5: form-encoded logout_token; 200 or 204 is success.
                r = http.post(row.uri, data={"logout_token": row.logout_token})
                ok = r.status_code in (200, 204)
                error = None if ok else f"HTTP {r.status_code}"
            except httpx.HTTPError as exc:
                ok, error = False, type(exc).__name__
            if ok:
                row.done_at = utcnow()
                row.last_error = None
            else:
                row.last_error = error
                # Exponential backoff: 2, 4, 8 ... seconds, capped at 10 minutes.
                row.next_try_at = utcnow() + dt.timedelta(seconds=min(600, 2**row.attempts))
        return len(rows)


class LogoutWorker:
    """Background thread started by create_app; woken right after a logout commits."""

    def __init__(
        self,
        factory: sessionmaker[Session],
        interval: float = 2.0,
        outbound: OutboundPolicy | None = None,
    ) -> None:
        self._factory = factory
        self._outbound = outbound
        self._interval = interval
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="backchannel-logout", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread:
            self._thread.join(timeout=5)

    def _run(self) -> None:
        with httpx.Client(timeout=5.0, follow_redirects=False) as http:
            while not self._stop.is_set():
                try:
                    while (
                        deliver_due(self._factory, http, outbound=self._outbound)
                        and not self._stop.is_set()
                    ):
                        pass
                except Exception:  # keep the worker alive; the rows stay queued
                    log.exception("back-channel logout delivery failed")
                self._wake.wait(self._interval)
                self._wake.clear()
