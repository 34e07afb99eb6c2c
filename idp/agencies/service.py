"""Agency operations: create, look up, and subtree queries (ancestors/descendants)."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from idp.agencies.models import Agency
from idp.audit import service as audit
from idp.errors import DuplicateAgencyCode, InvalidInput, UnknownAgency

_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
# RFC 1035 labels; mail domains such as mail.go.th or moi.go.th.
_DOMAIN_RE = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


# Helpdesk contact. Shown to people who cannot sign in, so kept to what a page
# can show safely: an address, a phone number, https links.
CONTACT_FIELDS = ("helpdesk_email", "helpdesk_phone", "helpdesk_url", "privacy_url")
_EMAIL_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]{1,64}@[A-Za-z0-9.-]{1,253}$")
_PHONE_RE = re.compile(r"^\+?[0-9][0-9 ()-]{1,30}( (ext|ต่อ)\.? ?[0-9]{1,6})?$")
_URL_RE = re.compile(r"^https://[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[^\s<>\"'`]*)?$")


def validate_contact(name: str, value: str | None) -> str | None:
    """The stored form of one helpdesk field; empty clears it (the parent's shows)."""
    if value is None:
        return None
    value = value.strip()
    if not value:
        return None
    ok = {
        "helpdesk_email": lambda v: len(v) <= 320 and _EMAIL_RE.match(v),
        "helpdesk_phone": lambda v: len(v) <= 40 and _PHONE_RE.match(v),
        "helpdesk_url": lambda v: len(v) <= 2000 and _URL_RE.match(v),
        "privacy_url": lambda v: len(v) <= 2000 and _URL_RE.match(v),
    }[name](value)
    if not ok:
        what = {
            "helpdesk_email": "a mail address",
            "helpdesk_phone": "a phone number (digits, spaces, +, -, parentheses, 'ext 12')",
            "helpdesk_url": "an https:// address",
            "privacy_url": "an https:// address",
        }[name]
        raise InvalidInput(f"{name} must be {what}", field=name)
    return value.lower() if name == "helpdesk_email" else value


@dataclass(frozen=True)
class Helpdesk:
    """Whom to contact, and whose helpdesk it is (None: the central one)."""

    email: str | None
    phone: str | None
    url: str | None
    privacy_url: str | None
    agency: Agency | None


def helpdesk_for(session: Session, agency: Agency | None, central: Helpdesk) -> Helpdesk:
    """The nearest agency (itself, then its ancestors) that names a helpdesk, each field
    on its own; what none names comes from ``central``."""
    found: dict[str, str | None] = dict.fromkeys(CONTACT_FIELDS)
    owner = None
    if agency is not None:
        for a in reversed(ancestors(session, agency, include_self=True)):
            for f in CONTACT_FIELDS:
                if found[f] is None and getattr(a, f):
                    found[f] = getattr(a, f)
                    if f != "privacy_url" and owner is None:
                        owner = a
    if owner is None:
        return Helpdesk(
            central.email,
            central.phone,
            central.url,
            found["privacy_url"] or central.privacy_url,
            None,
        )
    return Helpdesk(
        found["helpdesk_email"],
        found["helpdesk_phone"],
        found["helpdesk_url"],
        found["privacy_url"] or central.privacy_url,
        owner,
    )


def by_mail_domain(session: Session, address: str) -> Agency | None:
    """The agency whose mail domains hold ``address``'s domain (the deepest one, or the
    nearest parent domain: ``x@sub.moi.go.th`` finds ``moi.go.th``). Reads agencies only,
    never accounts, so it tells nothing about whether the address has an account."""
    domain = address.rpartition("@")[2].strip().lower()[:253]
    if not domain or not _DOMAIN_RE.match(domain):
        return None
    candidates = [".".join(domain.split(".")[i:]) for i in range(domain.count("."))]
    best: Agency | None = None
    best_rank = None
    for a in session.scalars(select(Agency).where(Agency.status == "active")):
        for d in a.mail_domains or []:
            if d in candidates:
                rank = (candidates.index(d), -a.depth)
                if best_rank is None or rank < best_rank:
                    best, best_rank = a, rank
    return best


@dataclass(frozen=True)
class NewAgency:
    code: str
    name_th: str
    name_en: str
    parent_code: str | None = None
    mail_domains: Sequence[str] = ()
    mailbox_quota_mb: int | None = None
    attachment_limit_mb: int | None = None


def _validate(data: NewAgency) -> list[str]:
    if not _CODE_RE.match(data.code):
        raise InvalidInput(
            "agency code must be 1-64 letters, digits, '.', '_' or '-'", field="code"
        )
    if not data.name_th.strip():
        raise InvalidInput("Thai name is required", field="name_th")
    if not data.name_en.strip():
        raise InvalidInput("English name is required", field="name_en")
    domains = []
    for d in data.mail_domains:
        d = d.strip().lower()
        if not _DOMAIN_RE.match(d):
            raise InvalidInput(f"not a valid mail domain: {d!r}", field="mail_domains")
        domains.append(d)
    for name, v in (
        ("mailbox_quota_mb", data.mailbox_quota_mb),
        ("attachment_limit_mb", data.attachment_limit_mb),
    ):
        if v is not None and v <= 0:
            raise InvalidInput(f"{name} must be a positive number of MB", field=name)
    return domains


def get_by_code(session: Session, code: str) -> Agency:
    agency = session.scalar(select(Agency).where(func.lower(Agency.code) == code.lower()))
    if agency is None:
        raise UnknownAgency(f"unknown agency {code!r}", field="agency")
    return agency


def get(session: Session, agency_id: uuid.UUID) -> Agency:
    agency = session.get(Agency, agency_id)
    if agency is None:
        raise UnknownAgency(f"unknown agency {agency_id}", field="agency")
    return agency


def claim(agency: Agency) -> dict[str, str]:
    """The ``agency`` claim: one shape in ID tokens, userinfo, access tokens and
    introspection answers, so an app or API reads it the same way wherever it gets it."""
    return {
        "id": str(agency.id),
        "code": agency.code,
        "name_th": agency.name_th,
        "name_en": agency.name_en,
    }


def create(
    session: Session,
    data: NewAgency,
    *,
    actor: str | None = None,
    default_mailbox_quota_mb: int = 6144,
    default_attachment_limit_mb: int = 25,
) -> Agency:
    domains = _validate(data)
    if session.scalar(select(Agency.id).where(func.lower(Agency.code) == data.code.lower())):
        raise DuplicateAgencyCode(f"agency code {data.code!r} already exists", field="code")
    parent = get_by_code(session, data.parent_code) if data.parent_code else None
    agency_id = uuid.uuid4()
    agency = Agency(
        id=agency_id,
        code=data.code,
        name_th=data.name_th.strip(),
        name_en=data.name_en.strip(),
        parent_id=parent.id if parent else None,
        path=(parent.path if parent else "/") + f"{agency_id.hex}/",
        depth=(parent.depth + 1) if parent else 0,
        mail_domains=domains,
        # A sub-agency inherits its parent's quotas unless told otherwise.
        mailbox_quota_mb=data.mailbox_quota_mb
        or (parent.mailbox_quota_mb if parent else default_mailbox_quota_mb),
        attachment_limit_mb=data.attachment_limit_mb
        or (parent.attachment_limit_mb if parent else default_attachment_limit_mb),
    )
    session.add(agency)
    session.flush()
    audit.record(
        session,
        "admin.agency.created",
        actor=actor,
        agency_id=agency.id,
        subject=str(agency.id),
        details={"code": agency.code, "parent": parent.code if parent else None},
    )
    return agency


def list_agencies(session: Session, *, under: Agency | None = None) -> list[Agency]:
    stmt = select(Agency).order_by(Agency.path)
    if under is not None:
        stmt = stmt.where(Agency.path.startswith(under.path, autoescape=True))
    return list(session.scalars(stmt))


def descendants(session: Session, agency: Agency, *, include_self: bool = True) -> list[Agency]:
    rows = list_agencies(session, under=agency)
    return rows if include_self else [a for a in rows if a.id != agency.id]


def ancestors(session: Session, agency: Agency, *, include_self: bool = False) -> list[Agency]:
    """Root first."""
    ids = [uuid.UUID(hex=part) for part in agency.path.strip("/").split("/")]
    if not include_self:
        ids = ids[:-1]
    if not ids:
        return []
    found = {a.id: a for a in session.scalars(select(Agency).where(Agency.id.in_(ids)))}
    return [found[i] for i in ids]


def is_within(agency: Agency, scope: Agency) -> bool:
    """True when ``agency`` is ``scope`` or lies in its subtree."""
    return agency.path.startswith(scope.path)


def subtree_ids_stmt(scope: Agency):
    """A SELECT of the ids in ``scope``'s subtree, for ``Model.agency_id.in_(...)``."""
    return select(Agency.id).where(Agency.path.startswith(scope.path, autoescape=True))
