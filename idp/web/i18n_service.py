"""Thai and English texts of account recovery, passkeys and the page frame.
Merged into idp.web.i18n.MESSAGES; kept apart so the
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
    "passkey_account_hint": {
        "th": "พาสคีย์ใช้เข้าสู่ระบบได้ในขั้นตอนเดียวด้วยลายนิ้วมือ ใบหน้า หรือ PIN ของอุปกรณ์",
        "en": "A passkey signs you in in one step with your fingerprint, face or device PIN.",
    },
    # ---------------------------------------------------------------------- page frame
    "footer_nav": {"th": "ข้อมูลเกี่ยวกับบริการ", "en": "About this service"},
    "footer_help": {"th": "ช่วยเหลือ", "en": "Help"},
    "footer_privacy": {"th": "ประกาศความเป็นส่วนตัว", "en": "Privacy notice"},
    "footer_accessibility": {"th": "การเข้าถึงสำหรับทุกคน", "en": "Accessibility"},
    "footer_contact": {"th": "ศูนย์บริการ GovID:", "en": "GovID helpdesk:"},
    "privacy_title": {"th": "ประกาศความเป็นส่วนตัว", "en": "Privacy notice"},
    "privacy_who": {
        "th": "GovID เป็นบริการเข้าสู่ระบบกลางของหน่วยงานภาครัฐ ดำเนินการตามพระราชบัญญัติ"
        "คุ้มครองข้อมูลส่วนบุคคล พ.ศ. 2562 หน่วยงานต้นสังกัดของคุณดูแลข้อมูลบัญชีของคุณร่วมกับ"
        "ผู้ดูแล GovID",
        "en": "GovID is the shared sign-in service of Thai government agencies, run under "
        "the Personal Data Protection Act B.E. 2562 (2019). Your agency looks after your "
        "account together with the team that runs GovID.",
    },
    "privacy_what_heading": {"th": "ข้อมูลที่เก็บ", "en": "What we keep"},
    "privacy_what": {
        "th": "ชื่อ-นามสกุล อีเมลราชการ หน่วยงานและบทบาท รหัสผ่าน (เก็บแบบแฮช อ่านกลับไม่ได้) "
        "ปัจจัยที่สองที่คุณตั้งไว้ เลขประจำตัวประชาชนหากหน่วยงานบันทึกไว้ และบันทึกการเข้าสู่ระบบ "
        "(เวลา ที่อยู่ IP อุปกรณ์ และแอปที่ใช้)",
        "en": "Your name, government email, agency and roles, your password (as a hash "
        "that cannot be read back), the second factors you set up, your citizen ID if "
        "your agency recorded it, and a record of each sign-in (time, IP address, device "
        "and app).",
    },
    "privacy_why_heading": {"th": "ใช้เพื่ออะไร", "en": "Why"},
    "privacy_why": {
        "th": "เพื่อยืนยันตัวตนเมื่อคุณเข้าใช้แอปของหน่วยงานรัฐ ป้องกันการเข้าใช้โดยมิชอบ "
        "และตรวจสอบย้อนหลังได้ ซึ่งเป็นการปฏิบัติหน้าที่ตามอำนาจรัฐ (มาตรา 24 (4))",
        "en": "To confirm who you are when you use government apps, to stop others "
        "using your account, and to allow checks afterwards. This is part of the "
        "agencies' official duties (section 24 (4) of the Act).",
    },
    "privacy_apps_heading": {"th": "แอปที่ได้รับข้อมูล", "en": "What apps receive"},
    "privacy_apps": {
        "th": "แอปจะได้รับเฉพาะข้อมูลที่ขอและที่แสดงให้คุณเห็นก่อน เลขประจำตัวประชาชนส่งให้"
        "เฉพาะแอปที่ได้รับอนุญาตเท่านั้น GovID ไม่ขายหรือให้ข้อมูลของคุณเพื่อการโฆษณา",
        "en": "An app receives only what it asks for and what you are shown first. Your "
        "citizen ID goes only to apps allowed to have it. GovID never sells your data or "
        "gives it for advertising.",
    },
    "privacy_keep_heading": {"th": "เก็บนานเท่าใด", "en": "How long"},
    "privacy_keep": {
        "th": "ข้อมูลบัญชีเก็บไว้ตราบที่คุณยังทำงานกับหน่วยงาน บันทึกการเข้าสู่ระบบเก็บอย่างน้อย "
        "90 วันตามพระราชบัญญัติว่าด้วยการกระทำความผิดเกี่ยวกับคอมพิวเตอร์ พ.ศ. 2550",
        "en": "Your account for as long as you work for your agency; sign-in records for "
        "at least 90 days, as the Computer Crime Act B.E. 2550 requires.",
    },
    "privacy_rights_heading": {"th": "สิทธิของคุณ", "en": "Your rights"},
    "privacy_rights": {
        "th": "คุณขอดู ขอสำเนา ขอแก้ไข หรือคัดค้านการใช้ข้อมูลได้ โดยติดต่อผู้ดูแลระบบของหน่วยงาน"
        "หรือศูนย์บริการ GovID ตามที่อยู่ด้านล่าง หน้าบัญชีของคุณแสดงอุปกรณ์ที่เข้าสู่ระบบอยู่และ"
        "ปัจจัยที่สองที่ตั้งไว้",
        "en": "You can ask to see, copy or correct your data, or object to its use: "
        "contact your agency's helpdesk or the GovID helpdesk below. Your account page "
        "shows the devices signed in and your second factors.",
    },
    "a11y_title": {"th": "การเข้าถึงสำหรับทุกคน", "en": "Accessibility statement"},
    "a11y_aim": {
        "th": "หน้าเข้าสู่ระบบและหน้าบัญชีของ GovID ตั้งใจให้ทุกคนใช้ได้ ตามมาตรฐาน WCAG 2.1 "
        "ระดับ AA ทั้งภาษาไทยและภาษาอังกฤษ",
        "en": "GovID's sign-in and account pages aim to be usable by everyone, to WCAG "
        "2.1 level AA, in Thai and English.",
    },
    "a11y_done_heading": {"th": "สิ่งที่ทดสอบแล้ว", "en": "What we test"},
    "a11y_done": {
        "th": "ทุกหน้าใช้ได้ด้วยแป้นพิมพ์อย่างเดียว ทดสอบด้วย axe-core ทุกครั้งที่มีการเปลี่ยนแปลง "
        "ใช้ได้บนจอกว้าง 320 พิกเซล ขยายตัวอักษรได้ และข้อความแจ้งข้อผิดพลาดอ่านออกเสียงได้ด้วย"
        "โปรแกรมอ่านหน้าจอ",
        "en": "Every page works with a keyboard alone, is checked with axe-core at each "
        "change, fits a 320-pixel-wide screen, can be zoomed, and says its errors to "
        "screen readers.",
    },
    "a11y_known_heading": {"th": "ข้อจำกัดที่ทราบ", "en": "Known limits"},
    "a11y_known": {
        "th": "รหัส QR สำหรับแอปยืนยันตัวตนมีรหัสแบบตัวอักษรให้พิมพ์แทน การใช้กุญแจความปลอดภัย"
        "หรือพาสคีย์ขึ้นกับอุปกรณ์และเบราว์เซอร์ของคุณ ยังไม่ได้ทดสอบกับผู้ใช้ที่ใช้เทคโนโลยีสิ่งอำนวย"
        "ความสะดวกทุกประเภท",
        "en": "The authenticator app's QR code has a text code to type instead. Security "
        "keys and passkeys depend on your device and browser. We have not yet tested "
        "with people using every kind of assistive technology.",
    },
    "a11y_report_heading": {"th": "แจ้งปัญหา", "en": "Tell us about a problem"},
    "a11y_report": {
        "th": "หากใช้งานส่วนใดไม่ได้ แจ้งศูนย์บริการ GovID ตามที่อยู่ด้านล่าง เราจะช่วยให้คุณเข้าใช้"
        "บริการได้ระหว่างที่แก้ไข",
        "en": "If any part does not work for you, tell the GovID helpdesk below; we will "
        "help you get in while we fix it.",
    },
}
