"""Compare the database with the mail directory for an agency subtree, and optionally fix.

Kinds of difference:

- ``missing``: an active/suspended account has no entry;
- ``unexpected``: a deleted (or purged) account still has an entry;
- ``different``: the entry exists but managed attributes or its container differ;
- ``orphan``: an entry tagged with an agency of the subtree whose uid is no account;
- ``duplicate``: an account has more than one entry (e.g. one in each container); the
  difference names the extra entry's DN.

``fix=True`` makes the directory match the database (orphans and duplicates are deleted,
the entry in the right container is kept) and records one audit event. The default is a
dry run. A fix that fails is reported on its difference (``error``) and the others are
still fixed; when the directory becomes unavailable the remaining fixes are skipped
(``aborted``).
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
from idp.config.ldap import DirectorySettings
from idp.directory import entries as E
from idp.directory.ldap import DirectoryError
from idp.directory.mail import MailDirectory

KINDS = ("missing", "unexpected", "different", "orphan", "duplicate")


@dataclass
class Difference:
    kind: str
    dn: str | None
    account_id: str | None = None
    email: str | None = None
    attributes: list[str] = field(default_factory=list)
    fixed: bool = False
    error: str | None = None  # why --fix could not repair it


@dataclass
class ReconcileReport:
    agency: str
    accounts: int = 0
    entries: int = 0
    fix: bool = False
    differences: list[Difference] = field(default_factory=list)
    # The directory became unavailable during --fix: the remaining fixes were skipped.
    aborted: str | None = None

    @property
    def failed(self) -> int:
        return sum(1 for d in self.differences if d.error)

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
            "failed": self.failed,
            "aborted": self.aborted,
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


def _keep(desired: E.Desired, entries: list[E.Entry]) -> E.Entry | None:
    """The entry compared with (and kept by) the account: the one at its DN if any."""
    if not entries:
        return None
    at_dn = [e for e in entries if e.dn.lower() == desired.dn.lower()]
    return (at_dn or entries)[0]


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

    # Keyed by uid; an account with several entries (one per container, say) keeps all.
    found: dict[str, list[E.Entry]] = {}
    for entry in directory.entries_for_agencies(codes):
        found.setdefault((entry.uid or entry.dn).lower(), []).append(entry)
    report.entries = sum(len(v) for v in found.values())

    # (difference, desired state to apply or None to delete difference.dn)
    fixes: list[tuple[Difference, E.Desired | None]] = []

    def check(desired: E.Desired, entries: list[E.Entry], email: str | None) -> None:
        keep = _keep(desired, entries)
        diff = _compare(desired, keep)
        if diff:
            diff.email = email
            fixes.append((diff, desired))
        for extra in entries:
            if extra is keep:
                continue
            kind = "duplicate" if desired.present else "unexpected"
            fixes.append((Difference(kind, extra.dn, str(desired.account_id), email), None))

    stmt = select(Account).where(Account.agency_id.in_(agencies.subtree_ids_stmt(scope)))
    for account in session.scalars(stmt.order_by(Account.email)).unique():
        report.accounts += 1
        entries = found.pop(str(account.id).lower(), [])
        if not entries:
            entries = directory.read_all(account.id)  # tagged with another agency, or moved
        check(E.desired_state(account.id, account, s), entries, account.email)

    for _key, group in sorted(found.items()):
        account_id = _as_uuid(group[0].uid)
        owner = session.get(Account, account_id) if account_id else None
        if owner is None:
            for entry in group:
                fixes.append((Difference("orphan", entry.dn, entry.uid), None))
            continue
        # Belongs to an account of another agency (or was purged): the account decides.
        wanted = E.desired_state(owner.id, owner, s)
        n = len(fixes)
        check(wanted, group, owner.email)
        if len(fixes) == n:  # in sync itself, but tagged with an agency of this subtree
            fixes.append((Difference("different", group[0].dn, group[0].uid), wanted))

    # Apply first, delete afterwards: a duplicate is only removed once the entry that is
    # kept is right.
    fixes.sort(key=lambda f: f[1] is None)
    not_applied: set[str | None] = set()  # accounts whose entry could not be made right
    for diff, desired in fixes:
        report.differences.append(diff)
        if not fix:
            continue
        if report.aborted:
            diff.error = "not attempted: directory unavailable"
            continue
        if diff.kind == "duplicate" and diff.account_id in not_applied:
            diff.error = "not attempted: the entry that is kept could not be fixed"
            continue
        try:
            if desired is None:
                directory.delete_dn(diff.dn or "")
            else:
                directory.apply(desired)
        except DirectoryError as exc:
            diff.error = exc.message[:500]
            not_applied.add(diff.account_id)
            if exc.transient:
                report.aborted = exc.message[:500]
            continue
        diff.fixed = True

    if fix and report.differences:
        audit.record(
            session,
            "directory.reconcile.fixed",
            actor=actor,
            agency_id=scope.id,
            subject=scope.code,
            details={"agency": scope.code, **report.counts(), "failed": report.failed},
        )
    return report
