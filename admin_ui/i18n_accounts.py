"""Texts of the dashboard, accounts and roles screens (issue 20), Thai and English."""

from __future__ import annotations

TEXTS: dict[str, dict[str, str]] = {
    # dashboard
    "figures": {"th": "ตัวเลขของหน่วยงานในความดูแล", "en": "Figures for your agencies"},
    "accounts_locked": {
        "th": "บัญชีที่ถูกล็อกอยู่ (ใส่รหัสผ่านผิดหลายครั้ง)",
        "en": "Accounts locked (too many wrong passwords)",
    },
    "sign_ins_today": {"th": "การเข้าสู่ระบบวันนี้", "en": "Sign-ins today"},
    "failed_sign_ins_today": {
        "th": "การเข้าสู่ระบบที่ไม่สำเร็จวันนี้",
        "en": "Failed sign-ins today",
    },
    "outbox_pending": {
        "th": "การเปลี่ยนแปลงที่รอส่งไปยังไดเรกทอรี LDAP",
        "en": "Changes waiting for the LDAP directory",
    },
    "outbox_parked": {
        "th": "การเปลี่ยนแปลงที่ส่งไม่สำเร็จและพักไว้",
        "en": "Changes the directory refused (parked)",
    },
    "audit_checkpoint": {
        "th": "จุดตรวจสอบล่าสุดของบันทึกการตรวจสอบ",
        "en": "Audit log's latest signed checkpoint",
    },
    "no_checkpoint": {"th": "ยังไม่มี", "en": "None yet"},
    "today_since": {"th": "วันนี้ นับตั้งแต่", "en": "Today counts from"},
    # list and search
    "create_account": {"th": "สร้างบัญชีผู้ใช้", "en": "Create an account"},
    "search_accounts": {"th": "ค้นหา", "en": "Search"},
    "search_hint": {
        "th": "ชื่อหรือนามสกุล (ไทยหรืออังกฤษ) อีเมล หรือเลขประจำตัวประชาชน 4 หลักท้าย",
        "en": "First or last name (Thai or English), email, or the citizen ID's last four digits",
    },
    "second_factor": {"th": "ปัจจัยที่สอง", "en": "Second factor"},
    "has_second_factor": {"th": "มีปัจจัยที่สอง", "en": "Has a second factor"},
    "no_second_factor": {"th": "ไม่มีปัจจัยที่สอง", "en": "No second factor"},
    "locked": {"th": "ถูกล็อก", "en": "Locked"},
    "locked_yes": {"th": "ถูกล็อกอยู่", "en": "Locked now"},
    "locked_no": {"th": "ไม่ถูกล็อก", "en": "Not locked"},
    # create
    "account_agency_hint": {
        "th": "รหัสหน่วยงานของบัญชีนี้ ต้องอยู่ในหน่วยงานที่คุณดูแล",
        "en": "The code of the account's agency; it must be one you administer.",
    },
    "given_name_th": {"th": "ชื่อ (ไทย)", "en": "First name (Thai)"},
    "family_name_th": {"th": "นามสกุล (ไทย)", "en": "Last name (Thai)"},
    "given_name_en": {"th": "ชื่อ (อังกฤษ)", "en": "First name (English)"},
    "family_name_en": {"th": "นามสกุล (อังกฤษ)", "en": "Last name (English)"},
    "account_locale": {"th": "ภาษาของบัญชี", "en": "The account's language"},
    "citizen_id": {"th": "เลขประจำตัวประชาชน", "en": "Citizen ID"},
    "citizen_id_hint": {
        "th": "ไม่บังคับ 13 หลัก GovID เก็บแบบเข้ารหัสและแสดงเพียง 4 หลักท้าย",
        "en": "Optional, 13 digits. GovID keeps it encrypted and shows only the last four.",
    },
    "activation_hint": {
        "th": "เมื่อสร้างแล้ว คุณจะได้ลิงก์สำหรับตั้งรหัสผ่าน ซึ่งแสดงเพียงครั้งเดียว",
        "en": "Once created, you get a link for setting the password, shown once only.",
    },
    # links shown once
    "link_title_activation": {"th": "สร้างบัญชีแล้ว", "en": "Account created"},
    "link_title_reset": {"th": "รีเซ็ตรหัสผ่านแล้ว", "en": "Password reset"},
    "for_account": {"th": "บัญชี", "en": "Account"},
    "link_once": {
        "th": "ลิงก์นี้แสดงเพียงครั้งเดียว คัดลอกและส่งให้เจ้าของบัญชีทางช่องทางที่ปลอดภัยตอนนี้ GovID เก็บไว้เพียงค่าแฮช",
        "en": "This link is shown once only: copy it now and give it to the account's owner "
        "by a safe channel. GovID keeps only a hash.",
    },
    "link_label": {"th": "ลิงก์ตั้งรหัสผ่าน (ใช้ได้ครั้งเดียว)", "en": "Set-password link (single use)"},
    "link_expires": {"th": "ใช้ได้ถึง", "en": "Valid until"},
    "copy": {"th": "คัดลอกลิงก์", "en": "Copy the link"},
    "copied": {"th": "คัดลอกแล้ว", "en": "Copied"},
    "no_link": {
        "th": "ไม่มีลิงก์ (บัญชีมีรหัสผ่านแล้ว)",
        "en": "No link (the account has a password already).",
    },
    "link_done": {"th": "ฉันคัดลอกแล้ว ไปที่บัญชี", "en": "I have copied it: go to the account"},
    "sessions_ended_count": {"th": "เซสชันที่สิ้นสุด", "en": "Sessions ended"},
    # one account
    "password": {"th": "รหัสผ่าน", "en": "Password"},
    "password_set": {"th": "ตั้งแล้ว", "en": "Set"},
    "password_none": {"th": "ยังไม่ได้ตั้ง", "en": "Not set"},
    "edit": {"th": "แก้ไขข้อมูล", "en": "Change details"},
    "changed_elsewhere": {
        "th": "มีผู้อื่นเปลี่ยนแปลงบัญชีนี้ระหว่างนี้ ไม่มีการบันทึกใด ๆ กรุณาโหลดใหม่",
        "en": "Changed by someone else meanwhile; nothing was saved. Reload the account.",
    },
    "reload": {"th": "โหลดบัญชีใหม่", "en": "Reload the account"},
    "saved_done": {"th": "บันทึกแล้ว", "en": "Saved."},
    "deleted_done": {"th": "ลบบัญชีแล้ว", "en": "The account is deleted."},
    "mfa_reset_done": {
        "th": "ลบปัจจัยที่สองทั้งหมดแล้ว และสิ้นสุดเซสชันทั้งหมด",
        "en": "Every second factor is removed and every session ended.",
    },
    "sessions_ended_done": {"th": "สิ้นสุดเซสชันทั้งหมดแล้ว", "en": "Every session is ended."},
    "granted_done": {"th": "มอบบทบาทแล้ว", "en": "The role is granted."},
    "revoked_done": {"th": "เพิกถอนบทบาทแล้ว", "en": "The role is revoked."},
    "password_reset": {"th": "รีเซ็ตรหัสผ่าน", "en": "Reset the password"},
    "password_reset_hint": {
        "th": "ลบรหัสผ่านเดิม สิ้นสุดเซสชันทั้งหมด และสร้างลิงก์ตั้งรหัสผ่านใหม่ที่แสดงเพียงครั้งเดียว",
        "en": "Removes the password, ends every session and makes a set-password link, "
        "shown once only.",
    },
    "mfa_reset": {"th": "รีเซ็ตปัจจัยที่สอง", "en": "Reset second factors"},
    "mfa_reset_hint": {
        "th": "ลบแอปยืนยันตัวตน กุญแจความปลอดภัย และรหัสกู้คืนทั้งหมด แล้วสิ้นสุดเซสชันทั้งหมด",
        "en": "Removes every authenticator app, security key and recovery code, "
        "and ends every session.",
    },
    "sessions": {"th": "เซสชันที่ใช้งานอยู่", "en": "Live sessions"},
    "no_sessions": {"th": "ไม่มีเซสชันที่ใช้งานอยู่", "en": "No live session"},
    "signed_in_at": {"th": "เข้าสู่ระบบเมื่อ", "en": "Signed in"},
    "last_seen": {"th": "ใช้งานล่าสุด", "en": "Last seen"},
    "end_sessions": {"th": "สิ้นสุดทุกเซสชัน", "en": "End every session"},
    "not_shown": {
        "th": "GovID ไม่ให้คุณดูส่วนนี้",
        "en": "GovID does not let you see this part.",
    },
    "roles": {"th": "บทบาท", "en": "Roles"},
    "role": {"th": "บทบาท", "en": "Role"},
    "no_grants": {"th": "ไม่มีบทบาท", "en": "No roles"},
    "expires": {"th": "หมดอายุ", "en": "Expires"},
    "never": {"th": "ไม่หมดอายุ", "en": "Never"},
    "revoke": {"th": "เพิกถอน", "en": "Revoke"},
    "grant_role": {"th": "มอบบทบาท", "en": "Grant a role"},
    "role_agency_hint": {
        "th": "บทบาทครอบคลุมหน่วยงานนี้และหน่วยงานย่อยทั้งหมด",
        "en": "The role covers this agency and all its sub-agencies.",
    },
    "expires_on": {"th": "หมดอายุเมื่อสิ้นวันที่", "en": "Expires at the end of"},
    "expires_hint": {
        "th": "ไม่บังคับ เวลาประเทศไทย เว้นว่างไว้ถ้าไม่หมดอายุ",
        "en": "Optional, Thai time; leave empty for no expiry.",
    },
    "date_invalid": {"th": "วันที่ไม่ถูกต้อง", "en": "Not a valid date"},
    "agency_unknown": {
        "th": "ไม่พบหน่วยงานนี้ในหน่วยงานที่คุณดูแล",
        "en": "No such agency among yours.",
    },
    "delete": {"th": "ลบบัญชี", "en": "Delete the account"},
    "delete_hint": {
        "th": "สิ้นสุดทุกเซสชัน เพิกถอนบทบาท และปิดกล่องจดหมาย ข้อมูลส่วนบุคคลจะถูกลบภายหลัง",
        "en": "Ends every session, removes its roles and the mailbox; the personal data "
        "is erased later.",
    },
    "recent_events": {"th": "เหตุการณ์ล่าสุดของบัญชี", "en": "The account's recent events"},
    "event": {"th": "เหตุการณ์", "en": "Event"},
    "by": {"th": "โดย", "en": "By"},
    "all_events": {"th": "เหตุการณ์ทั้งหมดของบัญชีนี้", "en": "All of this account's events"},
    "roles_hint": {
        "th": "บทบาทในหน่วยงานที่คุณดูแล มอบบทบาทได้จากหน้าบัญชีผู้ใช้",
        "en": "Roles over your agencies. Grant one from the account's page.",
    },
    "role_email": {"th": "อีเมลของบัญชี", "en": "The account's email"},
    "role_email_hint": {
        "th": "บัญชีในหน่วยงานที่คุณดูแล",
        "en": "An account in one of your agencies.",
    },
    "account_unknown": {
        "th": "ไม่พบบัญชีนี้ในหน่วยงานที่คุณดูแล",
        "en": "No such account among yours.",
    },
    "open_account": {"th": "เปิดบัญชี", "en": "Open account"},
    "not_found": {"th": "ไม่พบหน้านี้", "en": "Page not found"},
    "unavailable_maybe_done": {
        "th": "GovID ไม่ตอบกลับ คำขอของคุณอาจดำเนินการแล้วหรือยังไม่ได้ดำเนินการ "
        "กรุณาเปิดรายการนั้นอีกครั้งเพื่อตรวจสอบก่อนลองใหม่",
        "en": "GovID did not answer, so your change may or may not have been made. "
        "Open the item again to check before you try again.",
    },
    # the API's problems met on these screens
    "problem_duplicate-email": {
        "th": "มีบัญชีใช้อีเมลนี้แล้ว",
        "en": "This address is taken already.",
    },
    "problem_address-outside-domains": {
        "th": "อีเมลต้องอยู่ในโดเมนของหน่วยงาน",
        "en": "The address must be in one of the agency's mail domains.",
    },
    "problem_precondition-required": {
        "th": "มีผู้อื่นเปลี่ยนแปลงบัญชีนี้ระหว่างนี้ กรุณาโหลดใหม่",
        "en": "Reload the account and try again.",
    },
    "err_duplicate_email": {"th": "มีบัญชีใช้อีเมลนี้แล้ว", "en": "This address is taken already"},
    "err_address_outside_domains": {
        "th": "อีเมลต้องอยู่ในโดเมนของหน่วยงาน",
        "en": "Must be in one of the agency's mail domains",
    },
    "err_invalid_citizen_id": {
        "th": "เลขประจำตัวประชาชนไม่ถูกต้อง (13 หลัก ตรวจหลักสุดท้าย)",
        "en": "Not a valid citizen ID (13 digits, check digit)",
    },
    "err_unknown_agency": {
        "th": "ไม่พบหน่วยงานนี้ในหน่วยงานที่คุณดูแล",
        "en": "No such agency among yours",
    },
    "err_not_found": {"th": "ไม่พบ หรืออยู่นอกหน่วยงานของคุณ", "en": "Not found, or not yours"},
    "err_conflict": {"th": "ขัดแย้งกับข้อมูลที่มีอยู่", "en": "Conflicts with what exists"},
    "err_value_error": {"th": "ค่านี้ไม่ถูกต้อง", "en": "This value is not valid"},
}
