"""Signed checkpoints of the chain head (DESIGN §7: "make truncation visible").

A checkpoint is a JWS (``typ: govid-audit-checkpoint+jwt``) signed with the IdP's active
key over ``{seq, hash, at, reason}``. Checkpoints are verified with every key ever used
(``archive=True``), so a key rotation never invalidates old ones. ``reason`` is signed
because only a ``purge`` checkpoint may anchor a chain whose beginning is gone.

Each manual or periodic checkpoint is also written to the chain as
``audit.checkpoint.created``, so deleting a checkpoint row is itself detectable.
Ship ``jws`` off the host (syslog, a ticket, an e-mail to the auditor) for protection
against someone who can rewrite the whole database.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from idp.audit.chain import format_at
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.audit.service import head, lock_head, record
from idp.db import transaction, utcnow

TYP = "govid-audit-checkpoint+jwt"
REASONS = ("manual", "periodic", "purge")
log = logging.getLogger(__name__)


class Signer(Protocol):
    """What ``idp.keys.service.KeyRing`` offers; any object with these two methods."""

    def sign(self, claims: dict[str, Any], *, alg: str = ..., typ: str = ...) -> str: ...

    def verify(
        self, token: str, *, algorithms: tuple[str, ...] = ..., archive: bool = ...
    ) -> tuple[dict[str, Any], dict[str, Any]]: ...

    def jwks(self) -> dict[str, Any]: ...


@dataclass(frozen=True)
class CheckpointInfo:
    seq: int
    hash: str
    at: str
    kid: str
    reason: str
    jws: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _info(cp: AuditCheckpoint) -> CheckpointInfo:
    return CheckpointInfo(cp.seq, cp.hash, format_at(cp.at), cp.kid, cp.reason, cp.jws)


def sign_checkpoint(
    session: Session,
    signer: Signer,
    seq: int,
    hash_: str,
    reason: str,
    *,
    at: dt.datetime | None = None,
    extra: dict[str, Any] | None = None,
) -> AuditCheckpoint:
    """Sign and store a checkpoint of (seq, hash); the caller holds the head lock.

    ``extra`` claims are signed too (a purge signs ``last_at``, the time of the newest
    event it removes, and ``retention_days``, so ``verify`` can check its age).
    """
    if reason not in REASONS:
        raise ValueError(f"reason must be one of {', '.join(REASONS)}")
    at = at or utcnow()
    claims = {**(extra or {}), "seq": seq, "hash": hash_, "at": format_at(at), "reason": reason}
    token = signer.sign(claims, typ=TYP)
    kid = signer.verify(token, archive=True)[0]["kid"]
    cp = AuditCheckpoint(seq=seq, hash=hash_, at=at, kid=kid, reason=reason, jws=token)
    session.add(cp)
    session.flush()
    return cp


def latest(session: Session) -> CheckpointInfo | None:
    cp = session.scalar(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc(), AuditCheckpoint.id.desc())
    )
    return _info(cp) if cp else None


def is_due(session: Session) -> bool:
    """New events since the latest checkpoint, other than that checkpoint's own event."""
    head_seq = head(session)[0]
    last = session.scalar(select(AuditCheckpoint.seq).order_by(AuditCheckpoint.seq.desc()))
    if head_seq == 0 or (last is not None and head_seq <= last):
        return False
    if last is not None and head_seq == last + 1:
        kind = session.scalar(select(AuditEvent.type).where(AuditEvent.seq == head_seq))
        return kind != "audit.checkpoint.created"
    return True


def create(
    session: Session, signer: Signer, *, reason: str = "manual", actor: str = "system"
) -> CheckpointInfo | None:
    """Checkpoint the current head; None when the log is empty."""
    signer.jwks()  # load (or create) keys before taking the lock: loading may write events
    lock_head(session)
    seq, hash_, _ = head(session)
    if seq == 0:
        return None
    cp = sign_checkpoint(session, signer, seq, hash_, reason)
    record(
        session,
        "audit.checkpoint.created",
        actor=actor,
        details={"seq": seq, "hash": hash_, "kid": cp.kid, "reason": reason},
    )
    return _info(cp)


def run_periodic(
    sessions: sessionmaker[Session],
    signer: Signer,
    *,
    interval: float,
    stop: threading.Event,
    on_checkpoint: Callable[[CheckpointInfo], None] | None = None,
) -> int:
    """The periodic job: checkpoint every ``interval`` seconds when there is something new,
    until ``stop`` is set. Errors are logged and retried at the next tick. Returns the
    number of checkpoints written."""
    written = 0
    while not stop.is_set():
        try:
            with transaction(sessions) as session:
                info = create(session, signer, reason="periodic") if is_due(session) else None
            if info is not None:
                written += 1
                log.info("audit checkpoint seq=%s hash=%s kid=%s", info.seq, info.hash, info.kid)
                if on_checkpoint:
                    on_checkpoint(info)
        except Exception:  # a job must survive a database restart
            log.exception("audit checkpoint failed; retrying in %ss", interval)
        stop.wait(interval)
    return written
