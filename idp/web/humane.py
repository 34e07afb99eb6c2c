"""Values as a person reads them: times in Thailand's time zone, with
Thai month names and Buddhist-era years on Thai pages; a device as "Chrome on Windows"
rather than its raw user-agent string; a second factor by what it is."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

from markupsafe import Markup, escape

from idp.web.i18n import translator

BANGKOK = ZoneInfo("Asia/Bangkok")
BUDDHIST_ERA_OFFSET = 543  # B.E. = C.E. + 543 (the year used on Thai official documents)
THAI_MONTHS = (
    "มกราคม",
    "กุมภาพันธ์",
    "มีนาคม",
    "เมษายน",
    "พฤษภาคม",
    "มิถุนายน",
    "กรกฎาคม",
    "สิงหาคม",
    "กันยายน",
    "ตุลาคม",
    "พฤศจิกายน",
    "ธันวาคม",
)
ENGLISH_MONTHS = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def local_time(when: dt.datetime, locale: str) -> str:
    """'7 ธันวาคม 2569 เวลา 21:05 น.' / '7 December 2026 at 21:05' (Bangkok time).
    A naive value is taken as UTC (how GovID stores times)."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    t = when.astimezone(BANGKOK)
    if locale == "th":
        year = t.year + BUDDHIST_ERA_OFFSET
        return f"{t.day} {THAI_MONTHS[t.month - 1]} {year} เวลา {t:%H:%M}\u00a0น."
    return f"{t.day} {ENGLISH_MONTHS[t.month - 1]} {t.year} at {t:%H:%M}"


def clock_time(when: dt.datetime, locale: str) -> str:
    """Only the hour and minute, Bangkok time: '21:05 น.' / '21:05'."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    t = when.astimezone(BANGKOK)
    return f"{t:%H:%M}\u00a0น." if locale == "th" else f"{t:%H:%M}"  # no break before น.


# Order matters: many browsers name the engines they resemble ("Edg/... Chrome/...
# Safari/..."), so the more specific token is looked for first.
_BROWSERS = (
    ("EdgA?/|EdgiOS/", "Edge"),
    ("OPR/|Opera", "Opera"),
    ("SamsungBrowser/", "Samsung Internet"),
    ("Line/", "LINE"),
    ("FxiOS/|Firefox/", "Firefox"),
    ("CriOS/|Chrome/|Chromium/", "Chrome"),
    ("Version/[0-9.]+.*Safari/", "Safari"),
)
_SYSTEMS = (
    ("iPhone", "iPhone"),
    ("iPad", "iPad"),
    ("Android", "Android"),
    ("Windows", "Windows"),
    ("CrOS", "ChromeOS"),
    ("Mac OS X|Macintosh", "macOS"),
    ("Linux", "Linux"),
)


def device_name(user_agent: str | None, locale: str) -> str:
    """A readable name for a browser from its User-Agent header: 'Chrome on Windows'
    ('Chrome บน Windows'); the browser or system alone when only one is known; else
    'Unknown browser'. Only common names: it is a hint for the person, not an inventory
    (no version numbers, never the raw string cut at some length)."""
    t = translator(locale)
    ua = (user_agent or "")[:512]
    browser = next((name for pattern, name in _BROWSERS if re.search(pattern, ua)), None)
    system = next((name for pattern, name in _SYSTEMS if re.search(pattern, ua)), None)
    if browser and system:
        return t("device_on", browser=browser, system=system)
    return browser or system or t("unknown_device")


def factor_name(kind: str, label: str | None, locale: str) -> str:
    """'Authenticator app', or 'Security key: Blue key' when the person named the key
    (the default labels are the kind's name again and are not repeated). ``kind``
    "passkey" is a WebAuthn key known to be discoverable (``factor_kind``)."""
    t = translator(locale)
    kind_name = t(f"kind_{kind}") if kind in ("totp", "webauthn", "passkey") else kind
    if not label or label in ("Authenticator", "Security key", "Passkey"):
        return kind_name
    return f"{kind_name}: {label}"


def factor_kind(factor) -> str:
    """A second factor's kind as people know it: a WebAuthn credential recorded as
    discoverable is a passkey (idp/credentials/webauthn_keys.py), any other a security key."""
    return "passkey" if factor.kind == "webauthn" and factor.discoverable else factor.kind


def factor_label(factor, locale: str) -> str:
    return factor_name(factor_kind(factor), factor.label, locale)


# Thai is written without spaces between words; browsers break lines where a dictionary
# says a word ends, which splits compounds a reader takes as one term ("เข้า|สู่ระบบ",
# "กุญแจความ|ปลอดภัย"). Headings keep these terms of GovID's vocabulary whole;
# each is an inline-block, so one longer than the line still wraps inside it.
THAI_PHRASES = sorted(
    (
        "เข้าสู่ระบบ",
        "ออกจากระบบ",
        "ปัจจัยที่สอง",
        "แอปยืนยันตัวตน",
        "ยืนยันตัวตน",
        "กุญแจความปลอดภัย",
        "ความปลอดภัย",
        "ความช่วยเหลือ",
        "ความเป็นส่วนตัว",
        "รหัสกู้คืน",
        "รหัสผ่าน",
        "รหัสยืนยัน",
        "โทรศัพท์",
        "อุปกรณ์",
        "บัญชีของฉัน",
        "การเข้าถึงข้อมูล",
        "ดำเนินการ",
        "ไม่สามารถ",
        "อนุญาต",
        "ตั้งค่า",
        "ติดต่อ",
    ),
    key=len,
    reverse=True,
)
_PHRASE_RE = re.compile("|".join(re.escape(p) for p in THAI_PHRASES))


def keep_phrases(text: str) -> Markup:
    """``text`` escaped, with each term of THAI_PHRASES in a ``<span class="ph">``."""
    out, last = [], 0
    for m in _PHRASE_RE.finditer(str(text)):
        out.append(escape(text[last : m.start()]))
        out.append(Markup('<span class="ph">{}</span>').format(m.group()))
        last = m.end()
    out.append(escape(text[last:]))
    return Markup("").join(out)
