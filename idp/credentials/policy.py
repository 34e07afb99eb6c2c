"""Password policy after NIST SP 800-63B §5.1.1.2: length, not breached/common, not the
user's own name; no composition rules. Each failure has a code and Thai/English text."""

from __future__ import annotations

import gzip
import unicodedata
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from idp.errors import InvalidInput

COMMON_LIST = Path(__file__).parent / "data" / "common-passwords-100k.txt.gz"
MAX_LENGTH = 256  # NIST: allow at least 64

MESSAGES = {
    "too_short": (
        "รหัสผ่านต้องมีอย่างน้อย {n} ตัวอักษร",
        "The password must be at least {n} characters long.",
    ),
    "too_long": ("รหัสผ่านต้องไม่เกิน {n} ตัวอักษร", "The password must be at most {n} characters long."),
    "common": (
        "รหัสผ่านนี้เป็นรหัสที่ใช้กันทั่วไปหรือเคยรั่วไหล กรุณาเลือกรหัสอื่น",
        "This password is common or has appeared in a data breach. Choose another.",
    ),
    "contains_email": (
        "รหัสผ่านต้องไม่มีชื่อผู้ใช้ (ส่วนหน้าของอีเมล)",
        "The password must not contain your user name (the part before @).",
    ),
    "repetitive": (
        "รหัสผ่านต้องไม่ใช่ตัวอักษรเดียวซ้ำกัน",
        "The password must not be one character repeated.",
    ),
}


class WeakPassword(InvalidInput):
    code = "weak_password"

    def __init__(self, reason: str, n: int = 0) -> None:
        th, en = MESSAGES[reason]
        super().__init__(en.format(n=n), field="password")
        self.reason = reason
        self.message_th = th.format(n=n)
        self.message_en = en.format(n=n)

    def localized(self, locale: str) -> str:
        return self.message_th if locale == "th" else self.message_en


@dataclass(frozen=True)
class Policy:
    min_length_with_mfa: int = 8
    min_length_without_mfa: int = 15


@cache
def _common() -> frozenset[str]:
    with gzip.open(COMMON_LIST, "rt", encoding="utf-8", errors="ignore") as f:
        return frozenset(line.strip().lower() for line in f if line.strip())


def normalise(password: str) -> str:
    return unicodedata.normalize("NFKC", password)


def check(password: str, *, email: str, has_second_factor: bool, policy: Policy) -> str:
    """Return the NFKC-normalised password, or raise WeakPassword with the first reason."""
    pw = normalise(password)
    minimum = policy.min_length_with_mfa if has_second_factor else policy.min_length_without_mfa
    if len(pw) < minimum:
        raise WeakPassword("too_short", minimum)
    if len(pw) > MAX_LENGTH:
        raise WeakPassword("too_long", MAX_LENGTH)
    if len(set(pw)) == 1:
        raise WeakPassword("repetitive")
    if pw.lower() in _common():
        raise WeakPassword("common")
    local = email.split("@", 1)[0].lower()
    if len(local) >= 3 and local in pw.lower():
        raise WeakPassword("contains_email")
    return pw


def common_list_size() -> int:
    return len(_common())
