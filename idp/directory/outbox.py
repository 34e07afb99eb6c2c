"""Write directory changes to the outbox in the caller's transaction (DESIGN §8)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from sqlalchemy.orm import Session

from idp.directory.models import OUTBOX_OPS, OutboxEntry

if TYPE_CHECKING:
    from idp.accounts.models import Account


def account_payload(account: Account) -> dict:
    return {
        "email": account.email,
        "given_name_en": account.given_name_en,
        "family_name_en": account.family_name_en,
        "given_name_th": account.given_name_th,
        "family_name_th": account.family_name_th,
        "mailbox_quota_mb": account.mailbox_quota_mb,
        "attachment_limit_mb": account.attachment_limit_mb,
        "aliases": list(account.aliases or []),
        "status": account.status,
    }


def enqueue(session: Session, account: Account, op: str) -> OutboxEntry:
    if op not in OUTBOX_OPS:
        raise ValueError(f"unknown outbox op {op!r}")
    entry = OutboxEntry(account_id=account.id, op=op, payload=account_payload(account))
    session.add(entry)
    return entry
