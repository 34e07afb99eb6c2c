"""Bulk import of accounts: validate everything, then write in chunks.

- ``dry_run`` checks every row (shape, agency in the caller's scope, mail domains,
  duplicates in the file and in the database, citizen ID, hash scheme) and writes nothing.
- ``all_or_nothing`` (default) writes only when every row is valid, in one transaction.
- ``per_row`` writes the valid rows and reports the others.

Writes are bulk: PostgreSQL ``COPY`` (SQLite: executemany) of the account rows, their
directory outbox rows (``add``) and activation tokens. The audit chain gets one
``admin.import.completed`` summary per chunk instead of one event per account, written
at the end so the chain lock is held only for the last moment of the transaction.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.accounts import address_rules, addresses, tally
from idp.accounts import citizen_id as cid
from idp.accounts.importing import writer as import_writer
from idp.accounts.importing.rows import RowError, clean
from idp.accounts.models import Account
from idp.accounts.service import CITIZEN_ID_PURPOSE
from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.authz.scope import Scope
from idp.credentials.hash_bounds import HashBounds, malformed
from idp.crypto import DataCipher, random_token
from idp.errors import InvalidCitizenId, InvalidInput

MODES = ("all_or_nothing", "per_row")
CHUNK = 5000


@dataclass
class ImportResult:
    import_id: str
    dry_run: bool
    mode: str
    rows: int = 0
    valid: int = 0
    created: int = 0
    errors: list[dict[str, Any]] = field(default_factory=list)
    error_count: int = 0
    activation_tokens: list[dict[str, str]] = field(default_factory=list)
    schemes: Counter = field(default_factory=Counter)
    # Rows refused because another account holds the address or citizen ID: audited,
    # so that a dry run cannot be a silent oracle for what is registered elsewhere.
    conflicts: int = 0

    @property
    def failed(self) -> int:
        return self.error_count

    def add_error(self, row: int, fld: str, message: str, max_errors: int) -> None:
        self.error_count += 1
        if len(self.errors) < max_errors:
            self.errors.append({"row": row, "field": fld, "message": message})

    def to_dict(self) -> dict[str, Any]:
        return {
            "import_id": self.import_id,
            "dry_run": self.dry_run,
            "mode": self.mode,
            "rows": self.rows,
            "valid": self.valid,
            "created": self.created,
            "failed": self.failed,
            "errors": self.errors,
            "errors_truncated": self.error_count > len(self.errors),
            "activation_tokens": self.activation_tokens,
        }


class _Agencies:
    """Every agency in memory (a few thousand), with the mail domains each may use."""

    def __init__(self, db: Session, scope: Scope) -> None:
        self.by_code = {a.code.lower(): a for a in db.scalars(select(Agency))}
        self.by_id = {a.id: a for a in self.by_code.values()}
        self.scope = scope
        self._domains: dict[uuid.UUID, frozenset[str]] = {}

    def get(self, code: str) -> Agency:
        a = self.by_code.get(code.lower())
        if a is None or not self.scope.covers(a):
            raise RowError("agency", f"unknown agency {code!r}")  # same as outside the scope
        return a

    def domains(self, agency: Agency) -> frozenset[str]:
        """The rule of address_rules.domains_for, with the importer's authority."""
        if agency.id not in self._domains:
            chain = [self.by_id[uuid.UUID(hex=p)] for p in agency.path.strip("/").split("/")]
            self._domains[agency.id] = frozenset(
                address_rules.domains_for(chain, self.scope.covers)
            )
        return self._domains[agency.id]


def _email(value: str, fld: str) -> str:
    try:
        return address_rules.normalise_email(value)
    except InvalidInput:
        raise RowError(fld, f"not a valid email address: {value!r}") from None


def _check(
    row: dict[str, Any], agencies: _Agencies, cipher: DataCipher, bounds: HashBounds
) -> dict[str, Any]:
    r = clean(row)
    if r["scheme"]:
        broken = malformed(r["password_hash"])
        if broken:  # it could never verify: the person could never sign in
            raise RowError("password_hash", f"the hash cannot be used: {broken}")
        problem = bounds.problem(r["password_hash"])
        if problem:  # a wrong password would cost this much at every attempt
            raise RowError(
                "password_hash",
                f"{problem}; import the row without password_hash (an activation link) "
                "or raise the limit",
            )
    agency = agencies.get(r["agency"])
    domains = agencies.domains(agency)
    email = _email(r["email"], "email")
    if not domains:  # no domain of its own chain: no address at all
        raise RowError("email", "the agency and its parent agencies have no mail domains")
    if email.rsplit("@", 1)[1] not in domains:
        raise RowError("email", f"{email} is not in the mail domains this account may be given")
    aliases = sorted({_email(a, "aliases") for a in r["aliases"]} - {email})
    for a in aliases:
        if a.rsplit("@", 1)[1] not in domains:
            raise RowError("aliases", f"{a} is not in the mail domains this account may be given")
    r.update(email=email, aliases=aliases, agency_obj=agency)
    if r["citizen_id"]:
        try:
            value = cid.validate(r["citizen_id"])
        except InvalidCitizenId as exc:
            raise RowError("citizen_id", exc.message) from None
        r["citizen_value"] = value
        r["citizen_hmac"] = cipher.blind_index(value, CITIZEN_ID_PURPOSE)
        # During a data-key rotation an account may still hold the previous key's index.
        r["citizen_hmacs"] = cipher.blind_indexes(value, CITIZEN_ID_PURPOSE)
    return r


def _existing(db: Session, column, values: list[str]) -> set[str]:
    found: set[str] = set()
    for i in range(0, len(values), 1000):
        found.update(db.scalars(select(column).where(column.in_(values[i : i + 1000]))))
    return found


def validate_rows(
    db: Session,
    rows: Iterable[dict[str, Any] | RowError],
    *,
    cipher: DataCipher,
    scope: Scope,
    result: ImportResult,
    max_errors: int,
    progress: Callable[[int], None] | None = None,
    bounds: HashBounds | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    agencies = _Agencies(db, scope)
    bounds = bounds or HashBounds()
    good: list[tuple[int, dict[str, Any]]] = []
    seen_email: dict[str, int] = {}  # every address (emails and aliases) -> its row
    seen_cid: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        result.rows = n
        try:
            if isinstance(row, RowError):
                raise row
            r = _check(row, agencies, cipher, bounds)
            if r["email"] in seen_email:
                raise RowError("email", f"duplicate of row {seen_email[r['email']]}")
            for a in r["aliases"]:
                if a in seen_email:
                    raise RowError("aliases", f"{a} is also an address in row {seen_email[a]}")
            if "citizen_hmac" in r:
                if r["citizen_hmac"] in seen_cid:
                    raise RowError(
                        "citizen_id", f"same citizen ID as row {seen_cid[r['citizen_hmac']]}"
                    )
                seen_cid[r["citizen_hmac"]] = n
            for a in (r["email"], *r["aliases"]):
                seen_email[a] = n
            good.append((n, r))
        except RowError as exc:
            result.add_error(n, exc.field, exc.message, max_errors)
        if progress and n % 1000 == 0:
            progress(1000)
    if progress:
        progress(result.rows % 1000)
    # Emails and aliases against every account's (mail_address): one query per 1,000.
    taken = addresses.taken(db, [a for _, r in good for a in (r["email"], *r["aliases"])])
    taken_cid = _existing(
        db, Account.citizen_id_hmac, [h for _, r in good for h in r.get("citizen_hmacs", ())]
    )
    kept = []
    for n, r in good:
        held = [a for a in r["aliases"] if a in taken]
        if r["email"] in taken:
            result.add_error(n, "email", addresses.in_use_message(r["email"]), max_errors)
        elif held:
            result.add_error(n, "aliases", addresses.in_use_message(held[0]), max_errors)
        elif any(h in taken_cid for h in r.get("citizen_hmacs", ())):
            result.add_error(
                n, "citizen_id", "this citizen ID belongs to another account", max_errors
            )
        else:
            kept.append((n, r))
            continue
        result.conflicts += 1
    kept.sort()
    result.valid = len(kept)
    return kept


def run_import(
    db: Session,
    rows: Iterable[dict[str, Any] | RowError],
    *,
    cipher: DataCipher,
    scope: Scope,
    actor: str,
    dry_run: bool = False,
    mode: str = "all_or_nothing",
    max_errors: int = 1000,
    chunk_size: int = CHUNK,
    progress: Callable[[str, int], None] | None = None,
    import_id: str | None = None,
    bounds: HashBounds | None = None,
) -> ImportResult:
    """Validate, then (unless ``dry_run``) write. ``progress(phase, n)`` reports rows."""
    if mode not in MODES:
        raise InvalidInput(f"mode must be one of {', '.join(MODES)}", field="mode")
    result = ImportResult(import_id or str(uuid.uuid4()), dry_run, mode)
    kept = validate_rows(
        db,
        rows,
        cipher=cipher,
        scope=scope,
        result=result,
        max_errors=max_errors,
        progress=(lambda n: progress("validate", n)) if progress else None,
        bounds=bounds,
    )
    if dry_run or (mode == "all_or_nothing" and result.error_count):
        # Nothing written, yet the rows were checked against every account: one event
        # (never one per row) says who checked how many and how many were taken.
        audit.record(
            db,
            "admin.import.checked",
            actor=actor,
            agency_id=_common_agency([r for _, r in kept]) if kept else None,
            subject=result.import_id,
            details={
                "import_id": result.import_id,
                "mode": mode,
                "dry_run": dry_run,
                "rows": result.rows,
                "failed": result.error_count,
                "conflicts": result.conflicts,
            },
        )
        return result
    summaries = []
    for chunk_no, start in enumerate(range(0, len(kept), chunk_size), start=1):
        chunk = [r for _, r in kept[start : start + chunk_size]]
        tokens: list[tuple[uuid.UUID, str, str]] = []
        for r in chunk:
            r["id"] = uuid.uuid4()
            if r["scheme"] is None:
                tokens.append((r["id"], r["email"], random_token(32)))
        import_writer.write_chunk(db, chunk, tokens, cipher)
        result.created += len(chunk)
        result.schemes.update(r["scheme"] or "none" for r in chunk)
        result.activation_tokens.extend({"email": e, "token": t} for _, e, t in tokens)
        summaries.append((chunk_no, chunk))
        if progress:
            progress("write", len(chunk))
    # Each chunk's COPY made the account_tally triggers add a row per agency it touched
    # (~120,000 rows for 240,000 accounts): one per agency and status again, now.
    tally.fold(db)
    for chunk_no, chunk in summaries:
        codes = sorted({r["agency_obj"].code for r in chunk})
        audit.record(
            db,
            "admin.import.completed",
            actor=actor,
            agency_id=_common_agency(chunk),
            subject=result.import_id,
            details={
                "import_id": result.import_id,
                "mode": mode,
                "chunk": chunk_no,
                "rows": result.rows,
                "created": len(chunk),
                "failed": result.error_count,
                "agencies": codes[:20],
                "schemes": dict(Counter(r["scheme"] or "none" for r in chunk)),
            },
        )
    return result


def _common_agency(chunk: list[dict]) -> uuid.UUID | None:
    """The lowest agency whose subtree holds every row of the chunk, so that the
    auditors of that subtree see the summary (None when rows span several ministries)."""
    paths = {r["agency_obj"].path for r in chunk}
    parts = [p.strip("/").split("/") for p in paths]
    common = []
    for segs in zip(*parts, strict=False):
        if len(set(segs)) != 1:
            break
        common.append(segs[0])
    return uuid.UUID(hex=common[-1]) if common else None
