"""One-time link tokens for account activation and password reset by link.

The admin API shows the token once; the sign-in pages (built separately) call
``consume`` when the person follows the link and sets a password. Only the SHA-256 of
the token is stored (the token has 256 bits, so a fast hash is enough). Lifetimes are
counted with the ``now`` the caller read from the Clock (DESIGN rule 4).
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlencode

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from idp.accounts.models import TOKEN_PURPOSES, Account, AccountToken
from idp.audit import service as audit
from idp.crypto import random_token, sha256_hex
from idp.errors import InvalidInput, NotFound

ACTIVATION_TTL = dt.timedelta(days=14)
RESET_TTL = dt.timedelta(days=2)


def url(issuer: str, token: str) -> str:
    """The link a person follows: GovID's page behind activation and reset links."""
    return f"{issuer}/password/set?" + urlencode({"token": token})


def issue(
    session: Session,
    account: Account,
    purpose: str,
    *,
    actor: str | None,
    now: dt.datetime,
    audited: bool = True,
) -> tuple[str, dt.datetime]:
    """A new token; earlier unused tokens of the same purpose stop working."""
    if purpose not in TOKEN_PURPOSES:
        raise ValueError(f"unknown purpose {purpose!r}")
    session.execute(
        update(AccountToken)
        .where(
            AccountToken.account_id == account.id,
            AccountToken.purpose == purpose,
            AccountToken.used_at.is_(None),
        )
        .values(used_at=now)
    )
    token = random_token(32)
    expires = now + (ACTIVATION_TTL if purpose == "activate" else RESET_TTL)
    session.add(
        AccountToken(
            token_hash=sha256_hex(token),
            account_id=account.id,
            purpose=purpose,
            created_at=now,
            expires_at=expires,
        )
    )
    session.flush()
    if audited:
        audit.record(
            session,
            "admin.account.link_issued",
            actor=actor,
            agency_id=account.agency_id,
            subject=str(account.id),
            details={"purpose": purpose, "expires_at": expires.isoformat()},
        )
    return token, expires


def link_rows(
    account_ids_tokens: list[tuple[object, str]], purpose: str, now: dt.datetime
) -> list[dict]:
    """Plain rows for bulk inserts (imports): (account id, token) pairs."""
    expires = now + (ACTIVATION_TTL if purpose == "activate" else RESET_TTL)
    return [
        {
            "token_hash": sha256_hex(tok),
            "account_id": aid,
            "purpose": purpose,
            "created_at": now,
            "expires_at": expires,
            "used_at": None,
        }
        for aid, tok in account_ids_tokens
    ]


def peek(
    session: Session,
    token: str,
    now: dt.datetime,
    purposes: tuple[str, ...] = ("activate", "reset"),
) -> Account | None:
    """The account a valid, unused, unexpired link of ``purposes`` belongs to, without
    using it up: the page behind the link refuses a dead link when it is opened, before
    the person types a password. ``consume`` still decides."""
    if not token or len(token) > 128:
        return None
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == sha256_hex(token), AccountToken.purpose.in_(purposes)
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    account = session.get(Account, row.account_id)
    return account if account is not None and account.status == "active" else None


def consume(session: Session, token: str, purpose: str, now: dt.datetime) -> Account:
    """The account a valid, unused, unexpired token belongs to; marks it used.

    The caller then sets the password (``idp.accounts`` / credentials) in the same
    transaction."""
    if not token or len(token) > 128:
        raise InvalidInput("malformed link", field="token")
    row = session.scalar(
        select(AccountToken).where(
            AccountToken.token_hash == sha256_hex(token), AccountToken.purpose == purpose
        )
    )
    if row is None or row.used_at is not None or row.expires_at <= now:
        raise NotFound("this link is not valid (used, expired or unknown)", field="token")
    account = session.get(Account, row.account_id)
    if account is None or account.status != "active":
        raise NotFound("this link is not valid (used, expired or unknown)", field="token")
    row.used_at = now
    session.flush()
    return account
