"""Bulk writes for imports: PostgreSQL COPY, or executemany elsewhere (same rows)."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from idp.accounts.addresses import wanted_rows
from idp.accounts.links import link_rows
from idp.accounts.models import Account, AccountToken, MailAddress
from idp.accounts.service import CITIZEN_ID_PURPOSE
from idp.crypto import DataCipher
from idp.db import table, utcnow
from idp.directory.models import OutboxEntry

ACCOUNT_COLUMNS = (
    "id", "agency_id", "email", "given_name_th", "family_name_th", "given_name_en",
    "family_name_en", "locale", "citizen_id_enc", "citizen_id_hmac", "citizen_id_last4",
    "status", "password_hash", "password_changed_at", "failed_logins", "locked_until",
    "mailbox_quota_mb", "attachment_limit_mb", "aliases", "version", "created_at",
    "updated_at", "deleted_at",
)  # fmt: skip
OUTBOX_COLUMNS = ("account_id", "op", "payload", "attempts", "next_try_at", "created_at")
MAIL_COLUMNS = ("address", "account_id", "kind")
TOKEN_COLUMNS = ("token_hash", "account_id", "purpose", "created_at", "expires_at", "used_at")


def _account_row(r: dict[str, Any], cipher: DataCipher, now) -> dict[str, Any]:
    agency = r["agency_obj"]
    value = r.get("citizen_value")
    return {
        "id": r["id"],
        "agency_id": agency.id,
        "email": r["email"],
        "given_name_th": r["given_name_th"],
        "family_name_th": r["family_name_th"],
        "given_name_en": r["given_name_en"],
        "family_name_en": r["family_name_en"],
        "locale": r["locale"],
        "citizen_id_enc": cipher.encrypt(value.encode(), CITIZEN_ID_PURPOSE) if value else None,
        "citizen_id_hmac": r.get("citizen_hmac"),
        "citizen_id_last4": value[-4:] if value else None,
        "status": "active",
        # The legacy hash as it is; verified and re-hashed to argon2id at the next login.
        "password_hash": r["password_hash"] or None,
        "password_changed_at": None,
        "failed_logins": 0,
        "locked_until": None,
        "mailbox_quota_mb": r["mailbox_quota_mb"] or agency.mailbox_quota_mb,
        "attachment_limit_mb": r["attachment_limit_mb"] or agency.attachment_limit_mb,
        "aliases": r["aliases"],
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "deleted_at": None,
    }


def _outbox_row(a: dict[str, Any], now) -> dict[str, Any]:
    # Same snapshot as idp.directory.outbox.account_payload.
    payload = {
        "email": a["email"],
        "given_name_en": a["given_name_en"],
        "family_name_en": a["family_name_en"],
        "given_name_th": a["given_name_th"],
        "family_name_th": a["family_name_th"],
        "mailbox_quota_mb": a["mailbox_quota_mb"],
        "attachment_limit_mb": a["attachment_limit_mb"],
        "aliases": list(a["aliases"]),
        "status": "active",
    }
    return {
        "account_id": a["id"],
        "op": "add",
        "payload": payload,
        "attempts": 0,
        "next_try_at": now,
        "created_at": now,
    }


def write_chunk(
    db: Session,
    chunk: list[dict[str, Any]],
    tokens: list[tuple[uuid.UUID, str, str]],
    cipher: DataCipher,
) -> None:
    now = utcnow()
    accounts = [_account_row(r, cipher, now) for r in chunk]
    outbox = [_outbox_row(a, now) for a in accounts]
    mail = [m for a in accounts for m in wanted_rows(a["id"], a["email"], a["aliases"])]
    token_rows = link_rows([(aid, tok) for aid, _, tok in tokens], "activate", now)
    if db.get_bind().dialect.name == "postgresql":
        _copy(db, "account", ACCOUNT_COLUMNS, accounts, json_cols={"aliases"})
        _copy(db, "mail_address", MAIL_COLUMNS, mail, json_cols=set())
        _copy(db, "outbox", OUTBOX_COLUMNS, outbox, json_cols={"payload"})
        if token_rows:
            _copy(db, "account_token", TOKEN_COLUMNS, token_rows, json_cols=set())
    else:
        db.execute(insert(table(Account)), accounts)
        db.execute(insert(table(MailAddress)), mail)
        db.execute(insert(table(OutboxEntry)), outbox)
        if token_rows:
            db.execute(insert(table(AccountToken)), token_rows)


def _copy(
    db: Session, table: str, columns: tuple[str, ...], rows: list[dict], json_cols: set[str]
) -> None:
    """COPY ... FROM STDIN inside the session's transaction (psycopg 3)."""
    from psycopg.types.json import Jsonb

    raw = db.connection().connection.driver_connection
    if raw is None:  # a live session's connection always has one
        raise RuntimeError("no driver connection for COPY")
    cols = ", ".join(columns)
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:  # noqa: S608
        for row in rows:
            copy.write_row([Jsonb(row[c]) if c in json_cols else row[c] for c in columns])
