"""Passkeys against a real `idp serve` on both databases (issue 19): a passkey added
from a password session signs in alone at level 2 (acr, amr ["hwk","user","mfa"] in the
ID token, a session and an audit event on the server); an assertion without user
verification, a suspended account and an unknown credential are refused and audited.

The authenticator is a small software one (ES256, "none" attestation, WebAuthn L2
§6.1 authenticator data), since no browser runs here; tests/e2e/test_passkeys.py does
the same with Chromium's virtual authenticator."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from urllib.parse import urlsplit

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from idp.accounts import service as accounts
from idp.audit.models import AuditEvent
from idp.credentials import webauthn_keys as wa
from idp.sessions.models import SsoSession
from tests.protocol.conftest import PASSWORD, Browser, callback_params, decode_jwt, form_fields
from tests.protocol.rp import authorize_url, rp_client

L2 = "urn:govid:acr:2"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftPasskey:
    def __init__(self, base: str) -> None:
        parts = urlsplit(base)
        self.rp_hash = hashlib.sha256(parts.hostname.encode()).digest()
        self.origin = f"{parts.scheme}://{parts.netloc}"
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cred_id = os.urandom(16)
        self.count = 0
        self.user_handle = b""

    def _client_data(self, kind: str, challenge: str) -> bytes:
        return json.dumps(
            {"type": kind, "challenge": challenge, "origin": self.origin, "crossOrigin": False}
        ).encode()

    def create(self, options: dict) -> dict:
        self.user_handle = unb64(options["user"]["id"])
        nums = self.key.public_key().public_numbers()
        cose = cbor2.dumps(
            {1: 2, 3: -7, -1: 1, -2: nums.x.to_bytes(32, "big"), -3: nums.y.to_bytes(32, "big")}
        )
        auth_data = (
            self.rp_hash
            + bytes([0x01 | 0x04 | 0x40])  # UP, UV, attested credential data
            + (0).to_bytes(4, "big")
            + bytes(16)  # AAGUID
            + len(self.cred_id).to_bytes(2, "big")
            + self.cred_id
            + cose
        )
        att = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        return {
            "id": b64(self.cred_id),
            "rawId": b64(self.cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(self._client_data("webauthn.create", options["challenge"])),
                "attestationObject": b64(att),
                "transports": ["internal"],
            },
            "clientExtensionResults": {},
        }

    def get(self, options: dict, *, uv: bool = True) -> dict:
        assert options["allowCredentials"] == [] and options["userVerification"] == "required"
        self.count += 1
        client_data = self._client_data("webauthn.get", options["challenge"])
        auth_data = (
            self.rp_hash + bytes([0x01 | (0x04 if uv else 0)]) + self.count.to_bytes(4, "big")
        )
        signature = self.key.sign(
            auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256())
        )
        return {
            "id": b64(self.cred_id),
            "rawId": b64(self.cred_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64(client_data),
                "authenticatorData": b64(auth_data),
                "signature": b64(signature),
                "userHandle": b64(self.user_handle),
            },
            "clientExtensionResults": {},
        }


def new_person(world) -> str:
    u = world.users["alice"].split("@")[1].split(".")[0]
    email = f"pk-{secrets.token_hex(3)}@{u}.go.th"
    with world.services.sessions.begin() as db:
        accounts.create(
            db,
            accounts.NewAccount(email=email, agency_code=f"d-{u}", password=PASSWORD),
            hasher=world.services.hasher,
            cipher=world.services.cipher,
        )
    return email


def add_passkey(world, email: str) -> SoftPasskey:
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world))
    assert b.login(b.go(url), email).status_code in (302, 303)
    csrf = form_fields(b.http.get("/account").text)["csrf_token"]
    h = {"X-CSRF-Token": csrf}
    opts = b.http.post("/passkey/register/options", json={}, headers=h).json()
    assert opts["options"]["authenticatorSelection"]["residentKey"] == "required"
    assert opts["options"]["authenticatorSelection"]["userVerification"] == "required"
    key = SoftPasskey(world.base)
    r = b.http.post(
        "/passkey/register",
        json={"state": opts["state"], "credential": key.create(opts["options"])},
        headers=h,
    )
    assert r.status_code == 200, r.text
    return key


def passkey_sign_in(world, key: SoftPasskey, *, uv: bool = True, **extra):
    b = Browser(world.base)
    client = rp_client(world)
    url, verifier, *_ = authorize_url(world, client, **extra)
    page = b.go(url)
    fields = form_fields(page.text)
    h = {"X-CSRF-Token": fields["csrf_token"]}
    opts = b.http.post("/login/passkey/options", json={"i": fields["i"]}, headers=h).json()
    r = b.http.post(
        "/login/passkey/verify",
        json={
            "i": fields["i"],
            "state": opts["state"],
            "credential": key.get(opts["options"], uv=uv),
        },
        headers=h,
    )
    return b, client, verifier, r


def last_event(world, kind: str, subject: str):
    with world.services.sessions() as db:
        return db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == kind, AuditEvent.subject == subject)
            .order_by(AuditEvent.seq.desc())
        ).first()


def test_a_passkey_signs_in_alone_at_level_2(world):
    email = new_person(world)
    key = add_passkey(world, email)
    b, client, verifier, r = passkey_sign_in(world, key, acr_values=L2)
    assert r.status_code == 200, r.text
    done = b.go(r.json()["redirect"])
    params = callback_params(done)
    tok = client.fetch_token(f"{world.base}/token", code=params["code"], code_verifier=verifier)
    _, idt = decode_jwt(world.base, tok["id_token"])
    assert idt["acr"] == L2 and idt["amr"] == ["hwk", "user", "mfa"]
    with world.services.sessions() as db:
        acc = accounts.get_by_email(db, email)
        row = db.scalars(select(SsoSession).where(SsoSession.sid == idt["sid"])).one()
        assert (row.account_id, row.acr, row.amr) == (acc.id, L2, ["hwk", "user", "mfa"])
    ev = last_event(world, "oidc.login.succeeded", str(acc.id))
    assert ev.details == {"acr": L2, "amr": ["hwk", "user", "mfa"], "method": "passkey"}


def test_without_user_verification_it_is_refused_and_audited(world):
    email = new_person(world)
    key = add_passkey(world, email)
    _, _, _, r = passkey_sign_in(world, key, uv=False)
    assert r.status_code == 401 and r.json()["error"] == "passkey_refused"
    with world.services.sessions() as db:
        acc = accounts.get_by_email(db, email)
    ev = last_event(world, "oidc.login.failed", str(acc.id))
    assert ev.details == {"reason": "passkey_not_verified", "method": "passkey"}


def test_a_suspended_accounts_passkey_is_refused_and_audited(world):
    email = new_person(world)
    key = add_passkey(world, email)
    with world.services.sessions.begin() as db:
        acc = accounts.get_by_email(db, email)
        acc.status = "suspended"
        account_id = acc.id
    _, _, _, r = passkey_sign_in(world, key)
    assert r.status_code == 401 and "set-cookie" not in r.headers
    assert "could not sign you in" in r.json()["message"] or "พาสคีย์" in r.json()["message"]
    ev = last_event(world, "oidc.login.failed", str(account_id))
    assert ev.details == {"reason": "suspended", "method": "passkey"}


def test_an_unknown_credential_is_refused(world):
    key = SoftPasskey(world.base)
    key.user_handle = os.urandom(16)  # no such account
    _, _, _, r = passkey_sign_in(world, key)
    assert r.status_code == 401 and r.json()["error"] == "passkey_refused"


def test_passkeys_are_told_apart_from_keys_and_learnt_when_they_sign_in(world):
    """Registered as a passkey: recorded discoverable and listed as a passkey. A key
    registered before that was recorded (NULL) is a security key on the account page
    until it answers a sign-in that named no account; then it is a passkey."""
    email = new_person(world)
    key = add_passkey(world, email)
    with world.services.sessions.begin() as db:
        acc = accounts.get_by_email(db, email)
        [row] = wa.keys_of(db, acc.id)
        assert row.discoverable is True
        ev = last_event(world, "credentials.webauthn.registered", str(acc.id))
        assert ev.details["passkey"] is True
        row.discoverable = None  # as a key registered before migration 0014
    b, _, _, r = passkey_sign_in(world, key)
    assert r.status_code == 200, r.text
    with world.services.sessions() as db:
        assert wa.keys_of(db, acc.id)[0].discoverable is True
    page = b.http.get("/account", headers={"Accept-Language": "en"}).text
    assert '<span class="factor-name">Passkey</span>' in page, page


def test_security_key_options_ask_whether_the_key_is_discoverable(world):
    email = new_person(world)
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world))
    assert b.login(b.go(url), email).status_code in (302, 303)
    csrf = form_fields(b.http.get("/account").text)["csrf_token"]
    opts = b.http.post("/account/webauthn/options", json={}, headers={"X-CSRF-Token": csrf})
    assert opts.json()["options"]["extensions"] == {"credProps": True}
    said = wa.reported_discoverable
    assert said({"clientExtensionResults": {"credProps": {"rk": False}}}) is False
    assert said({"clientExtensionResults": {"credProps": {"rk": "yes"}}}) is None
    assert said({"clientExtensionResults": []}) is None
