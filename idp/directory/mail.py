"""The mail directory (OpenLDAP) as the worker and ``reconcile`` see it.

``MailDirectory`` is the small Protocol (DESIGN §2 rule 4); ``LdapMailDirectory`` is its
one implementation, over ldap3. ``apply`` makes one account's entry match a ``Desired``
state and is idempotent: add when the entry exists becomes a modify, delete when it is
absent is done, a move finds the entry wherever it is.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from typing import Protocol

from ldap3 import BASE, MODIFY_ADD, MODIFY_REPLACE, SUBTREE, Connection
from ldap3.core.exceptions import (
    LDAPCommunicationError,
    LDAPException,
    LDAPMaximumRetriesError,
    LDAPResponseTimeoutError,
)
from ldap3.utils.conv import escape_filter_chars

from idp.config.ldap import DirectorySettings
from idp.directory import entries as E
from idp.directory.entries import Desired, Entry
from idp.directory.ldap import DirectoryError, Transport, close, connect, result_error

_CONNECTION_ERRORS = (LDAPCommunicationError, LDAPResponseTimeoutError, LDAPMaximumRetriesError)
NO_SUCH_OBJECT = 32
ALREADY_EXISTS = 68


class MailDirectory(Protocol):
    def apply(self, desired: Desired, *, hint: str = "") -> str: ...

    def read(self, account_id: uuid.UUID) -> Entry | None: ...

    def read_all(self, account_id: uuid.UUID) -> list[Entry]: ...

    def entries_for_agencies(self, codes: Sequence[str]) -> Iterator[Entry]: ...

    def delete_dn(self, dn: str) -> bool: ...

    def close(self) -> None: ...


class LdapMailDirectory:
    """One long-lived, bound connection; reopened (with failover) after any failure."""

    def __init__(self, settings: DirectorySettings) -> None:
        if not settings.enabled:
            raise DirectoryError("IDP_LDAP_URLS is not set", transient=False)
        self.s = settings
        self.transport = Transport(
            urls=tuple(settings.urls),
            start_tls=settings.start_tls,
            allow_plain=settings.allow_plain,
            allow_plain_remote=settings.allow_plain_remote,
            ca_file=settings.ca_file,
            connect_timeout=settings.connect_timeout,
            op_timeout=settings.op_timeout,
        )
        self._conn: Connection | None = None
        self.server: str | None = None
        self._attrs = E.managed_attributes(settings) + ["objectClass"]

    # ------------------------------------------------------------------ connection

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed:
            self._conn, self.server = connect(
                self.transport, self.s.bind_dn or None, self.s.bind_password.get_secret_value()
            )
        return self._conn

    def close(self) -> None:
        close(self._conn)
        self._conn = None

    def _call(self, what: str, fn, *args, ok: Sequence[int] = (0,), **kwargs) -> int:
        """Run one ldap3 operation; return its result code if in ``ok``, else raise."""
        conn = self._connection()
        try:
            fn(conn, *args, **kwargs)
        except _CONNECTION_ERRORS as exc:
            # Socket closed, timeout, server gone: the connection is unusable.
            self.close()
            raise DirectoryError(f"{what}: {type(exc).__name__}: {exc}", transient=True) from exc
        except LDAPException as exc:
            # Refused before sending (invalid DN or value): the data is the problem.
            raise DirectoryError(f"{what}: {type(exc).__name__}: {exc}", transient=False) from exc
        code = int(conn.result.get("result", 80))
        if code in ok:
            return code
        err = result_error(conn, what)
        if err.transient:
            self.close()
        raise err

    # ----------------------------------------------------------------------- reads

    def _read_dn(self, dn: str) -> Entry | None:
        code = self._call(
            "read",
            Connection.search,
            dn,
            "(objectClass=*)",
            search_scope=BASE,
            attributes=self._attrs,
            ok=(0, NO_SUCH_OBJECT),
        )
        if code == NO_SUCH_OBJECT or not self._conn or not self._conn.response:
            return None
        return _entry(self._conn.response[0])

    def read(self, account_id: uuid.UUID) -> Entry | None:
        for dn in E.candidate_dns(account_id, self.s):
            entry = self._read_dn(dn)
            if entry is not None:
                return entry
        return None

    def entries_for_agencies(self, codes: Sequence[str]) -> Iterator[Entry]:
        """Entries whose agency attribute is one of ``codes`` (people and disabled)."""
        attr = self.s.agency_attribute
        bases = [self.s.people_dn] + (
            [self.s.disabled_dn] if self.s.disabled_dn != self.s.people_dn else []
        )
        chunks = [list(codes[i : i + 100]) for i in range(0, len(codes), 100)] or [[]]
        for base in bases:
            for chunk in chunks:
                if attr:
                    # RFC 4515 §3: assertion values escaped.
                    ors = "".join(f"({attr}={escape_filter_chars(c)})" for c in chunk)
                    flt = f"(&(objectClass=inetOrgPerson)(|{ors}))"
                else:
                    flt = "(objectClass=inetOrgPerson)"
                yield from self._paged(base, flt)

    def _paged(self, base: str, flt: str) -> Iterator[Entry]:
        conn = self._connection()
        try:
            for item in conn.extend.standard.paged_search(
                base, flt, SUBTREE, attributes=self._attrs, paged_size=500, generator=True
            ):
                if item.get("type") == "searchResEntry":
                    yield _entry(item)
        except LDAPException as exc:
            self.close()
            raise DirectoryError(f"search: {type(exc).__name__}: {exc}", transient=True) from exc
        code = int(conn.result.get("result", 0))
        if code not in (0, NO_SUCH_OBJECT):
            raise result_error(conn, "search")

    # ---------------------------------------------------------------------- writes

    def delete_dn(self, dn: str) -> bool:
        code = self._call("delete", Connection.delete, dn, ok=(0, NO_SUCH_OBJECT))
        return code == 0

    def _add(self, desired: Desired) -> bool:
        code = self._call(
            "add",
            Connection.add,
            desired.dn,
            attributes=E.add_attributes(desired),
            ok=(0, ALREADY_EXISTS),
        )
        return code == 0

    def read_all(self, account_id: uuid.UUID) -> list[Entry]:
        """Every entry the account has at one of its candidate DNs (normally 0 or 1)."""
        found = []
        for dn in E.candidate_dns(account_id, self.s):
            entry = self._read_dn(dn)
            if entry is not None:
                found.append(entry)
        return found

    def _delete_others(self, desired: Desired, keep: str) -> bool:
        """Delete the account's entries at candidate DNs other than ``keep``. Only in move
        mode can an account have been in the other container; in attribute mode its DN
        never changes, so nothing is sent (an add or a change stays one LDAP operation,
        the bulk migration's rate; reconcile finds copies left by an earlier mode)."""
        if self.s.disable_mode != "move":
            return False
        removed = False
        for dn in E.candidate_dns(desired.account_id, self.s):
            if dn.lower() != keep.lower() and self.delete_dn(dn):
                removed = True
        return removed

    def apply(self, desired: Desired, *, hint: str = "") -> str:
        """Make the account's entry match ``desired``. Returns what was done.

        Converges to exactly one entry, at ``desired.dn``, whatever was there before: an
        entry in the other container is moved (or, when the target exists too, deleted
        after the target has been made right), so re-applying an old row after its lease
        ran out never leaves a duplicate.
        """
        if not desired.present:
            deleted = [
                dn for dn in E.candidate_dns(desired.account_id, self.s) if self.delete_dn(dn)
            ]
            return "deleted" if deleted else "unchanged"
        # A new account is almost always absent: try the add first. If it worked, a copy
        # may still sit in the other container (this row applied once already, then the
        # account was suspended or resumed before the row was re-applied): remove it.
        if hint == "add" and self._add(desired):
            self._delete_others(desired, desired.dn)
            return "added"
        if self.s.disable_mode == "move":
            found = self.read_all(desired.account_id)
        else:  # one place at a time, people first (as before move-mode duplicates)
            found = [e for e in (self.read(desired.account_id),) if e is not None]
        target = next((e for e in found if e.dn.lower() == desired.dn.lower()), None)
        done = "unchanged"
        if target is None and found:
            target = self._move(found[0], desired)
            done = "moved"
        elif target is None:
            if self._add(desired):
                self._delete_others(desired, desired.dn)
                return "added"
            target = self._read_dn(desired.dn)  # raced with another writer
            if target is None:
                raise DirectoryError("entry vanished during add", transient=True)
        changes: dict[str, list] = {}
        missing_oc = E.missing_object_classes(target, desired)
        if missing_oc:
            changes["objectClass"] = [(MODIFY_ADD, missing_oc)]
        for name, values in E.differences(target, desired).items():
            changes[name] = [(MODIFY_REPLACE, values)]  # [] removes the attribute
        if changes:
            self._call("modify", Connection.modify, desired.dn, changes)
            done = "modified" if done == "unchanged" else done
        # Only now that the target is right: drop any other copy (a duplicate).
        if self._delete_others(desired, desired.dn) and done in ("unchanged", "modified"):
            done = "deduplicated"
        return done

    def _move(self, entry: Entry, desired: Desired) -> Entry:
        """Move ``entry`` to ``desired.dn``. If an entry already exists there (another
        writer, or a copy left by an earlier apply), keep that one: the caller makes it
        right and deletes the stale copy."""
        container = desired.dn.split(",", 1)[1]
        self._call(
            "move",
            Connection.modify_dn,
            entry.dn,
            E.rdn(desired.account_id),
            new_superior=container,
            ok=(0, ALREADY_EXISTS),
        )
        target = self._read_dn(desired.dn)
        if target is None:
            raise DirectoryError("entry vanished during move", transient=True)
        return target


def _entry(item: dict) -> Entry:
    raw = item.get("raw_attributes") or {}
    attrs = {
        k.lower(): [v.decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in vs]
        for k, vs in raw.items()
    }
    return Entry(dn=item["dn"], attributes=attrs)
