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
    "scope_api": {
        "th": "ใช้ระบบ {api} ในนามของคุณ (สิทธิ์: {scopes})",
        "en": "Use {api} on your behalf (permissions: {scopes})",
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
    "throttled": {
        "th": "ลองเข้าสู่ระบบผิดหลายครั้งเกินไป กรุณาลองใหม่ในอีก {wait}",
        "en": "Too many failed attempts. Try again in {wait}.",
    },
    "rate_limited": {
        "th": "มีคำขอจากเครือข่ายของคุณมากเกินไป กรุณาลองใหม่ในอีก {wait}",
        "en": "Too many requests from your network. Try again in {wait}.",
    },
    "directory_unavailable": {
        "th": "ระบบไดเรกทอรีของหน่วยงานไม่ตอบสนองในขณะนี้ กรุณาลองใหม่ภายหลัง",
        "en": "Your agency's directory is not answering right now. Please try again later.",
    },
    "set_password_title": {"th": "ตั้งรหัสผ่าน", "en": "Set your password"},
    "set_password_help": {
        "th": "ใช้รหัสผ่านอย่างน้อย 15 ตัวอักษร (หรือ 8 ตัวอักษรหากตั้งค่าการยืนยันตัวตนสองขั้นตอนแล้ว) "
        "ประโยคยาว ๆ จำง่ายกว่าและปลอดภัยกว่า",
        "en": "Use at least 15 characters (8 once two-step sign-in is set up). A long "
        "sentence is easier to remember and safer.",
    },
    "set_password_done": {
        "th": "ตั้งรหัสผ่านแล้ว เข้าสู่ระบบได้จากแอปพลิเคชันของหน่วยงาน",
        "en": "Your password is set. You can now sign in from your agency's applications.",
    },
    "link_invalid": {
        "th": "ลิงก์นี้หมดอายุหรือถูกใช้ไปแล้ว กรุณาขอลิงก์ใหม่จากผู้ดูแลระบบของหน่วยงาน",
        "en": "This link has expired or was already used. Ask your agency's administrator "
        "for a new one.",
    },
    "mfa_title": {"th": "ยืนยันตัวตนขั้นที่สอง", "en": "Second step of sign-in"},
    "mfa_intro": {
        "th": "กรอกรหัส 6 หลักจากแอปยืนยันตัวตน หรือรหัสกู้คืนหนึ่งรหัส",
        "en": "Enter the 6-digit code from your authenticator app, or one recovery code.",
    },
    "mfa_code": {"th": "รหัสยืนยัน", "en": "Verification code"},
    "mfa_bad": {"th": "รหัสไม่ถูกต้องหรือถูกใช้ไปแล้ว", "en": "The code is wrong or was already used."},
    "verify": {"th": "ยืนยัน", "en": "Verify"},
    "use_key": {"th": "ใช้กุญแจความปลอดภัย", "en": "Use a security key"},
    "add_key": {"th": "เพิ่มกุญแจความปลอดภัย", "en": "Add a security key"},
    "key_label": {"th": "ชื่อกุญแจ (ไม่บังคับ)", "en": "Key name (optional)"},
    "enrol_title": {"th": "ตั้งค่าการยืนยันตัวตนสองขั้นตอน", "en": "Set up two-step sign-in"},
    "enrol_intro": {
        "th": "แอปพลิเคชันนี้ต้องการการยืนยันตัวตนระดับ 2 สแกนคิวอาร์โค้ดด้วยแอปยืนยันตัวตน "
        "(เช่น Google Authenticator, Microsoft Authenticator) แล้วกรอกรหัส 6 หลัก",
        "en": "This application needs assurance level 2. Scan the QR code with an "
        "authenticator app (such as Google or Microsoft Authenticator), then enter the "
        "6-digit code it shows.",
    },
    "enrol_manual": {"th": "หรือพิมพ์รหัสนี้ในแอป", "en": "Or type this key into the app"},
    "enrol_skip": {"th": "ข้ามไปก่อน", "en": "Not now"},
    "recovery_title": {"th": "รหัสกู้คืน", "en": "Recovery codes"},
    "recovery_intro": {
        "th": "เก็บรหัสเหล่านี้ไว้ในที่ปลอดภัย แต่ละรหัสใช้ได้ครั้งเดียว เมื่อไม่มีโทรศัพท์ รหัสจะแสดงเพียงครั้งนี้เท่านั้น",
        "en": "Keep these codes somewhere safe. Each works once, for when you do not "
        "have your phone. They are shown only now.",
    },
    "account_title": {"th": "บัญชีของฉัน", "en": "My account"},
    "level": {"th": "ระดับการยืนยันตัวตนปัจจุบัน", "en": "Current assurance level"},
    "second_factors": {"th": "การยืนยันตัวตนขั้นที่สอง", "en": "Second factors"},
    "none_yet": {"th": "ยังไม่ได้ตั้งค่า", "en": "None set up yet"},
    "add_totp": {"th": "ตั้งค่าแอปยืนยันตัวตน", "en": "Set up an authenticator app"},
    "remove": {"th": "ลบ", "en": "Remove"},
    "codes_left": {"th": "รหัสกู้คืนคงเหลือ {n} รหัส", "en": "{n} recovery codes left"},
    "regenerate": {"th": "สร้างรหัสกู้คืนใหม่", "en": "Make new recovery codes"},
    "sessions": {"th": "อุปกรณ์ที่เข้าสู่ระบบอยู่", "en": "Where you are signed in"},
    "this_session": {"th": "อุปกรณ์นี้", "en": "This device"},
    "end": {"th": "ออกจากระบบ", "en": "Sign out"},
    "change_password": {"th": "เปลี่ยนรหัสผ่าน", "en": "Change password"},
    "current_password": {"th": "รหัสผ่านปัจจุบัน", "en": "Current password"},
    "new_password": {"th": "รหัสผ่านใหม่", "en": "New password"},
    "password_changed": {
        "th": "เปลี่ยนรหัสผ่านแล้ว อุปกรณ์อื่นถูกออกจากระบบ",
        "en": "Password changed. Your other sessions were signed out.",
    },
    "saved": {"th": "บันทึกแล้ว", "en": "Saved."},
    "interaction_broken": {
        "th": "การเข้าสู่ระบบใช้เวลานานเกินไปหรือลิงก์ไม่ถูกต้อง กรุณาเริ่มใหม่จากแอปพลิเคชัน",
        "en": "The sign-in took too long or the link is broken. Start again from the application.",
    },
    "logout_expired": {
        "th": "แบบฟอร์มออกจากระบบนี้หมดอายุแล้ว กรุณาลองใหม่อีกครั้ง",
        "en": "This sign-out form has expired. Please try again.",
    },
    "no_client_id": {
        "th": "คำขอนี้ไม่มีรหัสแอปพลิเคชัน ('client_id')",
        "en": "The request has no 'client_id'.",
    },
    "unknown_client": {
        "th": "แอปพลิเคชันนี้ไม่ได้ลงทะเบียนไว้กับระบบ",
        "en": "This application is not registered.",
    },
    "no_redirect_uri": {
        "th": "คำขอนี้ไม่มีที่อยู่สำหรับส่งกลับ ('redirect_uri')",
        "en": "The request has no 'redirect_uri'.",
    },
    "redirect_uri_mismatch": {
        "th": "ที่อยู่สำหรับส่งกลับ ('redirect_uri') ไม่ตรงกับที่ลงทะเบียนไว้สำหรับแอปพลิเคชันนี้ (ต้องตรงกันทุกตัวอักษร)",
        "en": "The 'redirect_uri' is not registered for this application (exact match).",
    },
    "param_repeated": {
        "th": "พารามิเตอร์ '{name}' ปรากฏในคำขอมากกว่าหนึ่งครั้ง",
        "en": "'{name}' appears more than once.",
    },
    "page_not_found": {
        "th": "ไม่พบหน้าที่ต้องการ กรุณาตรวจสอบที่อยู่เว็บอีกครั้ง",
        "en": "There is no page at this address. Check the address and try again.",
    },
    "method_not_allowed": {
        "th": "ไม่สามารถเปิดหน้านี้ได้โดยตรง กรุณาเริ่มใหม่จากแอปพลิเคชัน",
        "en": "This page cannot be opened directly. Start again from the application.",
    },
    "need_fresh_mfa": {
        "th": "กรุณายืนยันตัวตนขั้นที่สองอีกครั้งก่อนทำรายการนี้",
        "en": "Confirm your second factor again before doing this.",
    },
}


def pick_locale(
    ui_locales: str | None,
    cookie: str | None,
    accept_language: str | None,
    chosen: str | None = None,
) -> str:
    """The person's own choice wins: made on this request (``chosen``: the ``lang`` of a
    language link) or earlier (the cookie, which only a language link sets), so it holds
    through every step of a sign-in; then the app's ``ui_locales`` (OIDC Core §3.1.2.1:
    the app's guess at the person's preference), then the browser."""
    if chosen in LOCALES:
        return chosen
    if cookie in LOCALES:
        return cookie
    for candidate in (ui_locales or "").split():
        base = candidate.split("-")[0].lower()
        if base in LOCALES:
            return base
    for part in (accept_language or "").split(","):
        base = part.split(";")[0].strip().split("-")[0].lower()
        if base in LOCALES:
            return base
    return DEFAULT_LOCALE


def wait_text(seconds: int, locale: str) -> str:
    """A wait as people say it, never shorter than it is: "90 seconds", "3 minutes",
    "2 hours" (seconds below 2 minutes, minutes below 2 hours, rounded up)."""
    seconds = max(1, int(seconds))
    if seconds < 120:
        n, th, one, many = seconds, "วินาที", "second", "seconds"
    elif seconds < 7200:
        n, th, one, many = -(-seconds // 60), "นาที", "minute", "minutes"
    else:
        n, th, one, many = -(-seconds // 3600), "ชั่วโมง", "hour", "hours"
    if locale == "th":
        return f"{n} {th}"
    return f"{n} {one if n == 1 else many}"


def translator(locale: str):
    def t(key: str, **kw: str) -> str:
        entry = MESSAGES.get(key)
        if entry is None:
            return key
        text = entry.get(locale) or entry[DEFAULT_LOCALE]
        return text.format(**kw) if kw else text

    return t
