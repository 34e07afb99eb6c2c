"""The console's texts in Thai and English (Thai first: the default)."""

from __future__ import annotations

from admin_ui.i18n_accounts import TEXTS as ACCOUNT_TEXTS
from admin_ui.i18n_screens import TEXTS as SCREEN_TEXTS

LOCALES = ("th", "en")

TEXTS: dict[str, dict[str, str]] = {
    "app_name": {"th": "คอนโซลผู้ดูแล GovID", "en": "GovID admin console"},
    "skip": {"th": "ข้ามไปยังเนื้อหา", "en": "Skip to content"},
    "language": {"th": "ภาษา", "en": "Language"},
    "nav": {"th": "เมนูหลัก", "en": "Main menu"},
    "dashboard": {"th": "ภาพรวม", "en": "Dashboard"},
    "accounts": {"th": "บัญชีผู้ใช้", "en": "Accounts"},
    "sign_in": {"th": "เข้าสู่ระบบ", "en": "Sign in"},
    "sign_out": {"th": "ออกจากระบบ", "en": "Sign out"},
    "signed_out": {"th": "คุณออกจากระบบคอนโซลแล้ว", "en": "You have signed out of the console"},
    "sign_in_again": {"th": "เข้าสู่ระบบอีกครั้ง", "en": "Sign in again"},
    "welcome": {"th": "ยินดีต้อนรับ", "en": "Welcome"},
    "you_are": {"th": "คุณเข้าสู่ระบบในชื่อ", "en": "You are signed in as"},
    "your_roles": {"th": "บทบาทของคุณ", "en": "Your roles"},
    "no_roles": {
        "th": "คุณไม่มีบทบาทผู้ดูแล ระบบจะปฏิเสธคำขอของคุณ",
        "en": "You hold no admin role; GovID will refuse your requests.",
    },
    "roles_hidden": {
        "th": "GovID ไม่อนุญาตให้คุณอ่านรายการบทบาท",
        "en": "GovID does not let you read role grants.",
    },
    "role_operator": {"th": "ผู้ดูแลระบบกลาง", "en": "Operator"},
    "role_agency_admin": {"th": "ผู้ดูแลหน่วยงาน", "en": "Agency admin"},
    "role_auditor": {"th": "ผู้ตรวจสอบ", "en": "Auditor"},
    "over": {"th": "ของ", "en": "over"},
    "until": {"th": "ถึง", "en": "until"},
    "dashboard_later": {
        "th": "สถิติของหน่วยงานจะแสดงที่นี่ในรุ่นถัดไป",
        "en": "Your agencies' figures will be shown here in a later version.",
    },
    "search": {"th": "ค้นหา", "en": "Search"},
    "email_prefix": {"th": "อีเมลขึ้นต้นด้วย", "en": "Email starts with"},
    "status": {"th": "สถานะ", "en": "Status"},
    "any": {"th": "ทั้งหมด", "en": "Any"},
    "agency": {"th": "หน่วยงาน (รหัส รวมหน่วยงานย่อย)", "en": "Agency (code, with sub-agencies)"},
    "agency_col": {"th": "หน่วยงาน", "en": "Agency"},
    "email": {"th": "อีเมล", "en": "Email"},
    "name": {"th": "ชื่อ", "en": "Name"},
    "status_active": {"th": "ใช้งาน", "en": "Active"},
    "status_suspended": {"th": "ระงับ", "en": "Suspended"},
    "status_deleted": {"th": "ลบแล้ว", "en": "Deleted"},
    "next_page": {"th": "หน้าถัดไป", "en": "Next page"},
    "first_page": {"th": "หน้าแรก", "en": "First page"},
    "no_accounts": {"th": "ไม่พบบัญชีผู้ใช้", "en": "No accounts found"},
    "account": {"th": "บัญชีผู้ใช้", "en": "Account"},
    "back_to_list": {"th": "กลับไปที่รายการ", "en": "Back to the list"},
    "protected": {"th": "บัญชีที่ได้รับการคุ้มครอง", "en": "Protected account"},
    "protected_operator": {
        "th": "บัญชีนี้มีบทบาทผู้ดูแลระบบกลาง มีเพียงผู้ดูแลระบบกลางเท่านั้นที่เปลี่ยนแปลงได้",
        "en": "This account holds the operator role: only operators may change it.",
    },
    "protected_role_outside_scope": {
        "th": "บัญชีนี้มีบทบาทเหนือหน่วยงานที่อยู่นอกอำนาจของคุณ คุณจึงเปลี่ยนแปลงไม่ได้",
        "en": "This account holds a role over an agency outside your authority, "
        "so you may not change it.",
    },
    "not_protected": {
        "th": "ไม่ได้รับการคุ้มครอง: คุณดำเนินการกับบัญชีนี้ได้",
        "en": "Not protected: you may act on this account.",
    },
    "suspend": {"th": "ระงับบัญชี", "en": "Suspend account"},
    "resume": {"th": "ยกเลิกการระงับ", "en": "Resume account"},
    "reason": {"th": "เหตุผล", "en": "Reason"},
    "reason_hint": {
        "th": "บันทึกไว้ในบันทึกการตรวจสอบ ไม่เกิน 200 ตัวอักษร",
        "en": "Kept in the audit log; up to 200 characters.",
    },
    "suspended_done": {"th": "ระงับบัญชีแล้ว", "en": "The account is suspended."},
    "resumed_done": {"th": "ยกเลิกการระงับแล้ว", "en": "The account is active again."},
    "citizen_last4": {"th": "เลขประจำตัวประชาชน 4 หลักท้าย", "en": "Citizen ID, last four"},
    "aliases": {"th": "ชื่อแทน", "en": "Aliases"},
    "updated": {"th": "แก้ไขล่าสุด", "en": "Last changed"},
    "none": {"th": "ไม่มี", "en": "None"},
    "error_title": {"th": "เกิดข้อผิดพลาด", "en": "Something went wrong"},
    "unavailable": {
        "th": "ขณะนี้ติดต่อ GovID ไม่ได้ ไม่มีการเปลี่ยนแปลงใด ๆ กรุณาลองใหม่ในอีกสักครู่",
        "en": "GovID cannot be reached just now. Nothing was changed; try again in a moment.",
    },
    "sign_in_failed": {
        "th": "เข้าสู่ระบบไม่สำเร็จ กรุณาเริ่มใหม่",
        "en": "Signing in did not work. Please start again.",
    },
    "csrf": {
        "th": "แบบฟอร์มนี้หมดอายุ กรุณาโหลดหน้าใหม่แล้วลองอีกครั้ง",
        "en": "This form has expired. Reload the page and try again.",
    },
    # Problem types of the admin API (docs/admin-api.md), in the person's language.
    "problem_not-found": {
        "th": "ไม่พบรายการนี้ หรือรายการอยู่นอกหน่วยงานของคุณ",
        "en": "Not found, or outside your agencies.",
    },
    "problem_forbidden": {
        "th": "บทบาทของคุณไม่อนุญาตให้ทำสิ่งนี้",
        "en": "Your role does not allow this.",
    },
    "problem_protected-account": {
        "th": "บัญชีนี้ได้รับการคุ้มครอง คุณเปลี่ยนแปลงไม่ได้",
        "en": "This account is protected; you may not change it.",
    },
    "problem_precondition-failed": {
        "th": "มีผู้อื่นเปลี่ยนแปลงบัญชีนี้ระหว่างนี้ กรุณาโหลดใหม่แล้วลองอีกครั้ง",
        "en": "Someone else changed this account meanwhile. Reload it and try again.",
    },
    "problem_invalid-input": {"th": "ข้อมูลไม่ถูกต้อง", "en": "Please check what you entered."},
    "problem_invalid-cursor": {
        "th": "ลิงก์หน้านี้ใช้ไม่ได้แล้ว กรุณาเริ่มจากหน้าแรก",
        "en": "This page link no longer works; start from the first page.",
    },
    "problem_conflict": {
        "th": "ทำไม่ได้ในสถานะปัจจุบันของบัญชี",
        "en": "Not possible in the account's present state.",
    },
    "problem_idempotency-in-progress": {
        "th": "คำขอเดียวกันยังดำเนินการอยู่ กรุณารอสักครู่",
        "en": "The same request is still being handled; wait a moment.",
    },
    "problem_other": {"th": "GovID ปฏิเสธคำขอ", "en": "GovID refused the request"},
    "field_invalid": {"th": "ค่านี้ไม่ถูกต้อง", "en": "This value is not valid"},
    "code": {"th": "รหัส", "en": "code"},
}

TEXTS.update(SCREEN_TEXTS)  # agencies, apps, import and audit (admin_ui/i18n_screens.py)
TEXTS.update(ACCOUNT_TEXTS)  # dashboard, accounts, roles (admin_ui/i18n_accounts.py)


def translator(locale: str):
    def t(key: str) -> str:
        entry = TEXTS.get(key)
        return entry[locale] if entry else key

    return t
