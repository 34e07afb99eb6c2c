"""The notice of a new password, in Thai then English. NIST SP 800-63B-4 asks that the
subscriber be told of a recovery or an authenticator change through an address of
record, so that someone else's recovery does not go unnoticed.

The message carries no link and nothing that grants access (no code, no token, no
sign-in address): a notice that could be forged must not teach people to follow links
in mail about their password. It says what happened, when (Bangkok time; the Buddhist
era in Thai), how, and whom to contact if it was not them (their agency's helpdesk,
else the central one)."""

from __future__ import annotations

import datetime as dt
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.config import Settings

BANGKOK = ZoneInfo("Asia/Bangkok")
THAI_MONTHS = (
    "มกราคม", "กุมภาพันธ์", "มีนาคม", "เมษายน", "พฤษภาคม", "มิถุนายน",
    "กรกฎาคม", "สิงหาคม", "กันยายน", "ตุลาคม", "พฤศจิกายน", "ธันวาคม",
)  # fmt: skip
ENGLISH_MONTHS = (
    "January", "February", "March", "April", "May", "June",
    "July", "August", "September", "October", "November", "December",
)  # fmt: skip
METHODS = {
    "totp": ("รหัสจากแอปยืนยันตัวตน", "a code from your authenticator app"),
    "recovery_code": ("รหัสกู้คืน", "a recovery code"),
    "webauthn": ("กุญแจความปลอดภัยหรือพาสคีย์", "a security key or passkey"),
}
SUBJECTS = {
    "recovery": ("รหัสผ่าน GovID ของคุณถูกตั้งใหม่", "Your GovID password was reset"),
    "self": ("รหัสผ่าน GovID ของคุณถูกเปลี่ยน", "Your GovID password was changed"),
}


def sender(settings: Settings) -> Address:
    if settings.smtp_from:
        return Address("GovID", addr_spec=settings.smtp_from)
    host = urlsplit(settings.issuer).hostname or "localhost"
    return Address("GovID", "no-reply", host)


def _when(at: dt.datetime) -> tuple[str, str]:
    t = (at if at.tzinfo else at.replace(tzinfo=dt.UTC)).astimezone(BANGKOK)
    th = f"{t.day} {THAI_MONTHS[t.month - 1]} {t.year + 543} เวลา {t:%H:%M} น."
    en = f"{t.day} {ENGLISH_MONTHS[t.month - 1]} {t.year} at {t:%H:%M} (Bangkok time)"
    return th, en


def _contact(db: Session, settings: Settings, account: Account) -> tuple[str, str]:
    central = agencies.Helpdesk(
        settings.helpdesk_email or None,
        settings.helpdesk_phone or None,
        settings.helpdesk_url or None,
        None,
        None,
    )
    desk = agencies.helpdesk_for(db, db.get(Agency, account.agency_id), central)
    ways = [w for w in (desk.email, desk.phone) if w]  # no URL: the notice has no links
    if desk.agency is not None:
        th = f"ฝ่ายช่วยเหลือของ{desk.agency.name_th}"
        en = f"the helpdesk of {desk.agency.name_en}"
    else:
        th, en = "ฝ่ายช่วยเหลือ GovID", "the GovID helpdesk"
    if ways:
        th += f" ({', '.join(ways)})"
        en += f" ({', '.join(ways)})"
    return th, en


def password_notice(
    db: Session,
    settings: Settings,
    account: Account,
    *,
    by: str,
    method: str | None,
    at: dt.datetime,
) -> EmailMessage:
    """The notice of a password reset (``by="recovery"``) or change (``by="self"``)."""
    kind = "recovery" if by == "recovery" else "self"
    when_th, when_en = _when(at)
    who_th, who_en = _contact(db, settings, account)
    how_th, how_en = METHODS.get(method or "", ("", ""))
    if kind == "recovery":
        what_th = f'รหัสผ่าน GovID ของบัญชี {account.email} ถูกตั้งใหม่ด้วย "ลืมรหัสผ่าน"'
        what_th += f" โดยใช้{how_th}" if how_th else ""
        what_th += f" เมื่อวันที่ {when_th}"
        what_en = f'The GovID password of {account.email} was reset with "Forgot password"'
        what_en += f" using {how_en}" if how_en else ""
        what_en += f" on {when_en}."
        ended_th = "อุปกรณ์ทุกเครื่องที่เข้าสู่ระบบบัญชีนี้อยู่ถูกออกจากระบบแล้ว"
        ended_en = "Every device signed in to this account has been signed out."
    else:
        what_th = f"รหัสผ่าน GovID ของบัญชี {account.email} ถูกเปลี่ยนเมื่อวันที่ {when_th}"
        what_en = f"The GovID password of {account.email} was changed on {when_en}."
        ended_th = "อุปกรณ์เครื่องอื่นที่เข้าสู่ระบบบัญชีนี้อยู่ถูกออกจากระบบแล้ว"
        ended_en = "Every other device signed in to this account has been signed out."
    body = "\n".join(
        (
            what_th,
            ended_th,
            "",
            "ถ้าคุณทำเอง ไม่ต้องทำอะไรเพิ่ม",
            f"ถ้าไม่ใช่คุณ โปรดติดต่อ{who_th}ทันที",
            "อีเมลนี้ไม่มีลิงก์ และ GovID ไม่เคยขอรหัสผ่านหรือรหัสยืนยันทางอีเมล",
            "",
            "----",
            "",
            what_en,
            ended_en,
            "",
            "If this was you, there is nothing more to do.",
            f"If it was not you, contact {who_en} at once.",
            "This message has no links, and GovID never asks for your password or codes by mail.",
            "",
        )
    )
    th, en = SUBJECTS[kind]
    msg = EmailMessage()
    msg["From"] = sender(settings)
    msg["To"] = account.email
    msg["Subject"] = f"{th} / {en}"
    msg["Date"] = format_datetime(dt.datetime.now(dt.UTC))
    msg["Message-ID"] = make_msgid(domain=sender(settings).domain or None)
    msg["Content-Language"] = "th, en"
    # RFC 3834 §5: an automatic notice; vacation responders should not answer it.
    msg["Auto-Submitted"] = "auto-generated"
    msg.set_content(body, charset="utf-8")
    return msg
