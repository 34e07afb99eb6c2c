"""Small builders for test data, through the real services."""

from __future__ import annotations

from sqlalchemy.orm import Session

from idp.accounts import service as accounts
from idp.agencies import service as agencies
from idp.agencies.models import Agency


def agency(db: Session, code: str, parent: str | None = None, domains=()) -> Agency:
    return agencies.create(
        db,
        agencies.NewAgency(
            code=code,
            name_th=f"หน่วยงาน {code}",
            name_en=f"Agency {code}",
            parent_code=parent,
            mail_domains=tuple(domains),
        ),
        actor="test",
    )


def tree(db: Session, u: str) -> dict[str, Agency]:
    """ministry ─┬─ dept ─┬─ office1
             │        └─ office2
             └─ dept2
    other (separate ministry)"""
    t = {}
    t["ministry"] = agency(db, f"min-{u}", domains=[f"{u}.go.th"])
    t["dept"] = agency(db, f"dept-{u}", parent=f"min-{u}")
    t["office1"] = agency(db, f"off1-{u}", parent=f"dept-{u}")
    t["office2"] = agency(db, f"off2-{u}", parent=f"dept-{u}")
    t["dept2"] = agency(db, f"dept2-{u}", parent=f"min-{u}")
    t["other"] = agency(db, f"other-{u}", domains=[f"other{u}.go.th"])
    return t


def account(db: Session, email: str, agency_code: str, *, hasher, cipher, **kw):
    return accounts.create(
        db,
        accounts.NewAccount(email=email, agency_code=agency_code, **kw),
        hasher=hasher,
        cipher=cipher,
        actor="test",
    )
