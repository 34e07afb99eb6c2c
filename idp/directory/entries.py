"""What the mail directory should hold for an account, and how an entry differs from it.

Pure functions: an account (or its absence) in, a ``Desired`` entry out, using the
attribute mapping of ``DirectorySettings``. The worker and ``reconcile`` both use them, so
"apply" and "compare" can never disagree.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ldap3.utils.dn import escape_rdn

from idp.config.ldap import DirectorySettings

if TYPE_CHECKING:
    from idp.accounts.models import Account


@dataclass(frozen=True)
class Desired:
    """The target state of one account's entry. ``present=False``: no entry at all."""

    account_id: uuid.UUID
    present: bool
    enabled: bool = True
    dn: str = ""
    object_classes: tuple[str, ...] = ()
    # Managed attributes only; an empty list means "must be absent".
    attributes: dict[str, list[str]] = field(default_factory=dict)
    email: str | None = None


@dataclass(frozen=True)
class Entry:
    """An entry as read from the directory (attribute names lower-cased)."""

    dn: str
    attributes: dict[str, list[str]]

    def get(self, name: str) -> list[str]:
        return self.attributes.get(name.lower(), [])

    @property
    def uid(self) -> str | None:
        values = self.get("uid")
        return values[0] if values else None


def rdn(account_id: uuid.UUID) -> str:
    return f"uid={escape_rdn(str(account_id))}"


def dn_for(account_id: uuid.UUID, s: DirectorySettings, *, enabled: bool) -> str:
    container = s.disabled_dn if (not enabled and s.disable_mode == "move") else s.people_dn
    return f"{rdn(account_id)},{container}"


def candidate_dns(account_id: uuid.UUID, s: DirectorySettings) -> list[str]:
    """Every place an account's entry may be found (people first)."""
    dns = [dn_for(account_id, s, enabled=True)]
    other = f"{rdn(account_id)},{s.disabled_dn}"
    if s.disabled_dn and other not in dns:
        dns.append(other)
    return dns


def _uniq(values: list[str]) -> list[str]:
    out: list[str] = []
    for v in values:
        v = v.strip()
        if v and v not in out:
            out.append(v)
    return out


def managed_attributes(s: DirectorySettings) -> list[str]:
    names = ["uid", "mail", "cn", "sn", "givenName", "displayName"]
    for n in (
        s.agency_attribute,
        s.quota_attribute,
        s.attachment_limit_attribute,
        s.alias_attribute,
        s.status_attribute,
    ):
        if n and n.lower() not in (x.lower() for x in names):
            names.append(n)
    return names


def desired_state(account_id: uuid.UUID, account: Account | None, s: DirectorySettings) -> Desired:
    if account is None or account.status == "deleted":
        return Desired(account_id=account_id, present=False)
    enabled = account.status == "active"
    local = account.email.split("@", 1)[0]
    full_en = f"{account.given_name_en} {account.family_name_en}".strip()
    full_th = f"{account.given_name_th} {account.family_name_th}".strip()
    aliases = [a for a in (account.aliases or []) if a != account.email]
    attrs: dict[str, list[str]] = {
        "uid": [str(account.id)],
        "mail": [account.email],
        # cn and sn are required by person (RFC 4519 §3.12); fall back to the local part.
        "cn": _uniq([full_en, full_th]) or [local],
        "sn": _uniq([account.family_name_en, account.family_name_th]) or [local],
        "givenName": _uniq([account.given_name_en, account.given_name_th]),
        "displayName": _uniq([full_th or full_en]),
    }
    if s.alias_attribute:
        key = "mail" if s.alias_attribute.lower() == "mail" else s.alias_attribute
        attrs[key] = _uniq(attrs.get(key, []) + aliases)
    if s.agency_attribute:
        attrs[s.agency_attribute] = [account.agency.code]
    if s.quota_attribute:
        attrs[s.quota_attribute] = [str(account.mailbox_quota_mb)]
    if s.attachment_limit_attribute:
        attrs[s.attachment_limit_attribute] = [str(account.attachment_limit_mb)]
    if s.status_attribute:
        attrs[s.status_attribute] = [s.status_active if enabled else s.status_disabled]
    return Desired(
        account_id=account_id,
        present=True,
        enabled=enabled,
        dn=dn_for(account_id, s, enabled=enabled),
        object_classes=tuple(s.object_classes),
        attributes=attrs,
        email=account.email,
    )


def _same(a: list[str], b: list[str], name: str) -> bool:
    if name.lower() == "mail":  # IA5 case-insensitive (RFC 4524 §2.16)
        return {v.lower() for v in a} == {v.lower() for v in b}
    return set(a) == set(b)


def differences(entry: Entry, desired: Desired) -> dict[str, list[str]]:
    """Attribute name → desired values, for every managed attribute that differs."""
    out: dict[str, list[str]] = {}
    for name, values in desired.attributes.items():
        if not _same(entry.get(name), values, name):
            out[name] = values
    return out


def missing_object_classes(entry: Entry, desired: Desired) -> list[str]:
    have = {v.lower() for v in entry.get("objectClass")}
    return [oc for oc in desired.object_classes if oc.lower() not in have]


def add_attributes(desired: Desired) -> dict[str, list[str]]:
    attrs = {k: v for k, v in desired.attributes.items() if v}
    attrs["objectClass"] = list(desired.object_classes)
    return attrs
