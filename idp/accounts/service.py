"""Account operations: create, list, look up, change, suspend, resume, delete (role
grants: ``idp.accounts.roles``).

Domain service: plain functions over a ``Session``; no web framework here.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import addresses
from idp.accounts import citizen_id as cid
from idp.accounts.address_rules import (
    MayHandOut,
    allowed_domains,
    check_domain,
    normalise_email,
)
from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.credentials import policy
from idp.credentials.passwords import PasswordHasher
from idp.crypto import DataCipher
from idp.db import utcnow
from idp.directory import outbox
from idp.errors import Conflict, InvalidInput, NotFound

CITIZEN_ID_PURPOSE = "account.citizen_id"
MAX_PASSWORD_LENGTH = 1024
# Bounds of what an administrator may change (the admin API's schema states the same).
NAME_MAX = 255
QUOTA_MAX_MB = 10_000_000
ALIASES_MAX = 50


def _printable(value: str) -> bool:
    return not any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)


@dataclass(frozen=True)
class NewAccount:
    email: str
    agency_code: str
    given_name_th: str = ""
    family_name_th: str = ""
    given_name_en: str = ""
    family_name_en: str = ""
    locale: str = "th"
    citizen_id: str | None = None
    password: str | None = None
    mailbox_quota_mb: int | None = None
    attachment_limit_mb: int | None = None
    aliases: Sequence[str] = field(default_factory=tuple)


def create(
    session: Session,
    data: NewAccount,
    *,
    hasher: PasswordHasher,
    cipher: DataCipher,
    actor: str | None = None,
    min_password_length: int = 15,
    may_hand_out: MayHandOut = None,
) -> Account:
    email = normalise_email(data.email)
    agency = agencies.get_by_code(session, data.agency_code)
    domains = allowed_domains(session, agency, may_hand_out)
    check_domain(email, domains, "email")
    aliases = sorted({normalise_email(a) for a in data.aliases} - {email})
    for alias in aliases:
        check_domain(alias, domains, "aliases")
    if data.locale not in ("th", "en"):
        raise InvalidInput("locale must be 'th' or 'en'", field="locale")
    # Unique across every account's email and aliases (mail_address).
    addresses.check_free(session, email, aliases)

    account = Account(
        id=uuid.uuid4(),
        agency_id=agency.id,
        email=email,
        given_name_th=data.given_name_th.strip(),
        family_name_th=data.family_name_th.strip(),
        given_name_en=data.given_name_en.strip(),
        family_name_en=data.family_name_en.strip(),
        locale=data.locale,
        mailbox_quota_mb=data.mailbox_quota_mb or agency.mailbox_quota_mb,
        attachment_limit_mb=data.attachment_limit_mb or agency.attachment_limit_mb,
        aliases=aliases,
    )
    if data.citizen_id:
        value = cid.validate(data.citizen_id)
        index = cipher.blind_index(value, CITIZEN_ID_PURPOSE)
        # Under every configured data key: during a key rotation some rows still hold
        # the previous key's index.
        indexes = cipher.blind_indexes(value, CITIZEN_ID_PURPOSE)
        if session.scalar(select(Account.id).where(Account.citizen_id_hmac.in_(indexes))):
            raise Conflict("this citizen ID belongs to another account", field="citizen_id")
        account.citizen_id_enc = cipher.encrypt(value.encode(), CITIZEN_ID_PURPOSE)
        account.citizen_id_hmac = index
        account.citizen_id_last4 = value[-4:]
    if data.password is not None:
        # NIST SP 800-63B policy; a new account has no second factor yet.
        password = policy.check(
            data.password,
            email=email,
            has_second_factor=False,
            policy=policy.Policy(min_length_without_mfa=min_password_length),
        )
        account.password_hash = hasher.hash(password)
        account.password_changed_at = utcnow()
    session.add(account)
    session.flush()
    addresses.sync(session, account, new=True)
    outbox.enqueue(session, account, "add")
    audit.record(
        session,
        "admin.account.created",
        actor=actor,
        agency_id=agency.id,
        subject=str(account.id),
        details={"email": email, "agency": agency.code},
    )
    return account


def get_by_email(session: Session, email: str) -> Account | None:
    return session.scalar(select(Account).where(Account.email == email.strip().lower()))


def get(session: Session, account_id: uuid.UUID) -> Account:
    account = session.get(Account, account_id)
    if account is None:
        raise NotFound("no such account", field="account")
    return account


def list_accounts(
    session: Session,
    *,
    under: Agency | None = None,
    status: str | None = None,
    email_prefix: str | None = None,
    limit: int = 100,
) -> list[Account]:
    stmt = select(Account).order_by(Account.email).limit(limit)
    if under is not None:
        stmt = stmt.where(Account.agency_id.in_(agencies.subtree_ids_stmt(under)))
    if status:
        stmt = stmt.where(Account.status == status)
    if email_prefix:
        stmt = stmt.where(Account.email.startswith(email_prefix.lower(), autoescape=True))
    return list(session.scalars(stmt))


# ------------------------------------------------------------------ changes
# Each writes the account change, an outbox row for the mail directory and an audit
# event in the caller's transaction (DESIGN §2 rule 6, §8).


@dataclass(frozen=True)
class AccountChanges:
    """Fields to change; ``None`` leaves a field as it is. ``email`` renames."""

    email: str | None = None
    given_name_th: str | None = None
    family_name_th: str | None = None
    given_name_en: str | None = None
    family_name_en: str | None = None
    locale: str | None = None
    mailbox_quota_mb: int | None = None
    attachment_limit_mb: int | None = None
    aliases: Sequence[str] | None = None


def _check_version(account: Account, expected_version: int | None) -> None:
    if expected_version is not None and account.version != expected_version:
        raise Conflict("the account was changed by someone else; reload it", field="version")


def _changed_values(
    session: Session, account: Account, c: AccountChanges, may_hand_out: MayHandOut
) -> dict:
    new: dict = {}
    domains = allowed_domains(session, account.agency, may_hand_out)
    email = account.email
    if c.email is not None and normalise_email(c.email) != account.email:
        email = normalise_email(c.email)
        check_domain(email, domains, "email")
        new["email"] = email
    for name in ("given_name_th", "family_name_th", "given_name_en", "family_name_en"):
        value = getattr(c, name)
        if value is not None and value.strip() != getattr(account, name):
            if len(value.strip()) > NAME_MAX or not _printable(value):
                raise InvalidInput(
                    f"{name} is limited to {NAME_MAX} characters, none a control character",
                    field=name,
                )
            new[name] = value.strip()
    if c.locale is not None and c.locale != account.locale:
        if c.locale not in ("th", "en"):
            raise InvalidInput("locale must be 'th' or 'en'", field="locale")
        new["locale"] = c.locale
    for name in ("mailbox_quota_mb", "attachment_limit_mb"):
        value = getattr(c, name)
        if value is not None and value != getattr(account, name):
            if not 0 < value <= QUOTA_MAX_MB:
                raise InvalidInput(
                    f"{name} must be a positive number of MB, at most {QUOTA_MAX_MB:,}",
                    field=name,
                )
            new[name] = value
    if c.aliases is not None:
        if len(c.aliases) > ALIASES_MAX:
            raise InvalidInput(f"an account has at most {ALIASES_MAX} aliases", field="aliases")
        aliases = sorted({normalise_email(a) for a in c.aliases} - {email})
        for alias in aliases:
            check_domain(alias, domains, "aliases")
        if aliases != sorted(account.aliases or []):
            new["aliases"] = aliases
    elif "email" in new and email in (account.aliases or []):
        new["aliases"] = sorted(set(account.aliases) - {email})  # the alias became the email
    if "email" in new or "aliases" in new:
        addresses.check_free(
            session, new.get("email"), new.get("aliases", ()), account_id=account.id
        )
    return new


def update(
    session: Session,
    account: Account,
    changes: AccountChanges,
    *,
    actor: str | None = None,
    expected_version: int | None = None,
    may_hand_out: MayHandOut = None,
) -> Account:
    """Change names, address (rename), aliases or quotas. No change, no event."""
    if account.status == "deleted":
        raise Conflict("a deleted account cannot be changed", field="status")
    _check_version(account, expected_version)
    new = _changed_values(session, account, changes, may_hand_out)
    if not new:
        return account
    for name, value in new.items():
        setattr(account, name, value)
    session.flush()  # the account row first: outbox ids then follow commit order
    if "email" in new or "aliases" in new:
        addresses.sync(session, account)
    outbox.enqueue(session, account, "modify")
    audit.record(
        session,
        "admin.account.updated",
        actor=actor,
        agency_id=account.agency_id,
        subject=str(account.id),
        details={"changed": sorted(new)},
    )
    return account


def _set_status(
    session: Session,
    account: Account,
    status: str,
    op: str,
    event: str,
    *,
    actor: str | None,
    expected_version: int | None,
    details: dict | None = None,
) -> Account:
    _check_version(account, expected_version)
    if account.status == status:
        return account  # idempotent: nothing changes, nothing is written
    if account.status == "deleted":
        raise Conflict("a deleted account cannot be changed", field="status")
    account.status = status
    if status == "deleted":
        account.deleted_at = utcnow()
    session.flush()
    outbox.enqueue(session, account, op)
    audit.record(
        session,
        event,
        actor=actor,
        agency_id=account.agency_id,
        subject=str(account.id),
        details=details,
    )
    return account


def suspend(
    session: Session,
    account: Account,
    *,
    actor: str | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Account:
    """Suspend: no sign-in, mailbox disabled in the directory."""
    return _set_status(
        session,
        account,
        "suspended",
        "disable",
        "admin.account.suspended",
        actor=actor,
        expected_version=expected_version,
        details={"reason": reason[:200]},
    )


def resume(
    session: Session,
    account: Account,
    *,
    actor: str | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Account:
    """Undo a suspension."""
    return _set_status(
        session,
        account,
        "active",
        "enable",
        "admin.account.resumed",
        actor=actor,
        expected_version=expected_version,
        details={"reason": reason[:200]} if reason else None,
    )


def soft_delete(
    session: Session,
    account: Account,
    *,
    actor: str | None = None,
    reason: str = "",
    expected_version: int | None = None,
) -> Account:
    """Mark deleted (the row and its audit trail stay; a purge job erases PII later);
    the directory entry is removed."""
    return _set_status(
        session,
        account,
        "deleted",
        "delete",
        "admin.account.deleted",
        actor=actor,
        expected_version=expected_version,
        details={"reason": reason[:200]} if reason else None,
    )
