"""``Idempotency-Key`` on POST: the same key and body give the same result; the same key
with another body is refused (IETF draft-ietf-httpapi-idempotency-key-header §2).

Records are per caller, kept a day (counted from the Clock's ``now`` the caller passes,
DESIGN rule 4; ``idp maintenance run`` removes them later), and hold the response body
encrypted (it may carry a secret shown once). A second request racing the first with
the same key fails on the unique constraint and rolls back, so the operation never
happens twice.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from idp.crypto import DataCipher
from idp.errors import IdempotencyKeyReused, InvalidInput
from idp.idempotency.models import IdempotencyRecord

PURPOSE = "admin.idempotency"
TTL = dt.timedelta(hours=24)
MAX_KEY = 255


@dataclass(frozen=True)
class Stored:
    status_code: int
    headers: dict[str, str]
    body: Any


def fingerprint(method: str, path: str, body: Any) -> str:
    canonical = json.dumps(
        [method.upper(), path, body], sort_keys=True, separators=(",", ":"), default=str
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def check_key(key: str) -> str:
    if not key or len(key) > MAX_KEY or not key.isprintable():
        raise InvalidInput(
            f"Idempotency-Key must be 1-{MAX_KEY} printable characters", field="Idempotency-Key"
        )
    return key


def lookup(
    session: Session, cipher: DataCipher, caller: str, key: str, fp: str, now: dt.datetime
) -> Stored | None:
    row = session.scalar(
        select(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at > now,
        )
    )
    if row is None:
        return None
    if row.fingerprint != fp:
        raise IdempotencyKeyReused(
            "this Idempotency-Key was already used with a different request",
            field="Idempotency-Key",
        )
    body = json.loads(cipher.decrypt(row.body_enc, PURPOSE))
    return Stored(row.status_code, dict(row.headers or {}), body)


def store(
    session: Session,
    cipher: DataCipher,
    caller: str,
    key: str,
    fp: str,
    status_code: int,
    headers: dict[str, str],
    body: Any,
    now: dt.datetime,
) -> None:
    # An expired record of the same key gives way to the new one.
    session.execute(
        delete(IdempotencyRecord).where(
            IdempotencyRecord.caller == caller,
            IdempotencyRecord.key == key,
            IdempotencyRecord.expires_at <= now,
        )
    )
    raw = json.dumps(body, default=str, ensure_ascii=False).encode()
    session.add(
        IdempotencyRecord(
            caller=caller,
            key=key,
            fingerprint=fp,
            status_code=status_code,
            headers=headers,
            body_enc=cipher.encrypt(raw, PURPOSE),
            created_at=now,
            expires_at=now + TTL,
        )
    )
    session.flush()
