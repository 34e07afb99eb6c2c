"""Thai and English texts of account recovery, passkeys and the page frame (issue 19,
"beyond the anchors' basics"). Merged into idp.web.i18n.MESSAGES; kept apart so the
other pages' texts can change without touching these."""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    # ------------------------------------------------------------------ account recovery
    "recover_title": {"th": "ลืมรหัสผ่าน", "en": "Forgot your password"},
    "recover_intro": {
        "th": "พิมพ์อีเมลราชการของคุณ ถ้าคุณมีแอปยืนยันตัวตน กุญแจความปลอดภัย หรือรหัสกู้คืน คุณจะตั้งรหัสผ่านใหม่ได้เอง",
        "en": "Type your government email. If you have an authenticator app, a security "
        "key or a recovery code, you can set a new password yourself.",
    },
    "recover_email_missing": {
        "th": "พิมพ์อีเมลราชการของคุณ เช่น somchai.j@agency.go.th",
        "en": "Type your government email, like somchai.j@agency.go.th.",
    },
    "recover_prove_title": {"th": "ยืนยันว่าเป็นคุณ", "en": "Prove it is you"},
    "recover_for": {"th": "บัญชี: {email}", "en": "Account: {email}"},
    "recover_prove_intro": {
        "th": "ใช้ปัจจัยที่สองที่คุณตั้งไว้ หรือรหัสกู้คืนที่ยังไม่เคยใช้ แล้วจึงตั้งรหัสผ่านใหม่ "
        "เมื่อตั้งแล้ว อุปกรณ์อื่นที่เข้าสู่ระบบอยู่จะออกจากระบบทั้งหมด",
        "en": "Use the second factor you set up, or a recovery code you have not used, "
        "then set a new password. Every other device signed in to your account will be "
        "signed out.",
    },
    "recover_code_heading": {"th": "รหัสจากแอปหรือรหัสกู้คืน", "en": "App code or recovery code"},
    "recover_code_label": {"th": "รหัส", "en": "Code"},
    "recover_code_hint": {
        "th": "ตัวเลข 6 หลักจากแอปยืนยันตัวตน หรือรหัสกู้คืน เช่น ABCD-EFGH-JKLM-NPQR",
        "en": "The 6-digit code from your authenticator app, or a recovery code like "
        "ABCD-EFGH-JKLM-NPQR.",
    },
    "recover_code_wrong": {
        "th": "รหัสนี้ใช้ไม่ได้ ตรวจสอบอีเมลและรหัสแล้วลองอีกครั้ง หรือติดต่อผู้ดูแลตามด้านล่าง",
        "en": "That code did not work. Check the email and the code and try again, or "
        "contact the helpdesk below.",
    },
    "recover_key_heading": {
        "th": "กุญแจความปลอดภัยหรือพาสคีย์",
        "en": "Security key or passkey",
    },
    "recover_key_wrong": {
        "th": "ใช้กุญแจนี้กับบัญชีนี้ไม่ได้ ลองกุญแจอื่นหรือใช้รหัส",
        "en": "This key cannot be used for this account. Try another key or use a code.",
    },
    "recover_key_throttled": {
        "th": "ลองหลายครั้งเกินไป กรุณารอสักครู่แล้วลองใหม่",
        "en": "Too many tries. Wait a while and try again.",
    },
    "recover_none_heading": {
        "th": "ไม่มีสิ่งเหล่านี้",
        "en": "If you have none of these",
    },
    "recover_contact_agency": {
        "th": "ติดต่อผู้ดูแลระบบของ{agency} ซึ่งจะยืนยันตัวตนของคุณแล้วส่งลิงก์ตั้งรหัสผ่านให้",
        "en": "Contact the helpdesk of {agency}. They will check who you are and give "
        "you a link to set a password.",
    },
    "recover_contact_central": {
        "th": "ติดต่อผู้ดูแลระบบของหน่วยงานคุณ หรือศูนย์บริการ GovID ซึ่งจะยืนยันตัวตนของคุณแล้วส่งลิงก์ตั้งรหัสผ่านให้",
        "en": "Contact your agency's IT helpdesk or the GovID helpdesk. They will check "
        "who you are and give you a link to set a password.",
    },
    "contact_email": {"th": "อีเมล", "en": "Email"},
    "contact_phone": {"th": "โทรศัพท์", "en": "Phone"},
    "contact_page": {"th": "หน้าช่วยเหลือ", "en": "Help page"},
    "recover_new_title": {"th": "ตั้งรหัสผ่านใหม่", "en": "Set a new password"},
    "recover_new_intro": {
        "th": "ยืนยันตัวตนแล้ว ตั้งรหัสผ่านใหม่ที่ไม่เคยใช้ที่อื่น",
        "en": "You proved it is you. Choose a new password you do not use anywhere else.",
    },
    "recover_set": {"th": "ตั้งรหัสผ่านใหม่", "en": "Set new password"},
    "recover_done": {
        "th": "ตั้งรหัสผ่านใหม่แล้ว อุปกรณ์อื่นที่เข้าสู่ระบบอยู่ได้ออกจากระบบแล้ว",
        "en": "Your new password is set. Every other device was signed out.",
    },
    "recover_sign_in_now": {
        "th": "เข้าสู่ระบบด้วยรหัสผ่านใหม่",
        "en": "Sign in with your new password",
    },
    "recover_expired": {
        "th": "ขั้นตอนนี้หมดเวลาหรือใช้ไปแล้ว เริ่มใหม่จากหน้าลืมรหัสผ่าน",
        "en": "This step has expired or was already used. Start again from “Forgot your password”.",
    },
    # ------------------------------------------------------------------------- passkeys
    "passkey_sign_in": {"th": "เข้าสู่ระบบด้วยพาสคีย์", "en": "Sign in with a passkey"},
    "passkey_or": {
        "th": "หรือใช้พาสคีย์ในโทรศัพท์ คอมพิวเตอร์ หรือกุญแจความปลอดภัย ไม่ต้องพิมพ์รหัสผ่าน",
        "en": "Or use a passkey on your phone, computer or security key, with no password to type.",
    },
    "passkey_refused": {
        "th": "เข้าสู่ระบบด้วยพาสคีย์นี้ไม่ได้ ใช้อีเมลและรหัสผ่านแทน หรือติดต่อผู้ดูแลระบบ",
        "en": "We could not sign you in with this passkey. Use your email and password "
        "instead, or contact your helpdesk.",
    },
    "passkey_offer_title": {"th": "เพิ่มพาสคีย์", "en": "Add a passkey"},
    "passkey_offer_intro": {
        "th": "ครั้งหน้าเข้าสู่ระบบได้ในขั้นตอนเดียว ด้วยลายนิ้วมือ ใบหน้า หรือ PIN ของอุปกรณ์ "
        "แทนการพิมพ์รหัสผ่าน พาสคีย์ปลอดภัยกว่ารหัสผ่านและใช้กับเว็บปลอมไม่ได้",
        "en": "Next time, sign in in one step with your fingerprint, face or device PIN "
        "instead of typing your password. A passkey is safer than a password and does "
        "not work on fake sites.",
    },
    "passkey_offer_keep": {
        "th": "รหัสผ่านของคุณยังใช้ได้เหมือนเดิม",
        "en": "Your password still works as before.",
    },
    "passkey_add": {"th": "เพิ่มพาสคีย์", "en": "Add a passkey"},
    "passkey_not_now": {"th": "ไว้ครั้งหน้า", "en": "Not now"},
}
