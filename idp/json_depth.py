"""JSON with a bounded nesting depth. No web framework.

The standard library's decoder recurses once per level and stops at the interpreter's
recursion limit with ``RecursionError`` (not a ``ValueError``: callers that caught only
``ValueError`` answered 500). ``loads`` turns that, and any nesting deeper than
``max_depth``, into ``JsonTooDeep`` (a ``ValueError``), so "not valid JSON" handling
covers it. Request bodies are already size-limited (idp/body_limit.py), so the parse
itself is bounded; the depth check walks the parsed value without recursion.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

MAX_DEPTH = 32


class JsonTooDeep(ValueError):
    pass


def loads(data: str | bytes, *, max_depth: int = MAX_DEPTH) -> Any:
    try:
        value = json.loads(data)
    except RecursionError:
        raise JsonTooDeep(f"JSON nested more than {max_depth} levels deep") from None
    check_depth(value, max_depth)
    return value


def check_depth(value: Any, max_depth: int = MAX_DEPTH) -> None:
    """JsonTooDeep when arrays/objects nest more than ``max_depth`` levels."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        children: Iterable[Any]
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            raise JsonTooDeep(f"JSON nested more than {max_depth} levels deep")
        stack.extend((c, depth + 1) for c in children if isinstance(c, (dict, list)))
