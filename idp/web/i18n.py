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
        "th": "ใช้รหัสผ่านอย่างน้อย 15 ตัวอักษร (หรือ 8 ตัวอักษรเมื่อตั้งค่าปัจจัยที่สองแล้ว) "
        "ประโยคยาว ๆ จำง่ายกว่าและปลอดภัยกว่า",
        "en": "Use at least 15 characters (8 once you have a second factor). A long "
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
    "mfa_title": {"th": "ยืนยันด้วยปัจจัยที่สอง", "en": "Confirm with your second factor"},
    "mfa_intro": {
        "th": "กรอกรหัส 6 หลักที่แอปยืนยันตัวตนแสดงอยู่ตอนนี้",
        "en": "Enter the 6-digit code your authenticator app shows now.",
    },
    "mfa_code": {"th": "รหัสยืนยัน", "en": "Verification code"},
    "mfa_bad": {"th": "รหัสไม่ถูกต้องหรือถูกใช้ไปแล้ว", "en": "The code is wrong or was already used."},
    "verify": {"th": "ยืนยัน", "en": "Verify"},
    "use_key": {"th": "ใช้กุญแจความปลอดภัย", "en": "Use a security key"},
    "add_key": {"th": "เพิ่มกุญแจความปลอดภัย", "en": "Add a security key"},
    "key_label": {"th": "ชื่อกุญแจ (ไม่บังคับ)", "en": "Key name (optional)"},
    "enrol_title": {"th": "ตั้งค่าแอปยืนยันตัวตน", "en": "Set up an authenticator app"},
    "enrol_intro": {
        "th": "ปัจจัยที่สองของคุณจะเป็นแอปยืนยันตัวตนบนโทรศัพท์ สแกนคิวอาร์โค้ดด้วยแอปยืนยันตัวตน "
        "(เช่น Google Authenticator, Microsoft Authenticator) แล้วกรอกรหัส 6 หลักที่แอปแสดง",
        "en": "Your second factor will be an authenticator app on your phone. Scan the QR "
        "code with an authenticator app (such as Google or Microsoft Authenticator), then "
        "enter the 6-digit code it shows.",
    },
    "enrol_manual": {"th": "หรือพิมพ์รหัสนี้ในแอป", "en": "Or type this key into the app"},
    "enrol_skip": {"th": "ข้ามไปก่อน", "en": "Not now"},
    "recovery_title": {"th": "รหัสกู้คืน", "en": "Recovery codes"},
    "recovery_intro": {
        "th": "เก็บรหัสเหล่านี้ไว้ในที่ปลอดภัย ใช้แทนปัจจัยที่สองได้เมื่อไม่มีโทรศัพท์หรือกุญแจความปลอดภัยอยู่กับตัว "
        "แต่ละรหัสใช้ได้ครั้งเดียว และจะแสดงให้เห็นเพียงครั้งนี้เท่านั้น",
        "en": "Keep these codes somewhere safe. Use one instead of your second factor when "
        "you do not have your phone or security key with you. Each works once. They are "
        "shown only now.",
    },
    "account_title": {"th": "บัญชีของฉัน", "en": "My account"},
    "level": {"th": "ระดับการยืนยันตัวตนปัจจุบัน", "en": "Current assurance level"},
    "signed_in_level2": {
        "th": "คุณเข้าสู่ระบบครั้งนี้ด้วยรหัสผ่านและปัจจัยที่สอง",
        "en": "You signed in this time with your password and your second factor.",
    },
    "signed_in_level1": {
        "th": "คุณเข้าสู่ระบบครั้งนี้ด้วยรหัสผ่านเท่านั้น บางแอปพลิเคชันจะขอให้ยืนยันด้วยปัจจัยที่สองเพิ่ม",
        "en": "You signed in this time with your password only. Some applications will "
        "also ask for your second factor.",
    },
    "second_factors": {"th": "ปัจจัยที่สอง", "en": "Second factors"},
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
        "th": "คำขอจากแอปพลิเคชันไม่ได้ระบุว่าเป็นแอปพลิเคชันใด",
        "en": "The application's request did not say which application it is.",
    },
    "unknown_client": {
        "th": "แอปพลิเคชันนี้ไม่ได้ลงทะเบียนไว้กับระบบ",
        "en": "This application is not registered.",
    },
    "no_redirect_uri": {
        "th": "คำขอจากแอปพลิเคชันไม่ได้ระบุว่าจะให้กลับไปที่ใดหลังเข้าสู่ระบบ",
        "en": "The application's request did not say where to take you after signing in.",
    },
    "redirect_uri_mismatch": {
        "th": "แอปพลิเคชันขอให้ส่งคุณกลับไปยังที่อยู่เว็บที่ไม่ได้ลงทะเบียนไว้ เพื่อความปลอดภัย GovID จึงไม่ส่งคุณไปที่นั่น",
        "en": "The application asked to send you to a web address it has not registered, "
        "so for your safety GovID will not send you there.",
    },
    "param_repeated": {
        "th": "คำขอจากแอปพลิเคชันไม่ถูกต้อง เพราะมีข้อมูลบางส่วนซ้ำกัน",
        "en": "The application's request is not valid: part of it was sent twice.",
    },
    "page_not_found": {
        "th": "ไม่พบหน้าที่ต้องการ กรุณาตรวจสอบที่อยู่เว็บอีกครั้ง",
        "en": "There is no page at this address. Check the address and try again.",
    },
    "method_not_allowed": {
        "th": "ไม่สามารถเปิดหน้านี้ได้โดยตรง กรุณาเริ่มใหม่จากแอปพลิเคชัน",
        "en": "This page cannot be opened directly. Start again from the application.",
    },
    "service_unavailable": {
        "th": "ระบบขัดข้องชั่วคราว กรุณาลองใหม่อีกครั้งในอีกสักครู่",
        "en": "The service is briefly unavailable. Please try again in a moment.",
    },
    "need_fresh_mfa": {
        "th": "กรุณายืนยันด้วยปัจจัยที่สองอีกครั้งก่อนทำรายการนี้",
        "en": "Confirm your second factor again before doing this.",
    },
    # --- people's pages: one name for the second factor,
    # "second factor" / "ปัจจัยที่สอง" (an authenticator app or a security key).
    "app_code": {"th": "รหัสจากแอปยืนยันตัวตน", "en": "Code from your authenticator app"},
    "mfa_app_heading": {"th": "ใช้แอปยืนยันตัวตน", "en": "Use your authenticator app"},
    "mfa_recovery_heading": {"th": "ใช้รหัสกู้คืน", "en": "Use a recovery code"},
    "recovery_code": {"th": "รหัสกู้คืน", "en": "Recovery code"},
    "recovery_hint": {
        "th": "รหัสกู้คืนแต่ละรหัสใช้ได้ครั้งเดียว เช่น ABCD-EFGH-JKLM-NPQR",
        "en": "Each recovery code works once, for example ABCD-EFGH-JKLM-NPQR.",
    },
    "mfa_lost": {
        "th": "ไม่มีโทรศัพท์หรือกุญแจความปลอดภัยอยู่กับตัว?",
        "en": "Do not have your phone or security key?",
    },
    "cancel_back_to_account": {
        "th": "ยกเลิก กลับไปที่บัญชีของฉัน",
        "en": "Cancel and go back to my account",
    },
    "why_recovery": {
        "th": "ก่อนสร้างรหัสกู้คืนใหม่ กรุณายืนยันด้วยปัจจัยที่สองก่อน จากนั้นจะกลับไปที่หน้าบัญชีเพื่อสร้างรหัส",
        "en": "To make new recovery codes, confirm with your second factor first. "
        "You will then go back to your account to make them.",
    },
    "why_remove": {
        "th": "ก่อนลบปัจจัยที่สอง กรุณายืนยันด้วยปัจจัยที่สองก่อน จากนั้นจะกลับไปยืนยันการลบ",
        "en": "To remove a second factor, confirm with one of yours first. "
        "You will then go back to confirm the removal.",
    },
    "why_add_totp": {
        "th": "ก่อนตั้งค่าแอปยืนยันตัวตนใหม่ กรุณายืนยันด้วยปัจจัยที่สองที่มีอยู่ก่อน จากนั้นจะกลับไปตั้งค่าต่อ",
        "en": "To set up a new authenticator app, confirm with the second factor you "
        "already have first. You will then go back to set it up.",
    },
    "why_add_key": {
        "th": "ก่อนเพิ่มกุญแจความปลอดภัย กรุณายืนยันด้วยปัจจัยที่สองที่มีอยู่ก่อน จากนั้นจะกลับไปเพิ่มกุญแจ",
        "en": "To add a security key, confirm with the second factor you already have "
        "first. You will then go back to add the key.",
    },
    "ready_recovery": {
        "th": "ยืนยันแล้ว กดปุ่ม “สร้างรหัสกู้คืนใหม่” เพื่อสร้างรหัส",
        "en": "Confirmed. Press “Make new recovery codes” to make them.",
    },
    "ready_key": {
        "th": "ยืนยันแล้ว กดปุ่ม “เพิ่มกุญแจความปลอดภัย” เพื่อเพิ่มกุญแจ",
        "en": "Confirmed. Press “Add a security key” to add your key.",
    },
    "enrol_bad": {
        "th": "รหัสไม่ตรงกัน คิวอาร์โค้ดและรหัสตั้งค่ายังเป็นชุดเดิม ไม่ต้องเพิ่มบัญชีในแอปใหม่ "
        "กรุณากรอกรหัส 6 หลักล่าสุดที่แอปแสดงสำหรับ GovID",
        "en": "That code did not match. The QR code and key are unchanged, so keep the "
        "entry you added: enter the newest 6-digit code your app shows for GovID.",
    },
    "enrol_new": {"th": "สร้างคิวอาร์โค้ดใหม่", "en": "Make a new QR code"},
    "enrol_new_help": {
        "th": "หากสแกนไม่สำเร็จหรือลบรายการในแอปไปแล้ว สร้างคิวอาร์โค้ดใหม่ได้ "
        "(รายการเดิมในแอปจะใช้ไม่ได้ ให้ลบออก)",
        "en": "If scanning did not work or you deleted the entry, make a new QR code "
        "(the old entry in your app will stop working: delete it).",
    },
    "enrol_renewed": {
        "th": "สร้างคิวอาร์โค้ดใหม่แล้ว ลบรายการ GovID เดิมออกจากแอป แล้วสแกนคิวอาร์โค้ดนี้",
        "en": "A new QR code was made. Delete the old GovID entry from your app, then "
        "scan this one.",
    },
    "enrol_on_this_phone": {
        "th": "เพิ่มในแอปยืนยันตัวตนบนโทรศัพท์เครื่องนี้",
        "en": "Add to an authenticator app on this phone",
    },
    "key_cancelled": {
        "th": "ยกเลิกการใช้กุญแจความปลอดภัยหรือหมดเวลา กรุณาลองใหม่",
        "en": "The security key request was cancelled or timed out. Try again.",
    },
    "key_exists": {
        "th": "กุญแจนี้ลงทะเบียนกับบัญชีของคุณไว้แล้ว",
        "en": "This security key is already registered to your account.",
    },
    "key_unsupported": {
        "th": "เบราว์เซอร์นี้ใช้กุญแจความปลอดภัยไม่ได้ กรุณาใช้เบราว์เซอร์อื่นหรือวิธีอื่น",
        "en": "This browser cannot use security keys. Use another browser or another way.",
    },
    "key_security": {
        "th": "เบราว์เซอร์ไม่อนุญาตให้ใช้กุญแจความปลอดภัยกับที่อยู่เว็บนี้",
        "en": "The browser does not allow security keys at this web address.",
    },
    "key_network": {
        "th": "ติดต่อ GovID ไม่ได้ กรุณาตรวจสอบการเชื่อมต่ออินเทอร์เน็ตแล้วลองใหม่",
        "en": "GovID could not be reached. Check your connection and try again.",
    },
    "key_generic": {
        "th": "ใช้กุญแจความปลอดภัยไม่สำเร็จ กรุณาลองใหม่",
        "en": "The security key did not work. Try again.",
    },
    "key_signed_out": {
        "th": "คุณออกจากระบบแล้ว กรุณาโหลดหน้านี้ใหม่และเข้าสู่ระบบอีกครั้ง",
        "en": "You are signed out. Reload the page and sign in again.",
    },
    "key_expired": {
        "th": "ใช้เวลานานเกินไป กรุณากดปุ่มอีกครั้ง",
        "en": "That took too long. Press the button again.",
    },
    "key_not_verified": {
        "th": "ตรวจสอบกุญแจนี้ไม่ผ่าน กรุณาใช้กุญแจที่ลงทะเบียนกับบัญชีนี้ หรือใช้วิธีอื่น",
        "en": "This security key could not be verified. Use a key registered to this "
        "account, or another way.",
    },
    "key_register_failed": {
        "th": "เพิ่มกุญแจไม่สำเร็จ กุญแจตอบกลับไม่ถูกต้อง กรุณาลองใหม่",
        "en": "The key could not be added: its answer was not valid. Try again.",
    },
    "forgot_password": {"th": "ลืมรหัสผ่าน?", "en": "Forgot your password?"},
    "help_link": {"th": "ความช่วยเหลือในการเข้าสู่ระบบ", "en": "Help with signing in"},
    "help_title": {"th": "ความช่วยเหลือในการเข้าสู่ระบบ", "en": "Help with signing in"},
    "help_forgot_heading": {"th": "ลืมรหัสผ่าน", "en": "Forgot your password"},
    "help_forgot": {
        "th": "ติดต่อฝ่ายช่วยเหลือด้านไอทีของหน่วยงานคุณ เจ้าหน้าที่จะส่งลิงก์สำหรับตั้งรหัสผ่านใหม่ให้ "
        "ลิงก์ใช้ได้ครั้งเดียว GovID จะไม่ถามรหัสผ่านของคุณทางอีเมลหรือโทรศัพท์",
        "en": "Contact your agency's IT helpdesk. They will send you a link to set a new "
        "password; it works once. GovID never asks for your password by email or phone.",
    },
    "help_lost_heading": {
        "th": "ไม่มีโทรศัพท์หรือกุญแจความปลอดภัย",
        "en": "Lost your phone or security key",
    },
    "help_lost": {
        "th": "ใช้รหัสกู้คืนหนึ่งรหัสแทน หากไม่มีรหัสกู้คืน ติดต่อฝ่ายช่วยเหลือด้านไอทีของหน่วยงานเพื่อรีเซ็ตปัจจัยที่สอง",
        "en": "Use one of your recovery codes instead. If you have none, ask your agency's "
        "IT helpdesk to reset your second factor.",
    },
    "help_contact_heading": {"th": "ติดต่อ", "en": "Contact"},
    "help_contact": {
        "th": "ฝ่ายช่วยเหลือด้านไอทีของหน่วยงานที่คุณสังกัดเป็นผู้ดูแลบัญชี GovID ของคุณ",
        "en": "Your agency's IT helpdesk looks after your GovID account.",
    },
    "back_to_sign_in": {"th": "กลับไปหน้าเข้าสู่ระบบ", "en": "Back to sign in"},
    "go_to_account": {"th": "ไปที่บัญชีของฉัน", "en": "Go to my account"},
    "start_again": {"th": "เริ่มใหม่อีกครั้ง", "en": "Start again"},
    "sign_in_again": {"th": "เข้าสู่ระบบอีกครั้ง", "en": "Sign in again"},
    "logged_out_next": {
        "th": "แอปพลิเคชันที่คุณเข้าสู่ระบบด้วย GovID ได้รับแจ้งแล้ว ปิดหน้านี้ได้เลย",
        "en": "The applications you signed in to with GovID have been told. "
        "You can close this page.",
    },
    "sign_out_here": {"th": "ออกจากระบบบนอุปกรณ์นี้", "en": "Sign out on this device"},
    "current_password_wrong": {
        "th": "รหัสผ่านปัจจุบันไม่ถูกต้อง",
        "en": "Your current password is wrong.",
    },
    "password_rule": {
        "th": "ใช้รหัสผ่านอย่างน้อย {n} ตัวอักษร ประโยคยาว ๆ จำง่ายกว่าและปลอดภัยกว่า",
        "en": "Use at least {n} characters. A long sentence is easier to remember and safer.",
    },
    "factor_removed": {"th": "ลบปัจจัยที่สองแล้ว", "en": "The second factor was removed."},
    "remove_title": {"th": "ลบปัจจัยที่สอง", "en": "Remove a second factor"},
    "remove_confirm": {
        "th": "ต้องการลบ “{label}” หรือไม่ หลังจากลบแล้วจะใช้ยืนยันตัวตนไม่ได้อีก",
        "en": "Remove “{label}”? Once removed, it can no longer be used to sign in.",
    },
    "remove_last": {
        "th": "นี่คือปัจจัยที่สองรายการสุดท้าย รหัสกู้คืนจะถูกลบด้วย และแอปพลิเคชันที่ต้องใช้ปัจจัยที่สองจะให้คุณตั้งค่าใหม่",
        "en": "This is your last second factor: your recovery codes are removed too, "
        "and applications that need a second factor will ask you to set one up again.",
    },
    "show_password": {"th": "แสดงรหัสผ่าน", "en": "Show password"},
    "remove_yes": {"th": "ลบ", "en": "Remove"},
    "remove_no": {"th": "ยกเลิก", "en": "Cancel"},
    # --- time limits said, warned of and extendable.
    "time_limit": {
        "th": "คุณมีเวลา {minutes} นาทีสำหรับหน้านี้ (จนถึงเวลา {until})",
        "en": "You have {minutes} minutes for this page (until {until}).",
    },
    "time_warning": {
        "th": "หน้านี้จะหมดเวลาในอีกประมาณ {minutes} นาที",
        "en": "This page will time out in about {minutes} minutes.",
    },
    "time_more": {"th": "ขอเวลาเพิ่มอีก {minutes} นาที", "en": "Give me {minutes} more minutes"},
    "time_extended": {
        "th": "ได้เวลาเพิ่มอีก {minutes} นาทีแล้ว (จนถึงเวลา {until})",
        "en": "You have {minutes} more minutes (until {until}).",
    },
    "time_no_more": {
        "th": "ขอเวลาเพิ่มสำหรับหน้านี้ไม่ได้อีกแล้ว กรุณาทำให้เสร็จก่อนหมดเวลา หรือเริ่มใหม่อีกครั้ง",
        "en": "No more time can be added to this page. Finish before it times out, or start again.",
    },
    "time_over": {
        "th": "หน้านี้หมดเวลาแล้ว โหลดหน้านี้ใหม่เพื่อเริ่มใหม่อีกครั้ง",
        "en": "This page has timed out. Reload it to start again.",
    },
    "time_failed": {
        "th": "ขอเวลาเพิ่มไม่สำเร็จ กรุณาตรวจสอบการเชื่อมต่ออินเทอร์เน็ตแล้วลองใหม่",
        "en": "More time could not be added. Check your connection and try again.",
    },
    # --- plain words for codes, levels, devices, times and waits.
    "error_details": {"th": "รายละเอียดสำหรับเจ้าหน้าที่", "en": "Details for support staff"},
    "expired_title": {"th": "หน้านี้หมดเวลาแล้ว", "en": "This page has timed out"},
    "step_expired": {
        "th": "หน้านี้เปิดค้างไว้นานเกิน {minutes} นาที จึงหมดอายุเพื่อความปลอดภัยของบัญชีคุณ กรุณาเริ่มใหม่อีกครั้ง",
        "en": "This page was open for more than {minutes} minutes, so it has expired to "
        "keep your account safe. Please start again.",
    },
    "kind_totp": {"th": "แอปยืนยันตัวตน", "en": "Authenticator app"},
    "kind_webauthn": {"th": "กุญแจความปลอดภัย", "en": "Security key"},
    "kind_passkey": {"th": "พาสคีย์", "en": "Passkey"},
    "signed_in_at": {"th": "เข้าสู่ระบบเมื่อ {when}", "en": "signed in {when}"},
    "unknown_device": {"th": "เบราว์เซอร์ที่ไม่รู้จัก", "en": "Unknown browser"},
    "device_on": {"th": "{browser} บน {system}", "en": "{browser} on {system}"},
    "mfa_throttled": {
        "th": "กรอกรหัสผิดหลายครั้งเกินไป กรุณาลองใหม่ในอีก {wait}",
        "en": "Too many wrong codes. Try again in {wait}.",
    },
    # --- which app is asking, and who runs it.
    "sign_in_to_agency": {
        "th": "เข้าสู่ระบบเพื่อใช้งาน {app} ซึ่งเป็นบริการของ{agency}",
        "en": "Sign in to continue to {app}, a service of {agency}.",
    },
    "for_app_agency": {
        "th": "คุณกำลังเข้าสู่ระบบ {app} ซึ่งเป็นบริการของ{agency}",
        "en": "You are signing in to {app}, a service of {agency}.",
    },
    "for_app": {"th": "คุณกำลังเข้าสู่ระบบ {app}", "en": "You are signing in to {app}."},
    "consent_intro_id_only": {
        "th": "{app} ({agency}) ขอทราบว่าเป็นคุณ โดยไม่ขอข้อมูลอื่นของคุณ",
        "en": "{app} ({agency}) is asking to know that it is you. It asks for no other "
        "information about you.",
    },
    "consent_identifier": {
        "th": "{app} จะได้รับรหัสอ้างอิงบัญชีของคุณ ซึ่งเป็นรหัสเดิมทุกครั้งที่คุณเข้าสู่ระบบ",
        "en": "{app} also receives a reference number for your account, the same each "
        "time you sign in.",
    },
    "privacy_link": {
        "th": "ประกาศความเป็นส่วนตัวของ{agency}",
        "en": "{agency}'s privacy notice",
    },
    "app_privacy_link": {
        "th": "ประกาศความเป็นส่วนตัวของแอป {app}",
        "en": "{app}'s own privacy notice",
    },
    "privacy_none": {
        "th": "{app} ดำเนินการโดย{agency} ซึ่งยังไม่ได้แจ้งลิงก์ประกาศความเป็นส่วนตัวไว้กับ GovID "
        "สอบถาม{agency}ได้ว่าจะใช้ข้อมูลของคุณอย่างไร",
        "en": "{app} is run by {agency}, which has not given GovID a link to its privacy "
        "notice. Ask {agency} how it uses your information.",
    },
}


# Recovery, passkeys and the page frame keep their texts in their own module.
from idp.web.i18n_service import MESSAGES as _SERVICE_MESSAGES  # noqa: E402

MESSAGES.update(_SERVICE_MESSAGES)


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
