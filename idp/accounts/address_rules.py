"""Which addresses an account may be given: an address's one spelling
(``normalise_email``) and the mail domains of its agency chain that the caller may
hand out (``domains_for``). Whether an address is free is ``idp.accounts.addresses``.
No web framework here."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterable

from sqlalchemy.orm import Session

from idp.agencies import service as agencies
from idp.agencies.models import Agency
from idp.errors import AddressOutsideDomains, InvalidInput

# Pragmatic address check (RFC 5321 lengths; one "@"; a dotted domain).
_EMAIL_RE = re.compile(r"^[^@\s\"<>(),;:\\\[\]]{1,64}@[a-z0-9.-]{1,253}\.[a-z]{2,63}$")


def normalise_email(raw: str) -> str:
    """NFKC, trimmed, lower case; ASCII only (the mail directory's addresses are), so a
    full-width or look-alike letter cannot make a second spelling of a taken address."""
    email = unicodedata.normalize("NFKC", raw).strip().lower()
    if not email.isascii() or not _EMAIL_RE.match(email):
        raise InvalidInput(f"not a valid email address: {raw!r}", field="email")
    return email


# Who may hand out an agency's addresses: the caller's authority (Scope.covers), or None
# for the system itself (bootstrap, the CLI run by an operator).
MayHandOut = Callable[[Agency], bool] | None


def domains_for(chain: Iterable[Agency], may_hand_out: MayHandOut = None) -> set[str]:
    """The mail domains an account of the last agency of ``chain`` (root first) may be
    given: those of the nearest agency up the chain that has any (an
    agency without domains uses its parent's), and those of agencies further up only for
    a caller whose authority covers them, so a department cannot take its ministry's
    addresses (and receive their mail) while the ministry's own admins can."""
    domains: set[str] = set()
    nearest = True
    for a in reversed(list(chain)):
        if not a.mail_domains:
            continue
        if nearest or may_hand_out is None or may_hand_out(a):
            domains.update(a.mail_domains)
        nearest = False
    return domains


def allowed_domains(session: Session, agency: Agency, may_hand_out: MayHandOut) -> set[str]:
    return domains_for(agencies.ancestors(session, agency, include_self=True), may_hand_out)


def check_domain(email: str, domains: set[str], field_name: str) -> None:
    """An address must lie in a mail domain the account may be given (``domains_for``);
    an agency chain without mail domains can be given no address."""
    if not domains:
        raise AddressOutsideDomains(
            f"{email}: the agency and its parent agencies have no mail domains; "
            "add one to the agency first",
            field=field_name,
        )
    if email.rsplit("@", 1)[1] not in domains:
        raise AddressOutsideDomains(
            f"{email} is not in the mail domains this account may be given here "
            f"({', '.join(sorted(domains))})",
            field=field_name,
        )
