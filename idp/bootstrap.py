"""Demo data for a new installation: idempotent, credentials returned once."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

import pyotp
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import roles
from idp.accounts import service as accounts
from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.clients import service as clients
from idp.clients.models import Client
from idp.credentials import mfa
from idp.credentials.passwords import PasswordHasher
from idp.crypto import DataCipher

MINISTRY = agencies.NewAgency(
    code="demo-ministry",
    name_th="กระทรวงตัวอย่าง",
    name_en="Demo Ministry",
    mail_domains=("demo.go.th",),
)
DEPARTMENT = agencies.NewAgency(
    code="demo-department",
    name_th="กรมตัวอย่าง",
    name_en="Demo Department",
    parent_code="demo-ministry",
    mail_domains=("dept.demo.go.th",),
)
OFFICE = agencies.NewAgency(
    code="demo-office",
    name_th="สำนักงานตัวอย่าง",
    name_en="Demo Office",
    parent_code="demo-department",
)
DEMO_CLIENT_ID = "demo-app"
DEMO_REDIRECT_URI = "http://127.0.0.1:8080/callback"
# The admin console (admin_ui) as `make run` serves it: first-party, level 2 only, the
# admin scopes; GovID ends its sessions by back-channel logout.
CONSOLE_CLIENT_ID = "govid-admin-console"
CONSOLE_BASE_URL = "http://127.0.0.1:8001"
CONSOLE_SCOPES = ("openid", "profile", "admin:accounts", "admin:clients", "admin:audit")
ACR_LEVEL2 = "urn:govid:acr:2"


@dataclass
class BootstrapResult:
    created: bool
    agencies: list[str] = field(default_factory=list)
    accounts: list[dict] = field(default_factory=list)
    client: dict | None = None
    console: dict | None = None  # the admin console's client, when registered now

    def to_dict(self) -> dict:
        return {
            "created": self.created,
            "agencies": self.agencies,
            "accounts": self.accounts,
            "client": self.client,
            "console": self.console,
        }


def _password() -> str:
    # 20 characters from a 64-symbol alphabet: ~120 bits.
    return secrets.token_urlsafe(15)


def _totp(session: Session, cipher: DataCipher, account) -> dict:
    """A confirmed authenticator-app factor, so the demo person can sign in at level 2;
    its secret is shown once, with the otpauth:// URI an app can import."""
    cred, uri, _svg = mfa.start_totp(session, cipher, account, issuer_name="GovID demo")
    secret = parse_qs(urlsplit(uri).query)["secret"][0]
    if not mfa.confirm_totp(session, cipher, account, cred.id, pyotp.TOTP(secret).now()):
        raise RuntimeError("the demo authenticator-app factor could not be confirmed")
    return {"totp_secret": secret, "otpauth_uri": uri}


def _console(session: Session, actor: str) -> dict | None:
    """Register the admin console once (also on an installation bootstrapped before it
    existed); returns its credentials, shown once."""
    if session.scalar(select(Client.id).where(Client.client_id == CONSOLE_CLIENT_ID)):
        return None
    client, secret = clients.create(
        session,
        clients.NewClient(
            agency_code=MINISTRY.code,
            name_th="คอนโซลผู้ดูแล GovID",
            name_en="GovID admin console",
            client_id=CONSOLE_CLIENT_ID,
            redirect_uris=(f"{CONSOLE_BASE_URL}/callback",),
            post_logout_redirect_uris=(f"{CONSOLE_BASE_URL}/signed-out",),
            backchannel_logout_uri=f"{CONSOLE_BASE_URL}/backchannel-logout",
            scopes=CONSOLE_SCOPES,
            min_acr=ACR_LEVEL2,
            first_party=True,
        ),
        actor=actor,
    )
    return {
        "client_id": client.client_id,
        "client_secret": secret,
        "redirect_uri": f"{CONSOLE_BASE_URL}/callback",
        "url": CONSOLE_BASE_URL,
    }


def run(session: Session, *, hasher: PasswordHasher, cipher: DataCipher) -> BootstrapResult:
    if session.scalar(select(Agency.id).where(Agency.code == MINISTRY.code)):
        return BootstrapResult(created=False, console=_console(session, "system:bootstrap"))
    actor = "system:bootstrap"
    ministry = agencies.create(session, MINISTRY, actor=actor)
    department = agencies.create(session, DEPARTMENT, actor=actor)
    agencies.create(session, OFFICE, actor=actor)
    result = BootstrapResult(created=True, agencies=[MINISTRY.code, DEPARTMENT.code, OFFICE.code])

    people = [
        ("operator@demo.go.th", MINISTRY.code, "ผู้ดูแลระบบ", "Operator", "operator", ministry),
        (
            "admin@dept.demo.go.th",
            DEPARTMENT.code,
            "ผู้ดูแลกรม",
            "Agency Admin",
            "agency_admin",
            department,
        ),
        ("auditor@demo.go.th", MINISTRY.code, "ผู้ตรวจสอบ", "Auditor", "auditor", ministry),
    ]
    for email, agency_code, name_th, name_en, role, scope in people:
        password = _password()
        account = accounts.create(
            session,
            accounts.NewAccount(
                email=email,
                agency_code=agency_code,
                given_name_th=name_th,
                family_name_th="ตัวอย่าง",
                given_name_en=name_en,
                family_name_en="Demo",
                password=password,
            ),
            hasher=hasher,
            cipher=cipher,
            actor=actor,
        )
        roles.grant_role(session, account, role, scope)
        result.accounts.append(
            {"email": email, "password": password, "role": role, **_totp(session, cipher, account)}
        )

    client, secret = clients.create(
        session,
        clients.NewClient(
            agency_code=DEPARTMENT.code,
            name_th="แอปตัวอย่าง",
            name_en="Demo App",
            client_id=DEMO_CLIENT_ID,
            redirect_uris=(DEMO_REDIRECT_URI,),
            post_logout_redirect_uris=("http://127.0.0.1:8080/",),
        ),
        actor=actor,
    )
    result.client = {
        "client_id": client.client_id,
        "client_secret": secret,
        "redirect_uri": DEMO_REDIRECT_URI,
    }
    result.console = _console(session, actor)
    audit.record(
        session,
        "system.bootstrap.completed",
        actor=actor,
        details={
            "agencies": result.agencies,
            "accounts": [a["email"] for a in result.accounts],
            "clients": [client.client_id, CONSOLE_CLIENT_ID],
        },
    )
    return result
