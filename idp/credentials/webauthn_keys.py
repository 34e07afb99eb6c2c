"""WebAuthn security keys as a second factor (`amr` "hwk"), with the `webauthn`
package (py_webauthn). Challenges travel in short-lived signed state (no server table);
the signature counter is checked for cloned authenticators (WebAuthn L2 §6.1.1)."""

from __future__ import annotations

import json
import secrets
import uuid
from urllib.parse import urlsplit

from sqlalchemy import select
from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import base64url_to_bytes, bytes_to_base64url
from webauthn.helpers.exceptions import InvalidAuthenticationResponse, InvalidRegistrationResponse
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.credentials.models import MfaCredential
from idp.db import utcnow


class WebAuthnError(ValueError):
    pass


def _key_bytes(value: str | None) -> bytes:
    """A passkey row's credential id or public key (only other kinds of credential
    leave these columns empty)."""
    if value is None:
        raise ValueError("a passkey without its credential id or public key")
    return base64url_to_bytes(value)


def rp_of(issuer: str) -> tuple[str, str]:
    """(RP ID, origin) from the issuer URL: the RP ID is its host name."""
    parts = urlsplit(issuer)
    return parts.hostname or "localhost", f"{parts.scheme}://{parts.netloc}"


def _keys(db: Session, account_id: uuid.UUID) -> list[MfaCredential]:
    return list(
        db.scalars(
            select(MfaCredential).where(
                MfaCredential.account_id == account_id,
                MfaCredential.kind == "webauthn",
                MfaCredential.confirmed_at.is_not(None),
            )
        )
    )


def registration_options(db: Session, account: Account, issuer: str) -> tuple[str, bytes]:
    rp_id, _ = rp_of(issuer)
    challenge = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="GovID",
        user_id=account.id.bytes,
        user_name=account.email,
        user_display_name=account.email,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.DISCOURAGED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=_key_bytes(k.credential_id))
            for k in _keys(db, account.id)
        ],
    )
    return _with_cred_props(options_to_json(options)), challenge


def passkey_registration_options(db: Session, account: Account, issuer: str) -> tuple[str, bytes]:
    """A passkey: a discoverable credential (resident key required) that verifies the
    person (PIN or biometrics, user verification required), so it signs in alone in one
    step (WebAuthn L2 §5.4.6, §6.2.3). Same storage as a security key."""
    rp_id, _ = rp_of(issuer)
    challenge = secrets.token_bytes(32)
    options = generate_registration_options(
        rp_id=rp_id,
        rp_name="GovID",
        user_id=account.id.bytes,
        user_name=account.email,
        user_display_name=account.email,
        challenge=challenge,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.REQUIRED,
            user_verification=UserVerificationRequirement.REQUIRED,
        ),
        exclude_credentials=[
            PublicKeyCredentialDescriptor(id=_key_bytes(k.credential_id))
            for k in _keys(db, account.id)
        ],
    )
    return _with_cred_props(options_to_json(options)), challenge


def _with_cred_props(options_json: str) -> str:
    """Ask the browser to say whether the new credential is discoverable (the credProps
    extension, WebAuthn L2 §10.4), so the account page can tell passkeys from keys."""
    options = json.loads(options_json)
    options["extensions"] = {**options.get("extensions", {}), "credProps": True}
    return json.dumps(options)


def reported_discoverable(credential: dict) -> bool | None:
    """``credProps.rk`` from the browser's registration response; None when not said."""
    results = credential.get("clientExtensionResults")
    props = results.get("credProps") if isinstance(results, dict) else None
    rk = props.get("rk") if isinstance(props, dict) else None
    return rk if isinstance(rk, bool) else None


def register(
    db: Session,
    account: Account,
    issuer: str,
    credential: dict,
    challenge: bytes,
    label: str,
    *,
    require_user_verification: bool = False,
    passkey: bool = False,
) -> MfaCredential:
    """Verify and store a new key. ``passkey``: registered with a resident key required
    (``passkey_registration_options``), which an authenticator must honour or fail
    (WebAuthn L2 §5.4.6), so it is discoverable whatever the browser reports."""
    rp_id, origin = rp_of(issuer)
    try:
        verified = verify_registration_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            require_user_verification=require_user_verification,
        )
    except (InvalidRegistrationResponse, ValueError, KeyError, TypeError) as exc:
        raise WebAuthnError(f"registration failed: {exc}") from exc
    cred_id = bytes_to_base64url(verified.credential_id)
    if db.scalar(select(MfaCredential.id).where(MfaCredential.credential_id == cred_id)):
        raise WebAuthnError("this security key is already registered")
    row = MfaCredential(
        account_id=account.id,
        kind="webauthn",
        label=(label or "Security key")[:128],
        credential_id=cred_id,
        public_key=bytes_to_base64url(verified.credential_public_key),
        sign_count=verified.sign_count,
        transports=list((credential.get("response") or {}).get("transports") or []),
        discoverable=True if passkey else reported_discoverable(credential),
        confirmed_at=utcnow(),
    )
    db.add(row)
    db.flush()
    audit.record(
        db,
        "credentials.webauthn.registered",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        details={"credential": row.id.hex, "label": row.label, "passkey": bool(row.discoverable)},
    )
    return row


def keys_of(db: Session, account_id: uuid.UUID) -> list[MfaCredential]:
    return _keys(db, account_id)


def authentication_options(db: Session, account: Account, issuer: str) -> tuple[str, bytes]:
    return authentication_options_for_ids(
        issuer, [_key_bytes(k.credential_id) for k in _keys(db, account.id)]
    )


def authentication_options_for_ids(issuer: str, ids: list[bytes]) -> tuple[str, bytes]:
    rp_id, _ = rp_of(issuer)
    challenge = secrets.token_bytes(32)
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        allow_credentials=[PublicKeyCredentialDescriptor(id=i) for i in ids],
        user_verification=UserVerificationRequirement.PREFERRED,
    )
    return options_to_json(options), challenge


def authenticate(
    db: Session,
    account: Account,
    issuer: str,
    credential: dict,
    challenge: bytes,
    *,
    require_uv: bool = False,
) -> MfaCredential:
    rp_id, origin = rp_of(issuer)
    raw_id = credential.get("rawId") or credential.get("id")
    row = next((k for k in _keys(db, account.id) if k.credential_id == raw_id), None)
    if row is None:
        raise WebAuthnError("unknown security key for this account")
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge,
            expected_rp_id=rp_id,
            expected_origin=origin,
            credential_public_key=_key_bytes(row.public_key),
            credential_current_sign_count=row.sign_count,
            require_user_verification=require_uv,
        )
    except (InvalidAuthenticationResponse, ValueError, KeyError, TypeError) as exc:
        raise WebAuthnError(f"authentication failed: {exc}") from exc
    row.sign_count = verified.new_sign_count
    row.last_used_at = utcnow()
    return row


def passkey_authentication_options(issuer: str) -> tuple[str, bytes]:
    """A passkey sign-in: no account named, no credential listed (the authenticator
    offers its discoverable credentials for this RP ID), user verification required."""
    rp_id, _ = rp_of(issuer)
    challenge = secrets.token_bytes(32)
    options = generate_authentication_options(
        rp_id=rp_id,
        challenge=challenge,
        allow_credentials=[],
        user_verification=UserVerificationRequirement.REQUIRED,
    )
    return options_to_json(options), challenge


def passkey_account(db: Session, credential: dict) -> Account | None:
    """The account a passkey assertion names in its user handle (our ``user.id``, the
    account's UUID bytes, WebAuthn L2 §5.4.3), before anything is verified."""
    handle = (credential.get("response") or {}).get("userHandle")
    if not isinstance(handle, str) or len(handle) > 128:
        return None
    try:
        raw = base64url_to_bytes(handle)
        return db.get(Account, uuid.UUID(bytes=raw)) if len(raw) == 16 else None
    except (ValueError, TypeError):
        return None


def authenticate_passkey(
    db: Session, account: Account, issuer: str, credential: dict, challenge: bytes
) -> MfaCredential:
    """Verify a passkey assertion for ``account`` with user verification required (the
    UV flag must be set: possession plus PIN or biometrics, two factors in one step)."""
    row = authenticate(db, account, issuer, credential, challenge, require_uv=True)
    # It answered a request that listed no credential: it is discoverable (a passkey),
    # whatever was known when it was registered.
    row.discoverable = True
    return row


def is_passkey(row: MfaCredential) -> bool:
    return row.kind == "webauthn" and bool(row.discoverable)


def dumps(options_json: str) -> dict:
    return json.loads(options_json)
