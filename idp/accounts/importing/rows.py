"""Reading and checking bulk-import rows (the MailGoThai migration). No web framework.

Input: CSV (with a header) or JSON lines, one account per row:

    email, agency (code), given_name_th, family_name_th, given_name_en, family_name_en,
    locale, mailbox_quota_mb, attachment_limit_mb, aliases, citizen_id, password_hash

``aliases`` is a list in JSON, or separated by ``;``, ``,`` or spaces in CSV.
``password_hash`` is a hash from the old mail system, stored as it is (the sign-in code
verifies it and re-hashes to argon2id at the next login). Accepted formats:

    {SSHA}<base64 of SHA-1 digest + salt>         {SSHA512}<base64 of SHA-512 + salt>
    {CRYPT}$6$<salt>$<hash>  (also $5$ and $2a/b/y$ bcrypt inside {CRYPT}) and bare $6$/$5$
    $2a$ / $2b$ / $2y$ bcrypt                     $argon2id$ (already current)
    {PBKDF2}, {PBKDF2-SHA1}, {PBKDF2-SHA256}, {PBKDF2-SHA512}: <rounds>$<salt>$<hash>

An empty ``password_hash`` means no password: the account gets an activation link token.
Anything else (``{MD5}``, ``{SHA}``, ``{CLEARTEXT}``, plain text) is refused.
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import re
from collections.abc import Iterator
from typing import IO, Any

from idp import json_depth
from idp.errors import InvalidInput

FIELDS = (
    "email",
    "agency",
    "given_name_th",
    "family_name_th",
    "given_name_en",
    "family_name_en",
    "locale",
    "mailbox_quota_mb",
    "attachment_limit_mb",
    "aliases",
    "citizen_id",
    "password_hash",
)
REQUIRED = ("email", "agency")
MAX_TEXT = 255
MAX_QUOTA = 10_000_000

_B64 = r"[A-Za-z0-9+/]+={0,2}"
_CRYPT_SALT = r"(rounds=\d+\$)?[./A-Za-z0-9]{1,16}"
_SCHEMES: list[tuple[str, re.Pattern[str]]] = [
    ("ssha", re.compile(r"^\{SSHA\}(" + _B64 + r")$", re.IGNORECASE)),
    ("ssha512", re.compile(r"^\{SSHA512\}(" + _B64 + r")$", re.IGNORECASE)),
    ("sha512_crypt", re.compile(r"^(\{CRYPT\})?\$6\$" + _CRYPT_SALT + r"\$[./A-Za-z0-9]{86}$")),
    ("sha256_crypt", re.compile(r"^(\{CRYPT\})?\$5\$" + _CRYPT_SALT + r"\$[./A-Za-z0-9]{43}$")),
    ("bcrypt", re.compile(r"^(\{CRYPT\})?\$2[aby]\$\d{2}\$[./A-Za-z0-9]{53}$")),
    (
        "argon2",
        re.compile(r"^\$argon2(id|i)\$v=\d+\$m=\d+,t=\d+,p=\d+\$[A-Za-z0-9+/]+\$[A-Za-z0-9+/]+$"),
    ),
    (
        "pbkdf2",
        re.compile(
            r"^\{PBKDF2(-SHA1|-SHA256|-SHA512)?\}\d{1,7}\$[./A-Za-z0-9+=]+\$[./A-Za-z0-9+=]+$",
            re.IGNORECASE,
        ),
    ),
]
ACCEPTED = (
    "{SSHA}, {SSHA512}, {CRYPT}$6$/$5$/$2b$, $6$, bcrypt ($2a/b/y$), {PBKDF2[-SHA*]}, $argon2id$"
)
_PREFIX_RE = re.compile(r"^(\{[A-Za-z0-9-]+\}|\$[0-9a-z]+\$)")


class RowError(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field, self.message = field, message


def hash_scheme(value: str) -> str:
    """The scheme name of an accepted legacy hash, or RowError naming the problem."""
    for name, pattern in _SCHEMES:
        m = pattern.match(value)
        if m:
            if name in ("ssha", "ssha512"):
                try:
                    raw = base64.b64decode(m.group(1), validate=True)
                except (binascii.Error, ValueError):
                    raise RowError(
                        "password_hash", f"{{{name.upper()}}} value is not base64"
                    ) from None
                if len(raw) <= (20 if name == "ssha" else 64):
                    raise RowError("password_hash", f"{{{name.upper()}}} value has no salt")
            return name
    prefix = _PREFIX_RE.match(value)
    label = prefix.group(1) if prefix else "plain text or an unknown format"
    raise RowError("password_hash", f"unknown password hash scheme {label}; accepted: {ACCEPTED}")


def _text(row: dict[str, Any], name: str, limit: int = MAX_TEXT) -> str:
    value = row.get(name)
    if value is None:
        return ""
    if isinstance(value, int) and not isinstance(value, bool) and name == "citizen_id":
        value = str(value)
    if not isinstance(value, str):
        raise RowError(name, f"{name} must be text")
    value = value.strip()
    if len(value) > limit or any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise RowError(name, f"{name} is too long or holds control characters")
    return value


def _quota(row: dict[str, Any], name: str) -> int | None:
    value = row.get(name)
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except (TypeError, ValueError):
        raise RowError(name, f"{name} must be a whole number of MB") from None
    if not 0 < n <= MAX_QUOTA:
        raise RowError(name, f"{name} must be 1-{MAX_QUOTA} MB")
    return n


def _aliases(row: dict[str, Any]) -> list[str]:
    value = row.get("aliases")
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [a for a in re.split(r"[;,\s]+", value.strip()) if a]
    if isinstance(value, list) and all(isinstance(a, str) for a in value):
        return value
    raise RowError("aliases", "aliases must be a list of addresses")


def clean(row: dict[str, Any]) -> dict[str, Any]:
    """Shape checks that need no database: types, lengths, hash scheme."""
    out: dict[str, Any] = {}
    for name in (
        "email",
        "agency",
        "given_name_th",
        "family_name_th",
        "given_name_en",
        "family_name_en",
        "locale",
        "citizen_id",
        "password_hash",
    ):
        out[name] = _text(row, name, 512 if name == "password_hash" else MAX_TEXT)
    for name in REQUIRED:
        if not out[name]:
            raise RowError(name, f"{name} is required")
    out["locale"] = out["locale"] or "th"
    if out["locale"] not in ("th", "en"):
        raise RowError("locale", "locale must be 'th' or 'en'")
    out["mailbox_quota_mb"] = _quota(row, "mailbox_quota_mb")
    out["attachment_limit_mb"] = _quota(row, "attachment_limit_mb")
    out["aliases"] = _aliases(row)
    out["scheme"] = hash_scheme(out["password_hash"]) if out["password_hash"] else None
    unknown = set(row) - set(FIELDS)
    if unknown:
        raise RowError(sorted(unknown)[0], f"unknown column(s): {', '.join(sorted(unknown))}")
    return out


def detect_format(name: str | None, head: bytes) -> str:
    if name and name.lower().endswith((".jsonl", ".ndjson", ".json")):
        return "jsonl"
    if name and name.lower().endswith(".csv"):
        return "csv"
    return "jsonl" if head.lstrip(b"\xef\xbb\xbf \t\r\n").startswith(b"{") else "csv"


def read_rows(stream: IO[bytes], fmt: str) -> Iterator[dict[str, Any] | RowError]:
    """Rows as dicts (or a RowError for a line that cannot be read), in file order."""
    text = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
    if fmt == "csv":
        reader = csv.DictReader(text, strict=True)
        if reader.fieldnames is None:
            return
        missing = [f for f in REQUIRED if f not in reader.fieldnames]
        if missing:
            raise InvalidInput(f"CSV header lacks column(s): {', '.join(missing)}", field="file")
        try:
            for row in reader:
                if None in row:  # more cells than header columns
                    yield RowError("row", "more cells than header columns")
                    continue
                yield {k: v for k, v in row.items() if v not in (None, "")}
        except csv.Error as exc:
            raise InvalidInput(
                f"malformed CSV near line {reader.line_num}: {exc}", field="file"
            ) from None
    elif fmt == "jsonl":
        for line in text:
            if not line.strip():
                continue
            try:
                value = json_depth.loads(line)
            except json_depth.JsonTooDeep as exc:
                yield RowError("row", str(exc))
                continue
            except ValueError:
                yield RowError("row", "not valid JSON")
                continue
            yield value if isinstance(value, dict) else RowError("row", "not a JSON object")
    else:
        raise InvalidInput("format must be csv or jsonl", field="format")
