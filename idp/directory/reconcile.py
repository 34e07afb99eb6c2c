"""Compare the database with the mail directory for an agency subtree, and optionally fix.

Kinds of difference:

- ``missing``: an active/suspended account has no entry;
- ``unexpected``: a deleted (or purged) account still has an entry;
- ``different``: the entry exists but managed attributes or its container differ;
- ``orphan``: an entry tagged with an agency of the subtree whose uid is no account.

``fix=True`` makes the directory match the database (orphans are deleted) and records one
audit event. The default is a dry run.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.audit import service as audit
from idp.directory import entries as E
from idp.directory.mail import MailDirectory
from idp.directory.settings import DirectorySettings

KINDS = ("missing", "unexpected", "different", "orphan")


@dataclass
class Difference:
    kind: str
    dn: str | None
    account_id: str | None = None
    email: str | None = None
    attributes: list[str] = field(default_factory=list)
    fixed: bool = False


@dataclass
class ReconcileReport:
    agency: str
    accounts: int = 0
    entries: int = 0
    fix: bool = False
    differences: list[Difference] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {k: sum(1 for d in self.differences if d.kind == k) for k in KINDS}

    def to_dict(self) -> dict[str, Any]:
        return {
            "agency": self.agency,
            "accounts": self.accounts,
            "entries": self.entries,
            "fix": self.fix,
            "counts": self.counts(),
            "in_sync": not self.differences,
            "differences": [asdict(d) for d in self.differences],
        }


def _as_uuid(value: str | None) -> uuid.UUID | None:
    try:
        return uuid.UUID(value) if value else None
    except ValueError:
        return None


def _compare(desired: E.Desired, entry: E.Entry | None) -> Difference | None:
    if not desired.present:
        if entry is None:
            return None
        return Difference("unexpected", entry.dn, str(desired.account_id))
    if entry is None:
        return Difference("missing", desired.dn, str(desired.account_id), desired.email)
    names = sorted(E.differences(entry, desired))
    if E.missing_object_classes(entry, desired):
        names.append("objectClass")
    if entry.dn.lower() != desired.dn.lower():
        names.append("dn")
    if not names:
        return None
    return Difference("different", entry.dn, str(desired.account_id), desired.email, names)


def reconcile(
    session: Session,
    directory: MailDirectory,
    s: DirectorySettings,
    agency_code: str,
    *,
    fix: bool = False,
    actor: str | None = None,
) -> ReconcileReport:
    """Report (and with ``fix`` repair) differences for the agency and its subtree."""
    scope = agencies.get_by_code(session, agency_code)
    codes = [a.code for a in agencies.descendants(session, scope, include_self=True)]
    report = ReconcileReport(agency=scope.code, fix=fix)

    found: dict[str, E.Entry] = {}
    for entry in directory.entries_for_agencies(codes):
        found.setdefault((entry.uid or entry.dn).lower(), entry)
    report.entries = len(found)

    fixes: list[tuple[Difference, E.Desired | None]] = []
    stmt = select(Account).where(Account.agency_id.in_(agencies.subtree_ids_stmt(scope)))
    for account in session.scalars(stmt.order_by(Account.email)).unique():
        report.accounts += 1
        entry = found.pop(str(account.id).lower(), None)
        if entry is None:
            entry = directory.read(account.id)  # tagged with another agency, or moved
        desired = E.desired_state(account.id, account, s)
        diff = _compare(desired, entry)
        if diff:
            diff.email = account.email
            fixes.append((diff, desired))

    for _key, entry in sorted(found.items()):
        account_id = _as_uuid(entry.uid)
        account = session.get(Account, account_id) if account_id else None
        if account is None:
            fixes.append((Difference("orphan", entry.dn, entry.uid), None))
            continue
        # Belongs to an account of another agency (or was purged): the account decides.
        desired = E.desired_state(account.id, account, s)
        diff = _compare(desired, entry) or Difference("different", entry.dn, entry.uid)
        diff.email = account.email
        fixes.append((diff, desired))

    for diff, desired in fixes:
        report.differences.append(diff)
        if not fix:
            continue
        if desired is None:
            directory.delete_dn(diff.dn or "")
        else:
            directory.apply(desired)
        diff.fixed = True

    if fix and report.differences:
        audit.record(
            session,
            "directory.reconcile.fixed",
            actor=actor,
            agency_id=scope.id,
            subject=scope.code,
            details={"agency": scope.code, **report.counts()},
        )
    return report
