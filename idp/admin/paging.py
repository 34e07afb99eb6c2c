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
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import Session

from idp.errors import InvalidInput

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


def _decode_value(v: Any) -> Any:
    if isinstance(v, dict) and "t" in v:
        return dt.datetime.fromisoformat(v["t"])
    if isinstance(v, dict) and "u" in v:
        return uuid.UUID(hex=v["u"])
    return v


def encode_cursor(sort: str, value: Any, row_id: Any) -> str:
    raw = json.dumps({"s": sort, "v": _encode_value(value), "i": _encode_value(row_id)})
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str, sort: str) -> tuple[Any, Any]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
        s, value, row_id = data["s"], _decode_value(data["v"]), _decode_value(data["i"])
    except (binascii.Error, ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("malformed cursor", field="cursor") from exc
    if s != sort:
        raise InvalidInput("the cursor belongs to another sort order", field="cursor")
    return value, row_id


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
        value, row_id = decode_cursor(cursor, sort)
        if desc:
            cond = or_(col < value, and_(col == value, id_column < row_id))
        else:
            cond = or_(col > value, and_(col == value, id_column > row_id))
        stmt = stmt.where(cond)
    order = (col.desc(), id_column.desc()) if desc else (col.asc(), id_column.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(limit + 1)).unique())
    more = len(rows) > limit
    rows = rows[:limit]
    next_cursor = None
    if more and rows:
        last = rows[-1]
        next_cursor = encode_cursor(sort, getattr(last, col.key), getattr(last, id_column.key))
    return Page(rows, next_cursor)
