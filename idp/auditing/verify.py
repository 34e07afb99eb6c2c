"""Verify the audit log: recompute the chain and check every signed checkpoint.

What is checked, and the problem code reported for the FIRST (lowest seq) failure:

- ``missing``: a seq is absent (a deleted row), or the log starts after seq 1 without a
  signed *purge* checkpoint anchoring its first row (a deleted beginning);
- ``link_broken``: a row's ``prev_hash`` is not the previous row's ``hash``;
- ``hash_mismatch``: a row's content does not hash to its ``hash`` (an edited or
  reordered row);
- ``checkpoint_signature``: a checkpoint's JWS does not verify with any key GovID ever
  had, or does not say what its row says;
- ``checkpoint_mismatch``: a row's hash differs from a signed checkpoint at that seq (the
  chain was recomputed after an edit);
- ``truncated``: a signed checkpoint covers seqs beyond the end of the log;
- ``checkpoint_missing``: the chain records a checkpoint (or purge) whose signed row is
  gone;
- ``checkpoint_key_late``: a checkpoint is signed by a key whose ``signing_key`` row was
  created after the checkpoint's time (a key added later to forge an old checkpoint);
- ``purge_unrecorded``: the log starts after a signed purge checkpoint that no
  ``audit.purge.completed`` event after it records (same seq, hash and key);
- ``purge_too_young``: the events a purge removed did not end at least the retention
  period it records (never less than 90 days) before its checkpoint.

Trust: checkpoint signatures prove nothing against someone who can also choose the keys.
``signer`` is normally the KeyRing, whose public keys come from the ``signing_key`` table
of the database being verified (``keys_independent`` is then false, and the report says
so); give a key set kept elsewhere (``idp audit verify --jwks FILE``, saved with ``idp
audit trust-anchor``) to verify against keys a database writer cannot add to.

``--from/--to`` verify part of the log: the first row of the range is linked to the row
before it (or to a checkpoint or the genesis hash), and checkpoints inside the range are
checked. A range with no events in it (past the newest event) is intact.

"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.audit.chain import COLUMNS, GENESIS_HASH, hash_material
from idp.audit.models import AuditCheckpoint, AuditEvent
from idp.auditing.checkpoints import TYP, Signer
from idp.auditing.formats import chain_columns
from idp.config import MIN_AUDIT_RETENTION_DAYS
from idp.keys.models import SigningKey
from idp.keys.service import InvalidToken

_BATCH = 5000
DATABASE_KEYS_NOTE = (
    "checkpoint signatures were checked with public keys read from the database being "
    "verified: someone who can write to that database can add a key of their own and forge "
    "checkpoints (e.g. a purge that cuts off the start of the log). Verify with a key set "
    "kept elsewhere: idp audit verify --jwks FILE (save it with idp audit trust-anchor)"
)


@dataclass
class VerifyReport:
    ok: bool = True
    first_bad_seq: int | None = None
    problem: str | None = None
    message: str = "the audit log is intact"
    checked_events: int = 0
    checked_checkpoints: int = 0
    first_seq: int | None = None
    last_seq: int | None = None
    head_seq: int | None = None
    latest_checkpoint_seq: int | None = None
    uncovered_events: int = 0
    warnings: list[str] = field(default_factory=list)
    keys_source: str = "database"
    keys_independent: bool = False
    trust: str = DATABASE_KEYS_NOTE

    def fail(self, seq: int, problem: str, message: str) -> None:
        if self.first_bad_seq is None or seq < self.first_bad_seq:
            self.ok, self.first_bad_seq, self.problem, self.message = False, seq, problem, message

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def _parse_at(value: Any) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _aware(value: dt.datetime) -> dt.datetime:
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _checkpoints(
    session: Session,
    signer: Signer | None,
    lo: int,
    hi: int | None,
    report: VerifyReport,
    meta: dict[int, dict[str, Any]] | None = None,
) -> tuple[dict[int, str], dict[int, str]]:
    """Signed checkpoints in [lo, hi] as {seq: hash}, and purge anchors as {seq: hash}.

    ``meta`` (when given) receives each purge anchor's signed claims (``at``, ``kid``,
    and for purges since this check existed ``last_at`` and ``retention_days``).
    """
    good: dict[int, str] = {}
    anchors: dict[int, str] = {}
    key_created: dict[str, dt.datetime | None] = {}
    stmt = select(AuditCheckpoint).where(AuditCheckpoint.seq >= lo).order_by(AuditCheckpoint.seq)
    if hi is not None:
        stmt = stmt.where(AuditCheckpoint.seq <= hi)
    for cp in session.scalars(stmt):
        report.checked_checkpoints += 1
        reason = cp.reason
        claims: dict[str, Any] = {"at": cp.at.isoformat(), "kid": cp.kid}
        if signer is not None:
            try:
                header, claims = signer.verify(cp.jws, archive=True)
            except InvalidToken as exc:
                report.fail(cp.seq, "checkpoint_signature", f"checkpoint at seq {cp.seq}: {exc}")
                continue
            if header.get("typ") != TYP or (claims.get("seq"), claims.get("hash")) != (
                cp.seq,
                cp.hash,
            ):
                report.fail(
                    cp.seq,
                    "checkpoint_signature",
                    f"checkpoint at seq {cp.seq} does not say what its signature says",
                )
                continue
            reason = claims.get("reason", "manual")
            kid = str(header.get("kid"))
            claims = {**claims, "kid": kid}
            if kid not in key_created:
                row = session.get(SigningKey, kid)
                key_created[kid] = _aware(row.created_at) if row is not None else None
            signed_at = _parse_at(claims.get("at"))
            when = min(_aware(cp.at), signed_at) if signed_at else _aware(cp.at)
            created = key_created[kid]
            if created is not None and created > when:
                report.fail(
                    cp.seq,
                    "checkpoint_key_late",
                    f"checkpoint at seq {cp.seq} is dated {when.isoformat()} but is signed by "
                    f"key {kid}, which was only added on {created.isoformat()}: a key added "
                    "later cannot have signed it (a forged checkpoint?)",
                )
                continue
        if good.get(cp.seq, cp.hash) != cp.hash:
            report.fail(cp.seq, "checkpoint_mismatch", f"two checkpoints disagree at {cp.seq}")
        good[cp.seq] = cp.hash
        if reason == "purge":
            anchors[cp.seq] = cp.hash
            if meta is not None:
                meta[cp.seq] = claims
    return good, anchors


def _purge_problem(
    session: Session, seq: int, hash_: str, claims: dict[str, Any]
) -> tuple[str, str] | None:
    """Why the purge anchor at ``seq`` may not stand for the events before it, or None.

    It must be recorded by an ``audit.purge.completed`` event after it (same boundary,
    hash and key), and what it removed must have ended at least the retention period
    (the purge's own, never less than 90 days) before the checkpoint was signed.
    """
    recorded = None
    stmt = (
        select(AuditEvent.seq, AuditEvent.details)
        .where(AuditEvent.type == "audit.purge.completed", AuditEvent.seq > seq)
        .order_by(AuditEvent.seq)
    )
    for ev_seq, details in session.execute(stmt):
        d = details or {}
        same = d.get("last_seq") == seq and d.get("hash") == hash_
        if same and d.get("kid") in (None, claims.get("kid")):
            recorded = (ev_seq, d)
            break
    if recorded is None:
        return "purge_unrecorded", (
            f"the log starts after the purge checkpoint at seq {seq}, but no "
            "audit.purge.completed event after it records that purge: the events up to "
            f"seq {seq} were removed without a recorded purge"
        )
    ev_seq, d = recorded
    signed_at = _parse_at(claims.get("at"))
    days = claims.get("retention_days", d.get("retention_days"))
    if not isinstance(days, int) or days < MIN_AUDIT_RETENTION_DAYS:
        return "purge_too_young", (
            f"the purge recorded by event {ev_seq} claims a retention of {days!r} days; "
            f"at least {MIN_AUDIT_RETENTION_DAYS} days are required"
        )
    # The newest removed event: signed by the checkpoint (last_at), or, for purges made
    # before it was signed, below the cutoff the purge event records (before).
    ended = _parse_at(claims.get("last_at")) or _parse_at(d.get("before"))
    if signed_at is None or ended is None or signed_at - ended < dt.timedelta(days=days):
        return "purge_too_young", (
            f"the purge checkpoint at seq {seq} (signed {claims.get('at')}) removed events "
            f"up to {ended.isoformat() if ended else 'an unknown time'}, less than the "
            f"{days}-day retention period before it"
        )
    return None


def _start_anchor(
    session: Session,
    start: int,
    anchors: dict[int, str],
    meta: dict[int, dict[str, Any]],
    report: VerifyReport,
) -> str | None:
    if start == 1:
        return GENESIS_HASH
    below = [s for s in anchors if s < start - 1]
    missing = max(below) + 1 if below else 1
    if start - 1 in anchors:
        problem = _purge_problem(session, start - 1, anchors[start - 1], meta.get(start - 1, {}))
        if problem is None:
            return anchors[start - 1]
        report.fail(missing, *problem)
        return None
    report.fail(
        missing,
        "missing",
        f"events {missing}..{start - 1} are missing: the log starts at seq {start} and no "
        "signed purge checkpoint anchors it",
    )
    return None


def verify(
    session: Session,
    signer: Signer | None,
    *,
    from_seq: int | None = None,
    to_seq: int | None = None,
    keys_source: str = "database",
) -> VerifyReport:
    """Recompute the chain (optionally a seq range) and check the checkpoints in it.

    ``signer`` is the KeyRing (``services.keys``) or a key set kept elsewhere (then name
    it in ``keys_source``); None skips signature checks, which only
    ``verify_chain`` does (checkpoints are then taken at their word).
    """
    report = VerifyReport()
    if keys_source != "database":
        report.keys_source, report.keys_independent = keys_source, True
        report.trust = f"checkpoint signatures were checked with the key set {keys_source}"
    lo = max(from_seq or 1, 1)
    if to_seq is not None and to_seq < lo:
        report.head_seq = session.scalar(select(func.max(AuditEvent.seq)))
        report.message = "no events in the range: nothing to verify"
        return report
    # Checkpoints first: every row a checkpoint covers was committed before it, so the
    # rows read afterwards include them even while writers keep appending.
    meta: dict[int, dict[str, Any]] = {}
    good, anchors = _checkpoints(session, signer, lo - 1, to_seq, report, meta)
    if lo > 1:  # the start of the log may be anchored below the range
        anchors.update(_checkpoints(session, signer, 0, lo - 2, VerifyReport(), meta)[1])
    start, end = session.execute(select(func.min(AuditEvent.seq), func.max(AuditEvent.seq))).one()
    report.head_seq = end
    if end is not None and lo > end:  # the range begins after the newest event
        beyond = [s for s in good if s > end]
        if beyond:
            report.fail(
                end + 1,
                "truncated",
                f"events from seq {end + 1} are missing: a signed checkpoint covers seq "
                f"{max(beyond)} but the log ends at {end}",
            )
        else:
            report.message = f"no events in the range: the newest event is seq {end}"
        return report
    if good:
        report.latest_checkpoint_seq = max(good)
    else:
        report.warnings.append("no checkpoint: a truncated tail would not be visible")
    if start is None:
        if good:  # a purge always leaves its own event behind, so this is truncation
            seq = max(anchors) + 1 if anchors else 1
            report.fail(seq, "truncated", "the log is empty but signed checkpoints cover events")
        return report
    lo = max(lo, start)
    if lo == start:
        prev = _start_anchor(session, start, anchors, meta, report)
    elif lo - 1 in good:
        prev = good[lo - 1]
    else:
        prev = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == lo - 1))
        if prev is None:
            report.fail(lo - 1, "missing", f"event {lo - 1} (before the range) is missing")
    if prev is None:
        return report

    # Core rows with the hashed text formatted by the database (as exports do), so the
    # identity map stays empty and Python only builds the canonical JSON.
    cols = chain_columns(session.get_bind().dialect.name)
    stmt = select(*cols).where(AuditEvent.seq >= lo).order_by(AuditEvent.seq)
    if to_seq is not None:
        stmt = stmt.where(AuditEvent.seq <= to_seq)
    expected, last = lo, None
    late = _LateCheckpoints(session, signer, good, anchors)
    for ev in session.execute(stmt.execution_options(yield_per=_BATCH)):
        problem = _check_row(ev, expected, prev, good, late)
        if problem:
            report.fail(ev.seq if problem[0] != "missing" else expected, *problem)
            break
        report.checked_events += 1
        prev, last, expected = ev.hash, ev.seq, ev.seq + 1
    else:
        report.first_seq, report.last_seq = (lo, last) if last is not None else (None, None)
        beyond = [s for s in good if s > (last or lo - 1)]
        if beyond:
            seq = (last or lo - 1) + 1
            report.fail(
                seq,
                "truncated",
                f"events from seq {seq} are missing: a signed checkpoint covers seq "
                f"{max(beyond)} but the log ends at {last}",
            )
    if report.latest_checkpoint_seq is not None and end is not None:
        report.uncovered_events = max(0, end - report.latest_checkpoint_seq)
    return report


class _LateCheckpoints:
    """Looks up a checkpoint written after the checkpoint list was read."""

    def __init__(
        self,
        session: Session,
        signer: Signer | None,
        good: dict[int, str],
        anchors: dict[int, str],
    ) -> None:
        self.session, self.signer, self.good, self.anchors = session, signer, good, anchors

    def hash_at(self, seq: Any, *, purge: bool = False) -> str | None:
        known = (self.anchors if purge else self.good).get(seq)
        if known is None and isinstance(seq, int):
            good, anchors = _checkpoints(self.session, self.signer, seq, seq, VerifyReport())
            known = (anchors if purge else good).get(seq)
        return known


def _check_row(
    ev: Any, expected: int, prev: str, good: dict[int, str], late: _LateCheckpoints
) -> tuple[str, str] | None:
    if ev.seq != expected:
        return "missing", f"event {expected} is missing (the next one is {ev.seq})"
    if ev.prev_hash != prev:
        return "link_broken", f"event {ev.seq} does not link to the event before it"
    if hash_material(ev.prev_hash, dict(zip(COLUMNS, ev, strict=False))) != ev.hash:
        return "hash_mismatch", f"event {ev.seq} was changed after it was written"
    if ev.seq in good and good[ev.seq] != ev.hash:
        return "checkpoint_mismatch", f"event {ev.seq} differs from the signed checkpoint"
    d = ev.details or {}
    if ev.type == "audit.checkpoint.created" and late.hash_at(d.get("seq")) != d.get("hash"):
        return "checkpoint_missing", f"the checkpoint recorded by event {ev.seq} is gone"
    if ev.type == "audit.purge.completed" and late.hash_at(d.get("last_seq"), purge=True) != d.get(
        "hash"
    ):
        return "checkpoint_missing", f"the purge checkpoint recorded by event {ev.seq} is gone"
    return None


def verify_chain(session: Session) -> int | None:
    """Return the first seq whose hash or link is wrong (or missing), else None.

    The chain only; ``verify`` also checks the signed checkpoints.
    """
    return verify(session, None).first_bad_seq
