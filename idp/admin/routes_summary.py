"""``/admin/v1/summary``: the console dashboard's figures for the caller's subtree."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter
from pydantic import BaseModel

from idp.accounts import summary as svc
from idp.admin.deps import CtxDep, respond
from idp.admin.schemas import dump

router = APIRouter(prefix="/summary", tags=["summary"])


class AccountCounts(BaseModel):
    by_status: dict[str, int]
    locked: int


class OutboxCounts(BaseModel):
    pending: int
    parked: int


class SignIns(BaseModel):
    since: dt.datetime
    succeeded: int
    failed: int


class Checkpoint(BaseModel):
    at: dt.datetime
    seq: int
    reason: str


class AuditState(BaseModel):
    last_checkpoint: Checkpoint | None
    last_seq: int | None


class Summary(BaseModel):
    accounts: AccountCounts
    outbox: OutboxCounts
    sign_ins: SignIns | None
    audit: AuditState | None


@router.get(
    "",
    response_model=Summary,
    summary="Figures for your subtree: accounts by status, locked, sign-ins today, "
    "directory outbox, the audit chain's newest checkpoint (sign-ins and audit: audit:read)",
)
def get_summary(ctx: CtxDep):
    return respond(200, dump(Summary, svc.summary(ctx)))
