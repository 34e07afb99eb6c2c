"""Export file formats, produced by the database as far as possible.

- The cells are formatted in SQL (timestamps, UUIDs, JSON, the CSV formula guard), so
  Python only moves bytes.
- PostgreSQL: ``COPY (SELECT ...) TO STDOUT`` streams rows while the client writes them
  (no round trip per batch, constant memory); NDJSON lines come from ``row_to_json``.
- SQLite (development): a cursor read in batches and Python's csv/json.

CSV: header line, minimal quoting, line ends LF from PostgreSQL's COPY and CRLF from
Python's csv (SQLite); CSV readers (Excel, LibreOffice, pandas) take either.
Formula guard (OWASP "CSV Injection"): a cell starting with ``=``, ``+``, ``-``, ``@``,
tab or CR gets a leading apostrophe; a cell starting with an apostrophe gets one too, so
dropping one leading apostrophe restores any value. NDJSON: one JSON object per line, UTF-8.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, Text, case, cast, func, literal, select, type_coerce
from sqlalchemy.orm import Session

from idp.audit.chain import COLUMNS
from idp.audit.models import AuditEvent

HEADER = (*COLUMNS, "prev_hash", "hash")
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r", "'")
BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 256 * 1024
_BATCH = 2000
# Free-text columns; the others are digits, hex, UUIDs, JSON objects or registry names.
_FREE_TEXT = ("actor", "subject", "client_id", "session_id", "ip", "user_agent")


def unescape_cell(value: str) -> str:
    """Undo the formula guard: every guarded cell starts with one added apostrophe."""
    return value[1:] if value.startswith("'") else value


def _columns(dialect: str, *, guard: bool, json_details: bool = False) -> list[Any]:
    t = AuditEvent.__table__.c
    at: Any  # SQL expressions of the dialect's own kinds
    agency: Any
    details: Any
    if dialect == "postgresql":
        at = func.to_char(func.timezone("UTC", t.at), 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')
        agency = cast(t.agency_id, Text)
        details = t.details if json_details else cast(t.details, Text)
    else:  # SQLite stores "YYYY-MM-DD HH:MM:SS.ffffff", UUIDs as 32 hex digits, JSON text
        at = type_coerce(func.replace(type_coerce(t.at, Text), " ", "T"), Text) + "Z"
        raw = type_coerce(t.agency_id, Text)
        parts = [func.substr(raw, a, n) for a, n in ((1, 8), (9, 4), (13, 4), (17, 4), (21, 12))]
        agency = func.lower(
            parts[0] + "-" + parts[1] + "-" + parts[2] + "-" + parts[3] + "-" + parts[4]
        )
        details = t.details if json_details else type_coerce(t.details, Text)
    cols: dict[str, Any] = {"seq": t.seq, "at": at, "type": t.type, "outcome": t.outcome}
    cols.update(agency_id=agency, details=details, prev_hash=t.prev_hash, hash=t.hash)
    for name in _FREE_TEXT:
        col: Any = t[name]
        if guard:
            starts = func.substr(col, 1, 1).in_(FORMULA_PREFIXES)
            col = case((starts, literal("'", Text) + col), else_=col)
        cols[name] = col
    return [cols[name].label(name) for name in HEADER]


def chain_columns(dialect: str) -> list[Any]:
    """HEADER's columns with ``at`` and ``agency_id`` as the text that is hashed and
    ``details`` as JSON: ``dict(zip(COLUMNS, row))`` is a row's hash material."""
    return _columns(dialect, guard=False, json_details=True)


def statement(dialect: str, fmt: str, narrow: Callable[[Select], Select]) -> Select:
    """The SELECT for ``fmt``; ``narrow`` adds the scope and filters to the inner query."""
    if fmt == "csv" or dialect != "postgresql":
        inner = narrow(select(*_columns(dialect, guard=fmt == "csv")))
        return inner.order_by(AuditEvent.seq)
    # NDJSON on PostgreSQL: row_to_json keeps column order and embeds details as JSON.
    rows = narrow(select(*_columns(dialect, guard=False, json_details=True))).subquery("r")
    line = cast(func.row_to_json(rows.table_valued()), Text).label("line")
    return select(line).order_by(rows.c.seq)


@dataclass
class Block:
    """A chunk of the file and what it holds: rows, (seq, hash) of its first and last."""

    data: bytes
    count: int
    first: tuple[int, str] | None
    last: tuple[int, str] | None


def _ends(fmt: str, line: bytes) -> tuple[int, str]:
    if fmt == "csv":  # seq is the first cell, the 64-hex hash the last
        text = line.decode().rstrip("\r\n")
        return int(text.split(",", 1)[0]), text[-64:]
    obj = json.loads(line)
    return obj["seq"], obj["hash"]


def copy_blocks(session: Session, stmt: Select, fmt: str) -> Iterator[Block]:
    """PostgreSQL: stream ``stmt`` through COPY, in blocks of about CHUNK_BYTES."""
    compiled = stmt.compile(
        dialect=session.get_bind().dialect, compile_kwargs={"render_postcompile": True}
    )
    # NDJSON lines go out verbatim: CSV mode with a delimiter and quote that JSON text
    # never contains (control characters are escaped in JSON), so nothing is quoted.
    options = "FORMAT csv" if fmt == "csv" else "FORMAT csv, DELIMITER E'\\x02', QUOTE E'\\x01'"
    raw = session.connection().connection.driver_connection
    assert raw is not None
    sql = f"COPY ({compiled}) TO STDOUT ({options})"
    parts: list[Any] = []
    size = 0
    with raw.cursor() as cur, cur.copy(sql, compiled.params) as copy:  # type: ignore[call-overload]
        for row in copy:  # one row per item
            parts.append(row)
            size += len(row)
            if size >= CHUNK_BYTES:
                yield _block(fmt, parts)
                parts, size = [], 0
        if parts:
            yield _block(fmt, parts)


def _block(fmt: str, parts: list[Any]) -> Block:
    first, last = _ends(fmt, bytes(parts[0])), _ends(fmt, bytes(parts[-1]))
    return Block(b"".join(parts), len(parts), first, last)


def cursor_blocks(session: Session, stmt: Select, fmt: str) -> Iterator[Block]:
    """Any database: a server-side cursor read ``_BATCH`` rows at a time."""
    result = session.execute(stmt.execution_options(yield_per=_BATCH))
    buf = io.StringIO()
    # CRLF (RFC 4180): Python's csv only quotes a CR inside a cell when CR ends lines.
    writer = csv.writer(buf, lineterminator="\r\n")
    sqlite = session.get_bind().dialect.name == "sqlite"
    for part in result.partitions():
        if fmt == "csv":
            writer.writerows(map(_readable_details, part) if sqlite else part)
        else:
            buf.writelines(_ndjson(r) for r in part)
        first, last = part[0], part[-1]
        data = buf.getvalue().encode()
        yield Block(data, len(part), (first.seq, first.hash), (last.seq, last.hash))
        buf.seek(0)
        buf.truncate()


def _readable_details(row: Any) -> tuple[Any, ...]:
    # SQLite's JSON text escapes non-ASCII; write Thai as Thai.
    i = HEADER.index("details")
    return (*row[:i], json.dumps(json.loads(row[i] or "{}"), ensure_ascii=False), *row[i + 1 :])


def _ndjson(row: Any) -> str:
    obj = dict(row._mapping)
    obj["details"] = json.loads(obj["details"] or "{}")
    return json.dumps(obj, ensure_ascii=False) + "\n"


def header_bytes(fmt: str, bom: bool, dialect: str) -> bytes:
    out = BOM if bom else b""
    if fmt == "csv":
        out += (",".join(HEADER) + ("\n" if dialect == "postgresql" else "\r\n")).encode()
    return out
