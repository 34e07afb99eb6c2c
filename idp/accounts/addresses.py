"""Mail addresses owned by accounts: one ``mail_address`` row per primary email and per
alias, unique across every account (decision 0013).

Aliases become ``mail`` values in the directory, so an address given to two accounts
would let one receive the other's mail. The primary key of ``mail_address`` enforces
uniqueness in the database; the functions here check first, to answer with a specific
error, and keep the rows in step with ``account.email`` / ``account.aliases`` in the
caller's transaction. A refusal never says which account or agency holds the address.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from idp.accounts.models import Account, MailAddress
from idp.errors import DuplicateEmail

BATCH = 1000


def in_use_message(address: str) -> str:
    # Names only what the caller sent: not the holder, its agency, nor the kind held.
    return f"the address {address} already exists (as the email or an alias of an account)"


def taken(
    session: Session, addresses: Iterable[str], *, besides: uuid.UUID | None = None
) -> set[str]:
    """The given (normalised) addresses held by an account other than ``besides``.
    One query per 1,000 addresses."""
    values = sorted(set(addresses))
    found: set[str] = set()
    for i in range(0, len(values), BATCH):
        stmt = select(MailAddress.address).where(MailAddress.address.in_(values[i : i + BATCH]))
        if besides is not None:
            stmt = stmt.where(MailAddress.account_id != besides)
        found.update(session.scalars(stmt))
    return found


def check_free(
    session: Session,
    email: str | None,
    aliases: Iterable[str] = (),
    *,
    account_id: uuid.UUID | None = None,
) -> None:
    """Refuse (``DuplicateEmail``, field ``email`` or ``aliases``) an address another
    account holds as its email or an alias, soft-deleted accounts included."""
    aliases = list(aliases)
    wanted = ([email] if email else []) + aliases
    if not wanted:
        return
    held = taken(session, wanted, besides=account_id)
    if email and email in held:
        raise DuplicateEmail(in_use_message(email), field="email")
    for alias in aliases:
        if alias in held:
            raise DuplicateEmail(in_use_message(alias), field="aliases")


def holder(session: Session, address: str) -> uuid.UUID | None:
    """The account that receives mail at ``address`` (its email or an alias), if any."""
    return session.scalar(
        select(MailAddress.account_id).where(MailAddress.address == address.strip().lower())
    )


def wanted_rows(account_id: uuid.UUID, email: str, aliases: Iterable[str]) -> list[dict]:
    rows = {email: "primary"}
    for alias in aliases or ():
        rows.setdefault(alias, "alias")
    return [{"address": a, "account_id": account_id, "kind": k} for a, k in rows.items()]


def sync(session: Session, account: Account, *, new: bool = False) -> None:
    """Make the account's ``mail_address`` rows match its email and aliases (call after
    the account row is flushed). ``new``: the account has no rows yet."""
    want = {r["address"]: r for r in wanted_rows(account.id, account.email, account.aliases)}
    have: dict[str, str] = {}
    if not new:
        have = dict(
            session.execute(
                select(MailAddress.address, MailAddress.kind).where(
                    MailAddress.account_id == account.id
                )
            ).all()
        )
    gone = [a for a in have if a not in want]
    if gone:
        session.execute(
            delete(MailAddress)
            .where(MailAddress.account_id == account.id, MailAddress.address.in_(gone))
            .execution_options(synchronize_session=False)
        )
    for address, kind in have.items():
        if address in want and want[address]["kind"] != kind:
            session.execute(
                update(MailAddress)
                .where(MailAddress.address == address)
                .values(kind=want[address]["kind"])
                .execution_options(synchronize_session=False)
            )
    added = [r for a, r in want.items() if a not in have]
    if not added:
        return
    try:
        # A concurrent writer that took the address after the check: the primary key
        # refuses it; answered like the check would have.
        with session.begin_nested():
            session.execute(insert(MailAddress), added)
    except IntegrityError:
        held = taken(session, [r["address"] for r in added], besides=account.id)
        first = next((r for r in added if r["address"] in held), added[0])
        raise DuplicateEmail(
            in_use_message(first["address"]),
            field="email" if first["kind"] == "primary" else "aliases",
        ) from None
