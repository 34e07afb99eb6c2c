"""Thai and English UI text. Thai is the default (DESIGN §1)."""

from __future__ import annotations

LOCALES = ("th", "en")
DEFAULT_LOCALE = "th"

MESSAGES: dict[str, dict[str, str]] = {
    "app_name": {"th": "รหัสประจำตัวภาครัฐ (GovID)", "en": "Government ID (GovID)"},
    "skip": {"th": "ข้ามไปยังเนื้อหาหลัก", "en": "Skip to main content"},
    "language": {"th": "ภาษา", "en": "Language"},
    "sign_in": {"th": "เข้าสู่ระบบ", "en": "Sign in"},
    "sign_in_to": {"th": "เข้าสู่ระบบเพื่อใช้งาน {app}", "en": "Sign in to continue to {app}"},
    "email": {"th": "อีเมลราชการ", "en": "Government email"},
    "password": {"th": "รหัสผ่าน", "en": "Password"},
    "bad_credentials": {
        "th": "อีเมลหรือรหัสผ่านไม่ถูกต้อง",
        "en": "The email or password is incorrect.",
    },
    "missing_fields": {"th": "กรุณากรอกอีเมลและรหัสผ่าน", "en": "Enter your email and password."},
    "csrf": {
        "th": "แบบฟอร์มหมดอายุหรือไม่ถูกต้อง กรุณาลองใหม่",
        "en": "This form has expired or is not valid. Please try again.",
    },
    "consent_title": {"th": "อนุญาตการเข้าถึงข้อมูล", "en": "Allow access"},
    "consent_intro": {
        "th": "{app} ({agency}) ขอเข้าถึงข้อมูลต่อไปนี้ของคุณ",
        "en": "{app} ({agency}) is asking for the following information about you",
    },
    "scope_openid": {"th": "ยืนยันตัวตนของคุณ", "en": "Confirm who you are"},
    "scope_profile": {"th": "ชื่อ-นามสกุล และภาษาที่ใช้", "en": "Your name and language"},
    "scope_email": {"th": "อีเมลราชการ", "en": "Your government email address"},
    "scope_govid": {
        "th": "หน่วยงานที่สังกัดและบทบาท",
        "en": "Your agency and roles",
    },
    "scope_citizen_id": {"th": "เลขประจำตัวประชาชน", "en": "Your citizen ID number"},
    "scope_offline_access": {
        "th": "เข้าถึงข้อมูลเมื่อคุณไม่ได้ใช้งาน",
        "en": "Access while you are not using the app",
    },
    "allow": {"th": "อนุญาต", "en": "Allow"},
    "deny": {"th": "ไม่อนุญาต", "en": "Deny"},
    "signed_in_as": {"th": "เข้าสู่ระบบในชื่อ {email}", "en": "Signed in as {email}"},
    "select_account": {"th": "เลือกบัญชี", "en": "Choose an account"},
    "continue_as": {"th": "ดำเนินการต่อในชื่อ {email}", "en": "Continue as {email}"},
    "use_another": {"th": "ใช้บัญชีอื่น", "en": "Use another account"},
    "error_title": {"th": "ไม่สามารถดำเนินการได้", "en": "Something is wrong with this request"},
    "error_help": {
        "th": "กรุณากลับไปที่แอปพลิเคชันแล้วลองใหม่ หากยังพบปัญหา โปรดติดต่อผู้ดูแลระบบของหน่วยงาน",
        "en": "Go back to the application and try again. If it keeps happening, "
        "contact your agency's IT administrator.",
    },
    "logout_title": {"th": "ออกจากระบบ", "en": "Sign out"},
    "logout_confirm": {
        "th": "ต้องการออกจากระบบ GovID หรือไม่",
        "en": "Do you want to sign out of GovID?",
    },
    "logout_yes": {"th": "ออกจากระบบ", "en": "Sign out"},
    "logout_no": {"th": "ยกเลิก", "en": "Cancel"},
    "logged_out": {"th": "คุณได้ออกจากระบบแล้ว", "en": "You have signed out."},
    "redirecting": {"th": "กำลังกลับไปยังแอปพลิเคชัน…", "en": "Returning to the application…"},
    "continue": {"th": "ดำเนินการต่อ", "en": "Continue"},
    "login_hint_other": {
        "th": "แอปพลิเคชันขอให้เข้าสู่ระบบด้วยบัญชีอื่น",
        "en": "The application asked you to sign in with a different account.",
    },
    "reauth": {
        "th": "กรุณายืนยันรหัสผ่านอีกครั้ง",
        "en": "Please confirm your password again.",
    },
}


def pick_locale(ui_locales: str | None, cookie: str | None, accept_language: str | None) -> str:
    """ui_locales (OIDC Core §3.1.2.1) wins, then the user's choice, then the browser."""
    for candidate in (ui_locales or "").split():
        base = candidate.split("-")[0].lower()
        if base in LOCALES:
            return base
    if cookie in LOCALES:
        return cookie
    for part in (accept_language or "").split(","):
        base = part.split(";")[0].strip().split("-")[0].lower()
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def translator(locale: str):
    def t(key: str, **kw: str) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            return key
        text = entry.get(locale) or entry[DEFAULT_LOCALE]
        return text.format(**kw) if kw else text

    return t
