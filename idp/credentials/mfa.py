"""Second factors: TOTP (RFC 6238) and single-use recovery codes.

TOTP secrets are encrypted with the data key; each time step is accepted once (the last
used step is remembered, RFC 6238 §5.2) within a ±1 step window. Recovery codes carry
80 bits of randomness, so a SHA-256 digest is a sufficient hash; each works once.
"""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
import unicodedata
import uuid

import pyotp
import segno
from sqlalchemy import delete, or_, select, update
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.audit import service as audit
from idp.credentials.models import MfaCredential
from idp.crypto import DataCipher, sha256_hex
from idp.db import rowcount, utcnow

TOTP_PURPOSE = "mfa.totp.secret"
TOTP_PERIOD = 30
TOTP_WINDOW = 1
RECOVERY_COUNT = 10
_B32 = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no I/O/0/1: easy to read aloud


def second_factors(db: Session, account_id: uuid.UUID) -> list[MfaCredential]:
    """Confirmed TOTP apps and security keys (recovery codes are a fallback, not a factor)."""
    return list(
        db.scalars(
            select(MfaCredential)
            .where(
                MfaCredential.account_id == account_id,
                MfaCredential.kind.in_(("totp", "webauthn")),
                MfaCredential.confirmed_at.is_not(None),
            )
            .order_by(MfaCredential.created_at)
        )
    )


def has_second_factor(db: Session, account_id: uuid.UUID) -> bool:
    return bool(second_factors(db, account_id))


# ----------------------------------------------------------------------------- TOTP


def pending_totp(db: Session, account_id: uuid.UUID) -> MfaCredential | None:
    """The authenticator app being set up (unconfirmed), if any: a wrong code at
    enrolment shows this one again, since the person's app already holds its secret."""
    return db.scalars(
        select(MfaCredential)
        .where(
            MfaCredential.account_id == account_id,
            MfaCredential.kind == "totp",
            MfaCredential.confirmed_at.is_(None),
        )
        .order_by(MfaCredential.created_at.desc())
        .limit(1)
    ).first()


def _totp_secret(cipher: DataCipher, cred: MfaCredential) -> str:
    if cred.secret_enc is None:  # only recovery codes have none
        raise ValueError(f"TOTP credential {cred.id} has no secret")
    return cipher.decrypt(cred.secret_enc, TOTP_PURPOSE).decode()


def totp_setup(
    cipher: DataCipher, account: Account, cred: MfaCredential, *, issuer_name: str
) -> tuple[str, str, str]:
    """(secret, otpauth URI, SVG QR code) of an unconfirmed TOTP credential."""
    secret = _totp_secret(cipher, cred)
    uri = pyotp.TOTP(secret, interval=TOTP_PERIOD).provisioning_uri(
        name=account.email, issuer_name=issuer_name
    )
    svg = segno.make(uri, error="m").svg_inline(scale=5, title="QR")
    return secret, uri, svg


def start_totp(
    db: Session, cipher: DataCipher, account: Account, *, issuer_name: str, label: str = ""
) -> tuple[MfaCredential, str, str]:
    """A new, unconfirmed TOTP credential (any earlier unconfirmed one is dropped: the
    person asked for a new QR code); returns it, its otpauth URI and an SVG QR code."""
    db.execute(
        delete(MfaCredential).where(
            MfaCredential.account_id == account.id,
            MfaCredential.kind == "totp",
            MfaCredential.confirmed_at.is_(None),
        )
    )
    secret = pyotp.random_base32(32)  # 160 bits (RFC 4226 §4 recommends ≥ 160)
    cred = MfaCredential(
        account_id=account.id,
        kind="totp",
        label=label or "Authenticator",
        secret_enc=cipher.encrypt(secret.encode(), TOTP_PURPOSE),
    )
    db.add(cred)
    db.flush()
    _secret, uri, svg = totp_setup(cipher, account, cred, issuer_name=issuer_name)
    return cred, uri, svg


def ascii_digits(code: str) -> str | None:
    """A one-time code as ASCII digits: whitespace removed, and digits of any script
    (Thai ๐–๙ from a Thai keyboard, full-width, …) read as the digits they are; None when
    anything else is in it (superscripts and other "digit-like" characters included)."""
    code = "".join(code.split())
    out = []
    for ch in code:
        if "0" <= ch <= "9":
            out.append(ch)
            continue
        value = unicodedata.decimal(ch, None)
        if value is None:
            return None
        out.append(str(value))
    return "".join(out)


def _match_step(secret: str, code: str, now: dt.datetime) -> int | None:
    code = ascii_digits(code) or ""
    if len(code) != 6:
        return None
    totp = pyotp.TOTP(secret, interval=TOTP_PERIOD)
    current = int(now.timestamp()) // TOTP_PERIOD
    found = None
    for step in range(current - TOTP_WINDOW, current + TOTP_WINDOW + 1):
        # Compare every candidate in constant time; do not stop early.
        if hmac.compare_digest(totp.at(step * TOTP_PERIOD), code):
            found = step
    return found


def _accept_step(db: Session, cred: MfaCredential, step: int, now: dt.datetime) -> bool:
    """Atomically move last_used_step forward: a code (or an older one) is used once."""
    result = db.execute(
        update(MfaCredential)
        .where(
            MfaCredential.id == cred.id,
            or_(MfaCredential.last_used_step.is_(None), MfaCredential.last_used_step < step),
        )
        .values(last_used_step=step, last_used_at=now)
    )
    return rowcount(result) == 1


def confirm_totp(
    db: Session,
    cipher: DataCipher,
    account: Account,
    cred_id: uuid.UUID,
    code: str,
    now: dt.datetime | None = None,
) -> bool:
    now = now or utcnow()
    cred = db.get(MfaCredential, cred_id)
    if cred is None or cred.account_id != account.id or cred.kind != "totp":
        return False
    step = _match_step(_totp_secret(cipher, cred), code, now)
    if step is None or not _accept_step(db, cred, step, now):
        return False
    # One authenticator app at a time: confirming a new one replaces the old.
    db.execute(
        delete(MfaCredential).where(
            MfaCredential.account_id == account.id,
            MfaCredential.kind == "totp",
            MfaCredential.id != cred.id,
        )
    )
    db.refresh(cred)
    cred.confirmed_at = now
    audit.record(
        db,
        "credentials.totp.enrolled",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        details={"credential": cred.id.hex},
    )
    return True


def verify_totp(
    db: Session, cipher: DataCipher, account: Account, code: str, now: dt.datetime | None = None
) -> bool:
    now = now or utcnow()
    creds = db.scalars(
        select(MfaCredential).where(
            MfaCredential.account_id == account.id,
            MfaCredential.kind == "totp",
            MfaCredential.confirmed_at.is_not(None),
        )
    ).all()
    for cred in creds:
        step = _match_step(_totp_secret(cipher, cred), code, now)
        if step is not None and _accept_step(db, cred, step, now):
            return True
    return False


# --------------------------------------------------------------------- recovery codes


def _normalise_code(code: str) -> str:
    return "".join(ch for ch in code.upper() if ch.isalnum())


def regenerate_recovery_codes(db: Session, account: Account) -> list[str]:
    """Ten new single-use codes (shown once); the old ones stop working."""
    db.execute(
        delete(MfaCredential).where(
            MfaCredential.account_id == account.id, MfaCredential.kind == "recovery"
        )
    )
    codes = []
    for _ in range(RECOVERY_COUNT):
        raw = "".join(secrets.choice(_B32) for _ in range(16))  # 80 bits
        codes.append("-".join(raw[i : i + 4] for i in range(0, 16, 4)))
        db.add(
            MfaCredential(
                account_id=account.id,
                kind="recovery",
                label="recovery",
                code_hash=sha256_hex(raw),
                confirmed_at=utcnow(),
            )
        )
    db.flush()
    audit.record(
        db,
        "credentials.recovery.regenerated",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        details={"count": RECOVERY_COUNT},
    )
    return codes


def use_recovery_code(db: Session, account: Account, code: str) -> bool:
    digest = sha256_hex(_normalise_code(code))
    result = db.execute(
        update(MfaCredential)
        .where(
            MfaCredential.account_id == account.id,
            MfaCredential.kind == "recovery",
            MfaCredential.code_hash == digest,
            MfaCredential.used_at.is_(None),
        )
        .values(used_at=utcnow(), last_used_at=utcnow())
    )
    if rowcount(result) != 1:
        return False
    remaining = len(
        db.scalars(
            select(MfaCredential.id).where(
                MfaCredential.account_id == account.id,
                MfaCredential.kind == "recovery",
                MfaCredential.used_at.is_(None),
            )
        ).all()
    )
    audit.record(
        db,
        "credentials.recovery.used",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        details={"remaining": remaining},
    )
    return True


def recovery_codes_left(db: Session, account_id: uuid.UUID) -> int:
    return len(
        db.scalars(
            select(MfaCredential.id).where(
                MfaCredential.account_id == account_id,
                MfaCredential.kind == "recovery",
                MfaCredential.used_at.is_(None),
            )
        ).all()
    )


def lock_factors(db: Session, account_id: uuid.UUID) -> None:
    """Serialise changes to one account's second factors until the transaction ends:
    a row lock on PostgreSQL; on SQLite the first write takes the database's write lock
    (a deferred transaction would read first and race)."""
    if db.get_bind().dialect.name == "postgresql":
        db.execute(select(Account.id).where(Account.id == account_id).with_for_update())
    else:
        db.execute(
            update(MfaCredential)
            .where(MfaCredential.account_id == account_id, MfaCredential.id.is_(None))
            .values(kind=MfaCredential.kind)
        )


def remove_factor(
    db: Session, account: Account, cred_id: uuid.UUID, *, last_allowed: bool = True
) -> str:
    """Remove one authenticator: ``removed``, ``not_found``, or ``last_factor`` when it is
    the account's last and ``last_allowed`` is false (the person has not just proved a
    second factor). Counted under ``lock_factors``: two removals at once, each allowed
    while the other factor exists, can no longer leave none."""
    lock_factors(db, account.id)
    cred = db.get(MfaCredential, cred_id, populate_existing=True)
    if cred is None or cred.account_id != account.id or cred.kind == "recovery":
        return "not_found"
    if not last_allowed and len(second_factors(db, account.id)) <= 1:
        return "last_factor"
    db.delete(cred)
    db.flush()
    if not has_second_factor(db, account.id):
        # Without a second factor the recovery codes have nothing to recover.
        db.execute(
            delete(MfaCredential).where(
                MfaCredential.account_id == account.id, MfaCredential.kind == "recovery"
            )
        )
    audit.record(
        db,
        f"credentials.{cred.kind}.removed",
        actor=str(account.id),
        subject=str(account.id),
        agency_id=account.agency_id,
        details={"credential": cred.id.hex},
    )
    return "removed"


def reset_all(db: Session, account: Account, *, actor: str) -> int:
    """Remove every second factor and recovery code (administrator's MFA reset)."""
    result = db.execute(delete(MfaCredential).where(MfaCredential.account_id == account.id))
    return rowcount(result)
