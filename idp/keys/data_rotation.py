"""``idp keys rotate-data-key``: rewrite every value encrypted at rest under the current
data key.

The operator first makes the new key current on every instance (IDP_DATA_KEY = new,
IDP_DATA_KEY_PREVIOUS = old: both decrypt, only the new one encrypts; idp/crypto.py),
then runs this once. Each column is walked in primary-key order, ``batch_size`` rows per
short transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL: a row a request holds is
left for a re-run); a row already under the current key is never touched, so a re-run
after an interruption continues where it stopped and a run on a finished database does
nothing. The citizen-ID blind index is recomputed with the citizen ID (it is keyed by the
data key too). Before anything is rewritten, a value naming a key that is not configured
stops the run with the column and key id; a v1 value (from before key ids) that no key
opens stops it at that batch (earlier batches stay done; nothing is half-written).
One ``keys.data_key.rotated`` audit event records the counts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import bindparam, case, func, select, update

from idp.crypto import DataCipher, DataKeyError


class RotationError(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Column:
    name: str  # table.column, as reported
    model: Any
    pk: Any
    col: Any
    purpose: str
    blind_index: Any = None  # a column holding the plaintext's blind index, recomputed


def columns() -> list[Column]:
    """Every column GovID encrypts with the data key (a new ``*_enc`` column must be
    added here: tests/keys/test_data_key_rotation.py checks the models)."""
    from idp.accounts.importing.jobs import PURPOSE as IMPORT_JOB_PURPOSE
    from idp.accounts.importing.models import ImportJob
    from idp.accounts.models import Account
    from idp.accounts.service import CITIZEN_ID_PURPOSE
    from idp.credentials.mfa import TOTP_PURPOSE
    from idp.credentials.models import MfaCredential
    from idp.directory.agency_federation import PASSWORD_PURPOSE
    from idp.directory.models import AgencyFederation
    from idp.idempotency.models import IdempotencyRecord
    from idp.idempotency.service import PURPOSE as IDEMPOTENCY_PURPOSE
    from idp.keys.models import SigningKey
    from idp.keys.service import _PURPOSE as SIGNING_PURPOSE

    return [
        Column(
            "account.citizen_id_enc",
            Account,
            Account.id,
            Account.citizen_id_enc,
            CITIZEN_ID_PURPOSE,
            Account.citizen_id_hmac,
        ),
        Column(
            "mfa_credential.secret_enc",
            MfaCredential,
            MfaCredential.id,
            MfaCredential.secret_enc,
            TOTP_PURPOSE,
        ),
        Column(
            "signing_key.private_key_enc",
            SigningKey,
            SigningKey.kid,
            SigningKey.private_key_enc,
            SIGNING_PURPOSE,
        ),
        Column(
            "agency_federation.service_password_enc",
            AgencyFederation,
            AgencyFederation.agency_id,
            AgencyFederation.service_password_enc,
            PASSWORD_PURPOSE,
        ),
        Column(
            "idempotency_key.body_enc",
            IdempotencyRecord,
            IdempotencyRecord.id,
            IdempotencyRecord.body_enc,
            IDEMPOTENCY_PURPOSE,
        ),
        Column(
            "import_job.result_enc",
            ImportJob,
            ImportJob.id,
            ImportJob.result_enc,
            IMPORT_JOB_PURPOSE,
        ),
    ]


@dataclass
class Result:
    key_id: str
    rewritten: dict[str, int] = field(default_factory=dict)
    # Rows still under another key after the run (held by a request at the time): a
    # re-run rewrites them.
    left: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        return sum(self.rewritten.values())

    def as_dict(self) -> dict[str, Any]:
        return {
            "key_id": self.key_id,
            "rewritten": self.rewritten,
            "total": self.total,
            "left": {k: v for k, v in self.left.items() if v},
            "seconds": round(self.seconds, 3),
        }


def _not_current(c: Column, cipher: DataCipher):
    return c.col.is_not(None) & ~c.col.startswith(f"v2:{cipher.key_id}:", autoescape=True)


def key_ids_in_use(db, c: Column) -> dict[str, int]:
    """Rows per key id in a column (``v1`` for values from before key ids)."""
    label = case((c.col.startswith("v1:"), "v1"), else_=func.substr(c.col, 4, 8))
    rows = db.execute(select(label, func.count()).where(c.col.is_not(None)).group_by(label))
    return {k: n for k, n in rows}


def status(services) -> dict[str, dict[str, int]]:
    """Per column, rows per key id: what a rotation still has to rewrite."""
    with services.sessions() as db:
        return {c.name: key_ids_in_use(db, c) for c in columns()}


def _preflight(services, cipher: DataCipher) -> None:
    known = set(cipher.key_ids) | {"v1"}
    for name, counts in status(services).items():
        unknown = sorted(k for k in counts if k not in known)
        if unknown:
            raise RotationError(
                f"{name}: {sum(counts[k] for k in unknown)} value(s) encrypted with data key "
                f"{', '.join(unknown)}, which is neither IDP_DATA_KEY ({cipher.key_id}) nor "
                "in IDP_DATA_KEY_PREVIOUS; add that key to IDP_DATA_KEY_PREVIOUS and run "
                "again (nothing was rewritten)"
            )


def _batch(db, c: Column, cipher: DataCipher, after, size: int, pg: bool) -> tuple[int, Any]:
    q = select(c.pk, c.col).where(_not_current(c, cipher)).order_by(c.pk).limit(size)
    if after is not None:
        q = q.where(c.pk > after)
    if pg:
        q = q.with_for_update(skip_locked=True)
    rows = db.execute(q).all()
    params = []
    for pk, value in rows:
        try:
            plain = cipher.decrypt(value, c.purpose)
        except DataKeyError as exc:
            raise RotationError(
                f"{c.name} row {pk}: {exc}; nothing in this batch was rewritten, earlier "
                "batches are done (run again once the key is configured)"
            ) from None
        p = {"_pk": pk, "_v": cipher.encrypt(plain, c.purpose)}
        if c.blind_index is not None:
            p["_bi"] = cipher.blind_index(plain.decode(), c.purpose)
        params.append(p)
    if params:
        # One executemany per batch (psycopg pipelines it), on the table: a re-encryption
        # is not a change of the row's content (no version bump, no updated_at).
        table = c.model.__table__
        values: dict[str, Any] = {c.col.key: bindparam("_v")}
        if c.blind_index is not None:
            values[c.blind_index.key] = bindparam("_bi")
        for col in table.columns:  # keep updated_at (an onupdate default) as it was
            if col.onupdate is not None and col.key not in values:
                values[col.key] = col
        stmt = update(table).where(table.c[c.pk.key] == bindparam("_pk")).values(values)
        db.connection().execute(stmt, params)
    return len(rows), (rows[-1][0] if rows else after)


def rotate(
    services,
    *,
    batch_size: int = 500,
    actor: str = "cli",
    progress: Callable[[str, int], None] | None = None,
) -> Result:
    cipher: DataCipher = services.cipher
    started = time.monotonic()
    pg = services.engine.dialect.name == "postgresql"
    _preflight(services, cipher)
    result = Result(key_id=cipher.key_id)
    for c in columns():
        done, after = 0, None
        while True:
            with services.sessions.begin() as db:
                n, after = _batch(db, c, cipher, after, batch_size, pg)
            done += n
            if n and progress:
                progress(c.name, done)
            if n < batch_size:
                break
        result.rewritten[c.name] = done
        with services.sessions() as db:
            result.left[c.name] = db.scalar(
                select(func.count()).select_from(c.model).where(_not_current(c, cipher))
            )
    result.seconds = time.monotonic() - started

    from idp.audit import service as audit

    with services.sessions.begin() as db:
        audit.record(
            db,
            "keys.data_key.rotated",
            actor=actor,
            details={
                "key_id": result.key_id,
                "previous_key_ids": list(cipher.key_ids[1:]),
                "rewritten": [[k, v] for k, v in result.rewritten.items()],
                "total": result.total,
                "left": [[k, v] for k, v in result.left.items() if v],
                "seconds": round(result.seconds, 3),
            },
        )
    return result
