"""Keyset (cursor) pagination with allowed sort fields only.

Pages are ordered by ``(sort field, id)``; the cursor carries the last row's values, so
rows inserted or deleted meanwhile never make a page repeat or skip a row that existed
throughout (unlike OFFSET). Limit 1-500.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from idp.errors import InvalidCursor, InvalidInput

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class Page:
    items: list[Any]
    next_cursor: str | None


def _encode_value(v: Any) -> Any:
    if isinstance(v, dt.datetime):
        return {"t": v.astimezone(dt.UTC).isoformat()}
    if isinstance(v, uuid.UUID):
        return {"u": v.hex}
    return v


MAX_CURSOR = 1024
_CURSOR_TEXT = re.compile(r"[A-Za-z0-9_-]*")


def check_cursor_text(cursor: str) -> None:
    """The shape every cursor of this API has (unpadded base64url, bounded)."""
    if len(cursor) > MAX_CURSOR or not _CURSOR_TEXT.fullmatch(cursor):
        raise InvalidCursor()


def _decode_value(v: Any, kind: type) -> Any:
    """A cursor value of the Python type of its column, else InvalidCursor: the values go
    straight into SQL, so nothing of another type may pass."""
    if kind is dt.datetime:
        if not (isinstance(v, dict) and set(v) == {"t"} and isinstance(v["t"], str)):
            raise InvalidCursor()
        try:
            t = dt.datetime.fromisoformat(v["t"])
            if t.tzinfo is None:
                raise InvalidCursor()
            return t.astimezone(dt.UTC)
        except (ValueError, OverflowError):
            raise InvalidCursor() from None
    if kind is uuid.UUID:
        if not (
            isinstance(v, dict)
            and set(v) == {"u"}
            and isinstance(v["u"], str)
            and re.fullmatch(r"[0-9a-f]{32}", v["u"])
        ):
            raise InvalidCursor()
        return uuid.UUID(hex=v["u"])
    if kind is str:
        if not isinstance(v, str) or "\x00" in v or len(v) > MAX_CURSOR:
            raise InvalidCursor()
        return v
    if kind is int:
        if isinstance(v, bool) or not isinstance(v, int) or not -(2**63) <= v < 2**63:
            raise InvalidCursor()
        return v
    raise InvalidCursor()


def _kind(column: Any) -> type:
    """The Python type of a column's values (through a TypeDecorator to its impl)."""
    t = column.type
    kind = t.python_type
    if kind is object and hasattr(t, "impl_instance"):
        kind = t.impl_instance.python_type
    return dt.datetime if issubclass(kind, dt.datetime) else kind


def encode_cursor(sort: str, value: Any, row_id: Any) -> str:
    raw = json.dumps({"s": sort, "v": _encode_value(value), "i": _encode_value(row_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(
    cursor: str, sort: str, value_kind: type = str, id_kind: type = uuid.UUID
) -> tuple[Any, Any]:
    """(sort value, row id) from a cursor of ``sort``; InvalidCursor (400) for anything
    this API did not hand out: bad base64 or JSON, another sort, values of wrong types."""
    check_cursor_text(cursor)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError, RecursionError):
        raise InvalidCursor() from None
    if not (isinstance(data, dict) and set(data) == {"s", "v", "i"}):
        raise InvalidCursor()
    if data["s"] != sort:
        raise InvalidCursor("the cursor belongs to another sort order; start from the first page")
    return _decode_value(data["v"], value_kind), _decode_value(data["i"], id_kind)


def paginate(
    session: Session,
    stmt: Select,
    *,
    id_column: Any,
    sort_fields: dict[str, Any],
    sort: str,
    cursor: str | None,
    limit: int,
) -> Page:
    """``stmt`` selects ORM objects; ``sort`` is a field name, ``-name`` for descending."""
    name = sort.removeprefix("-")
    if name not in sort_fields:
        raise InvalidInput(
            f"sort must be one of {', '.join(sorted(sort_fields))} (prefix - for descending)",
            field="sort",
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be 1-{MAX_LIMIT}", field="limit")
    col = sort_fields[name]
    desc = sort.startswith("-")
    if cursor:
        value, row_id = decode_cursor(cursor, sort, _kind(col), _kind(id_column))
        # The redundant bound (col <= / >= value) is what PostgreSQL can use as an index
        # condition: with the OR alone it walks the sort index from the first row and
        # filters, so page n reads every row before it (240,000 accounts).
        if desc:
            cond = or_(col < value, and_(col == value, id_column < row_id))
            stmt = stmt.where(col <= value, cond)
        else:
            cond = or_(col > value, and_(col == value, id_column > row_id))
            stmt = stmt.where(col >= value, cond)
    order = (col.desc(), id_column.desc()) if desc else (col.asc(), id_column.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort, getattr(last, col.key), getattr(last, id_column.key))
    return Page(rows, next_cursor)
