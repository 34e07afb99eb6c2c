"""SCIM 2.0 filter expressions (RFC 7644 §3.4.2.2): parse to a small AST, render back,
and compile to SQLAlchemy conditions. No web framework here.

Supported: ``eq ne co sw ew gt ge lt le pr``, ``and``, ``or``, ``not (...)``, parentheses,
on ``userName``, ``emails`` / ``emails.value``, ``externalId``, ``meta.lastModified``
(Users) and ``displayName`` (Groups). Attribute names and operators are
case-insensitive; string comparisons on userName and emails are too (caseExact=false).
"""

from __future__ import annotations

import datetime as dt
import json
import re
from dataclasses import dataclass
from typing import Any, Union

from idp.errors import InvalidInput

OPS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
MAX_LENGTH = 2000
MAX_DEPTH = 20


class FilterError(InvalidInput):
    code = "invalid_filter"

    def __init__(self, message: str) -> None:
        super().__init__(message, field="filter")


@dataclass(frozen=True)
class Compare:
    attr: str  # canonical lower-case path, e.g. "username", "meta.lastmodified"
    op: str  # one of OPS, or "pr"
    value: Any = None  # str | bool | int | float | None


@dataclass(frozen=True)
class Not:
    expr: Expr


@dataclass(frozen=True)
class Logical:
    op: str  # "and" | "or"
    left: Expr
    right: Expr


Expr = Union[Compare, Not, Logical]  # noqa: UP007 - runtime alias

_TOKEN_RE = re.compile(
    r"""\s*(?:
        (?P<lp>\() | (?P<rp>\)) |
        (?P<str>"(?:[^"\\]|\\.)*") |
        (?P<word>[A-Za-z0-9_:.$\-+]+)
    )""",
    re.VERBOSE,
)


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m or m.end() == pos:
            raise FilterError(f"unexpected character at position {pos}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class _Parser:
    def __init__(self, text: str) -> None:
        if len(text) > MAX_LENGTH:
            raise FilterError(f"filter longer than {MAX_LENGTH} characters")
        self.toks = _tokens(text)
        self.i = 0
        self.depth = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def take(self) -> tuple[str, str]:
        tok = self.peek()
        if tok is None:
            raise FilterError("unexpected end of filter")
        self.i += 1
        return tok

    def parse(self) -> Expr:
        if not self.toks:
            raise FilterError("empty filter")
        expr = self.or_expr()
        if self.peek() is not None:
            raise FilterError(f"unexpected {self.peek()[1]!r}")  # type: ignore[index]
        return expr

    def _word(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[0] == "word" and tok[1].lower() == value

    def or_expr(self) -> Expr:
        left = self.and_expr()
        while self._word("or"):
            self.take()
            left = Logical("or", left, self.and_expr())
        return left

    def and_expr(self) -> Expr:
        left = self.atom()
        while self._word("and"):
            self.take()
            left = Logical("and", left, self.atom())
        return left

    def atom(self) -> Expr:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError("filter nested too deeply")
        try:
            if self._word("not"):
                self.take()
                if self.take()[0] != "lp":
                    raise FilterError("'not' must be followed by '('")
                inner = self.or_expr()
                if self.take()[0] != "rp":
                    raise FilterError("missing ')'")
                return Not(inner)
            kind, value = self.take()
            if kind == "lp":
                inner = self.or_expr()
                if self.take()[0] != "rp":
                    raise FilterError("missing ')'")
                return inner
            if kind != "word":
                raise FilterError(f"expected an attribute, got {value!r}")
            attr = value.lower()
            op_kind, op = self.take()
            op = op.lower()
            if op_kind != "word" or op not in (*OPS, "pr"):
                raise FilterError(f"unknown operator {op!r}")
            if op == "pr":
                return Compare(attr, "pr")
            return Compare(attr, op, self.value())
        finally:
            self.depth -= 1

    def value(self) -> Any:
        kind, raw = self.take()
        if kind == "str":
            try:
                text = json.loads(raw)
            except ValueError:
                raise FilterError(f"bad string {raw}") from None
            if "\x00" in text:  # no stored value has one; PostgreSQL refuses them in text
                raise FilterError("a string in a filter cannot contain NUL")
            return text
        if kind == "word":
            low = raw.lower()
            if low in ("true", "false"):
                return low == "true"
            if low == "null":
                return None
            try:
                return json.loads(raw)
            except ValueError:
                raise FilterError(f"bad value {raw!r}") from None
        raise FilterError(f"expected a value, got {raw!r}")


def parse(text: str) -> Expr:
    return _Parser(text).parse()


def render(expr: Expr) -> str:
    """The canonical text of an expression (parse(render(e)) == e)."""
    if isinstance(expr, Compare):
        if expr.op == "pr":
            return f"{expr.attr} pr"
        return f"{expr.attr} {expr.op} {json.dumps(expr.value, ensure_ascii=False)}"
    if isinstance(expr, Not):
        return f"not ({render(expr.expr)})"
    return f"({render(expr.left)}) {expr.op} ({render(expr.right)})"


# ------------------------------------------------------------------------------ compile


def _string(value: Any, attr: str) -> str:
    if not isinstance(value, str):
        raise FilterError(f"{attr} compares with a string")
    return value


def _time(value: Any) -> dt.datetime:
    try:
        t = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise FilterError("meta.lastModified compares with an ISO 8601 date-time") from None
    if t.tzinfo is None:
        raise FilterError("meta.lastModified needs a time zone")
    try:
        return t.astimezone(dt.UTC)
    except OverflowError:
        raise FilterError("the date-time is out of range once converted to UTC") from None


def _text_cond(col, op: str, value: str, lower: bool, dialect: str | None = None):
    v = value.lower() if lower else value
    if op == "ew" and dialect == "postgresql" and getattr(col, "key", None) == "email":
        # A prefix of the reversed address: the btree on reverse(email) (migration
        # 0011_search_indexes) finds it in a range scan, where trigrams of a domain
        # ("@m06.go.th") are in nearly every row.
        from sqlalchemy import func

        return func.reverse(col).startswith(v[::-1], autoescape=True)
    if op == "eq":
        return col == v
    if op == "ne":
        return col != v
    if op == "sw":
        return col.startswith(v, autoescape=True)
    if op == "ew":
        return col.endswith(v, autoescape=True)
    if op == "co":
        return col.contains(v, autoescape=True)
    raise FilterError(f"operator {op} does not apply to strings")


def compile_filter(expr: Expr, columns: dict[str, tuple[Any, str]], dialect: str | None = None):
    """``columns``: canonical attr -> (column, kind) with kind in text, ci_text, time, json_list.
    ``dialect``: the database's, for forms its indexes serve. Returns a SQLAlchemy boolean
    expression."""
    from sqlalchemy import and_, not_, or_

    if isinstance(expr, Logical):
        left = compile_filter(expr.left, columns, dialect)
        right = compile_filter(expr.right, columns, dialect)
        return and_(left, right) if expr.op == "and" else or_(left, right)
    if isinstance(expr, Not):
        return not_(compile_filter(expr.expr, columns, dialect))
    attr = expr.attr
    if attr not in columns:
        raise FilterError(f"cannot filter on {attr!r}")
    col, kind = columns[attr]
    if expr.op == "pr":
        return col.is_not(None) if kind != "ci_text" else col != ""
    if kind == "time":
        t = _time(expr.value)
        ops = {
            "eq": col == t,
            "ne": col != t,
            "gt": col > t,
            "ge": col >= t,
            "lt": col < t,
            "le": col <= t,
        }
        if expr.op not in ops:
            raise FilterError(f"operator {expr.op} does not apply to meta.lastModified")
        return ops[expr.op]
    if expr.op in ("gt", "ge", "lt", "le"):
        raise FilterError(f"operator {expr.op} applies only to meta.lastModified")
    return _text_cond(col, expr.op, _string(expr.value, attr), kind == "ci_text", dialect)
