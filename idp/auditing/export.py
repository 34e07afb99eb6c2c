"""Streamed audit exports: CSV and NDJSON, constant memory, signed manifest.

- The file streams in chunks straight from the database (``idp.auditing.formats``: COPY on
  PostgreSQL, a batched cursor elsewhere), so memory stays flat whatever the size.
- Columns are the hashed fields plus ``prev_hash`` and ``hash``, so every row of a file
  can be re-hashed later (``verify-export``) and an unfiltered export re-chained.
- CSV is safe against spreadsheet formula injection; ``bom=True`` prefixes a UTF-8 BOM so
  Excel opens Thai text correctly.
- The export is frozen at the chain head when it begins (``up_to_seq``); it is recorded
  as ``audit.export.created`` (also when the download stopped early), and its manifest
  (filters, count, first/last seq and hash, SHA-256 and size of the file) is signed as a
  JWS (``typ: govid-audit-manifest+jwt``).
"""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session, sessionmaker

from idp.agencies.models import Agency
from idp.audit.models import AuditEvent
from idp.audit.service import head, record
from idp.auditing import formats, query
from idp.auditing.checkpoints import Signer
from idp.db import transaction
from idp.errors import InvalidInput

FORMATS = ("csv", "ndjson")
MANIFEST_TYP = "govid-audit-manifest+jwt"


@dataclass
class ExportStats:
    count: int = 0
    first_seq: int | None = None
    first_hash: str | None = None
    last_seq: int | None = None
    last_hash: str | None = None
    bytes: int = 0
    sha256: Any = field(default_factory=hashlib.sha256)


class Export:
    """One export: ``stream()`` yields the file, ``record()`` audits it and signs the
    manifest. ``scope`` is the caller's agency (None = everything, operators only)."""

    def __init__(
        self,
        filters: query.EventFilter,
        fmt: str = "csv",
        *,
        bom: bool = False,
        scope: Agency | None = None,
        actor: str | None = None,
        export_id: str | None = None,
    ) -> None:
        if fmt not in FORMATS:
            raise InvalidInput(f"format must be one of {', '.join(FORMATS)}", field="format")
        if bom and fmt != "csv":
            raise InvalidInput("a byte-order mark is only for CSV", field="bom")
        query.validate(filters, scope)
        self.filters, self.format, self.bom, self.scope = filters, fmt, bom, scope
        self.actor = actor
        self.export_id = export_id or str(uuid.uuid4())
        self.stats = ExportStats()
        self.up_to_seq: int | None = None
        self.complete = False

    @property
    def media_type(self) -> str:
        return "text/csv; charset=utf-8" if self.format == "csv" else "application/x-ndjson"

    @property
    def filename(self) -> str:
        return f"govid-audit-{self.export_id}.{self.format}"

    def freeze(self, session: Session) -> int:
        """Fix the chain head the export covers (called by ``stream`` if not before)."""
        if self.up_to_seq is None:
            self.up_to_seq = head(session)[0]
        return self.up_to_seq

    def count(self, session: Session) -> int:
        """How many rows ``stream`` will yield (for progress bars)."""
        up_to = self.freeze(session)
        return query.count_events(session, _bounded(self.filters, up_to), scope=self.scope)

    def _emit(self, data: bytes) -> bytes:
        self.stats.sha256.update(data)
        self.stats.bytes += len(data)
        return data

    def stream(self, session: Session) -> Iterator[bytes]:
        """The file, in chunks of a few hundred KB. Run inside one read transaction."""
        dialect = session.get_bind().dialect.name
        if dialect == "postgresql":
            # One COPY may rightly run for minutes: not under the service's statement
            # timeout (IDP_DB_STATEMENT_TIMEOUT_MS), for this transaction only.
            session.execute(text("SET LOCAL statement_timeout = 0"))
        filters = _bounded(self.filters, self.freeze(session))
        stmt = formats.statement(
            dialect, self.format, lambda q: query.where(q, filters, self.scope)
        )
        yield self._emit(formats.header_bytes(self.format, self.bom, dialect))
        blocks = formats.copy_blocks if dialect == "postgresql" else formats.cursor_blocks
        s = self.stats
        for block in blocks(session, stmt, self.format):
            if s.first_seq is None and block.first:
                s.first_seq, s.first_hash = block.first
            if block.last:
                s.last_seq, s.last_hash = block.last
            s.count += block.count
            yield self._emit(block.data)
        self.complete = True

    def details(self) -> dict[str, Any]:
        s = self.stats
        return {
            "export_id": self.export_id,
            "format": self.format,
            "bom": self.bom,
            "filters": self.filters.describe(),
            "scope": self.scope.code if self.scope else None,
            "up_to_seq": self.up_to_seq,
            "count": s.count,
            "first_seq": s.first_seq,
            "first_hash": s.first_hash,
            "last_seq": s.last_seq,
            "last_hash": s.last_hash,
            "sha256": s.sha256.hexdigest(),
            "bytes": s.bytes,
            "complete": self.complete,
        }

    def record(self, session: Session, signer: Signer) -> dict[str, Any]:
        """Audit the export (also a partial one) and return the signed manifest document."""
        agency = self.filters.agency or self.scope
        ev = record(
            session,
            "audit.export.created",
            outcome="success" if self.complete else "failure",
            actor=self.actor,
            agency_id=agency.id if agency else None,
            subject=self.export_id,
            details=self.details(),
        )
        return sign_manifest(signer, ev)


def _bounded(filters: query.EventFilter, up_to: int) -> query.EventFilter:
    to_seq = up_to if filters.to_seq is None else min(filters.to_seq, up_to)
    return dataclasses.replace(filters, to_seq=to_seq)


def manifest_claims(ev: Any) -> dict[str, Any]:
    """The manifest of an export, rebuilt from its ``audit.export.created`` event."""
    d = dict(ev.details)
    return {
        "export_id": d["export_id"],
        "created_at": ev.at.isoformat().replace("+00:00", "Z"),
        "audit_seq": ev.seq,
        "actor": ev.actor,
        "columns": list(formats.HEADER),
        **{k: v for k, v in d.items() if k != "export_id"},
    }


def sign_manifest(signer: Signer, ev: Any) -> dict[str, Any]:
    claims = manifest_claims(ev)
    return {"manifest": claims, "jws": signer.sign(claims, typ=MANIFEST_TYP)}


def manifest_for(
    session: Session, signer: Signer, export_id: str, *, scope: Agency | None = None
) -> dict[str, Any]:
    """The signed manifest of an earlier export (``GET .../exports/{id}/manifest``)."""
    from idp.errors import NotFound

    stmt = query.where(
        select(AuditEvent),
        query.EventFilter(types=("audit.export.created",)),
        scope,
    ).where(AuditEvent.subject == export_id)
    ev = session.scalar(stmt)
    if ev is None:
        raise NotFound("no such export", field="export_id")
    return sign_manifest(signer, ev)


def stream_and_record(
    sessions: sessionmaker[Session], signer: Signer, export: Export
) -> Iterator[bytes]:
    """For a streaming HTTP response: yield the file, then (even when the client went
    away) audit it in a transaction of its own. Fetch the manifest afterwards with
    ``manifest_for``."""
    try:
        with sessions() as session:
            yield from export.stream(session)
    finally:
        with transaction(sessions) as session:
            export.record(session, signer)
