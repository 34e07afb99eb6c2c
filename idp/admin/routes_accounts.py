"""``/admin/v1/accounts``: thin routes (parse → one service call → response)."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.orm import object_session

from idp.accounts import manage as svc
from idp.accounts import search
from idp.accounts.service import AccountChanges, NewAccount
from idp.admin.deps import (
    CtxDep,
    Cursor,
    IdempotencyKey,
    IfMatch,
    IfMatchOptional,
    Limit,
    idempotent,
    respond,
)
from idp.admin.schemas import (
    AccountCreate,
    AccountCreated,
    AccountOut,
    AccountPatch,
    Instant,
    MfaResetOut,
    Page,
    PasswordResetIn,
    PasswordResetOut,
    SessionOut,
    SessionsEnded,
    SuspendIn,
    dump,
)
from idp.authz.caller import protections
from idp.authz.context import etag

router = APIRouter(prefix="/accounts", tags=["accounts"])
Filter = Annotated[str | None, Query(max_length=320, pattern=r"^[^\x00-\x1f\x7f]*$")]


def account_body(
    a, now: dt.datetime, protected: str | None = None, second_factor: bool | None = None
) -> dict:
    """``now`` is the Clock's (DESIGN rule 4): ``locked`` compares with a lock it set."""
    if second_factor is None:  # one account: ask; a page passes what it read at once
        session = object_session(a)
        second_factor = bool(session and search.second_factor_ids(session, [a.id]))
    return dump(
        AccountOut,
        {
            **{
                k: getattr(a, k) for k in AccountOut.model_fields if hasattr(a, k) and k != "agency"
            },
            "agency": {"id": a.agency.id, "code": a.agency.code},
            "has_password": a.password_hash is not None,
            "aliases": list(a.aliases or []),
            "protected": protected,
            "has_second_factor": second_factor,
            "locked": a.locked_until is not None and a.locked_until > now,
        },
    )


def _account(ctx, a, status: int = 200):
    return respond(status, account_body(a, ctx.services.clock.now()), etag=etag(a.version))


@router.get("", response_model=Page[AccountOut], summary="List accounts in your subtree")
def list_accounts(
    ctx: CtxDep,
    status: Annotated[str | None, Query(pattern="^(active|suspended|deleted)$")] = None,
    agency: Filter = None,
    email_prefix: Filter = None,
    updated_since: Instant | None = None,
    q: Annotated[
        str | None,
        Query(
            min_length=1,
            max_length=100,
            pattern=r"^[^\x00-\x1f\x7f]*$",
            description="Words that each begin a name (Thai or English) or the email; "
            "four digits also match the citizen ID's last four",
        ),
    ] = None,
    has_second_factor: bool | None = None,
    locked: bool | None = None,
    sort: Annotated[str, Query(pattern=r"^-?(email|created_at|updated_at)$")] = "email",
    cursor: Cursor = None,
    limit: Limit = 50,
):
    page = search.list_accounts(
        ctx,
        search.AccountFilter(
            status, agency, email_prefix, updated_since, q, has_second_factor, locked
        ),
        sort=sort,
        cursor=cursor,
        limit=limit,
    )
    now = ctx.services.clock.now()
    protected = protections(ctx.caller, ctx.db, page.items, now)
    mfa = search.second_factor_ids(ctx.db, [a.id for a in page.items])
    items = [account_body(a, now, protected.get(a.id), a.id in mfa) for a in page.items]
    return respond(200, {"items": items, "next_cursor": page.next_cursor})


@router.post("", response_model=AccountCreated, status_code=201, summary="Create an account")
def create_account(request: Request, ctx: CtxDep, body: AccountCreate, key: IdempotencyKey = None):
    def run():
        created = svc.create(
            ctx,
            NewAccount(
                email=body.email,
                agency_code=body.agency,
                given_name_th=body.given_name_th,
                family_name_th=body.family_name_th,
                given_name_en=body.given_name_en,
                family_name_en=body.family_name_en,
                locale=body.locale,
                citizen_id=body.citizen_id,
                password=body.password,
                mailbox_quota_mb=body.mailbox_quota_mb,
                attachment_limit_mb=body.attachment_limit_mb,
                aliases=tuple(body.aliases),
            ),
        )
        a = created.account
        out = {
            **account_body(a, ctx.services.clock.now()),
            "activation_token": created.activation_token,
            "activation_expires_at": created.activation_expires_at,
        }
        return respond(
            201,
            dump(AccountCreated, out),
            etag=etag(a.version),
            location=f"{request.scope.get('root_path', '')}/accounts/{a.id}",
        )

    return idempotent(request, ctx, key, body, run)


@router.get("/{account_id}", response_model=AccountOut, summary="Read an account")
def get_account(ctx: CtxDep, account_id: uuid.UUID):
    a = svc.get(ctx, account_id)
    now = ctx.services.clock.now()
    return respond(
        200,
        account_body(a, now, protections(ctx.caller, ctx.db, [a], now).get(a.id)),
        etag=etag(a.version),
    )


@router.patch("/{account_id}", response_model=AccountOut, summary="Change names, aliases, quota")
def patch_account(ctx: CtxDep, account_id: uuid.UUID, body: AccountPatch, if_match: IfMatch):
    changes = AccountChanges(**body.model_dump(exclude_unset=True, exclude_none=True))
    return _account(ctx, svc.update(ctx, account_id, changes, if_match))


@router.delete("/{account_id}", response_model=AccountOut, summary="Delete (soft)")
def delete_account(
    ctx: CtxDep, account_id: uuid.UUID, if_match: IfMatch, body: SuspendIn | None = None
):
    return _account(ctx, svc.delete(ctx, account_id, if_match, body.reason if body else ""))


@router.post("/{account_id}/suspend", response_model=AccountOut, summary="Suspend")
def suspend(
    request: Request,
    ctx: CtxDep,
    account_id: uuid.UUID,
    if_match: IfMatchOptional,
    body: SuspendIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else ""
    return idempotent(
        request,
        ctx,
        key,
        body,
        lambda: _account(ctx, svc.suspend(ctx, account_id, reason, if_match)),
    )


@router.post("/{account_id}/resume", response_model=AccountOut, summary="Undo a suspension")
def resume(
    request: Request,
    ctx: CtxDep,
    account_id: uuid.UUID,
    if_match: IfMatchOptional,
    body: SuspendIn | None = None,
    key: IdempotencyKey = None,
):
    reason = body.reason if body else ""
    return idempotent(
        request,
        ctx,
        key,
        body,
        lambda: _account(ctx, svc.resume(ctx, account_id, if_match, reason)),
    )


@router.post(
    "/{account_id}/password-reset", response_model=PasswordResetOut, summary="Reset password"
)
def reset_password(
    request: Request,
    ctx: CtxDep,
    account_id: uuid.UUID,
    if_match: IfMatchOptional,
    body: PasswordResetIn | None = None,
    key: IdempotencyKey = None,
):
    def run():
        r = svc.reset_password(ctx, account_id, body.password if body else None, if_match)
        out = {
            "account": account_body(r.account, ctx.services.clock.now()),
            "link_token": r.link_token,
            "link_expires_at": r.link_expires_at,
            "sessions_ended": r.sessions_ended,
        }
        return respond(200, dump(PasswordResetOut, out), etag=etag(r.account.version))

    return idempotent(request, ctx, key, body, run)


@router.post("/{account_id}/mfa/reset", response_model=MfaResetOut, summary="Reset second factors")
def reset_mfa(
    request: Request,
    ctx: CtxDep,
    account_id: uuid.UUID,
    if_match: IfMatchOptional,
    key: IdempotencyKey = None,
):
    def run():
        account, removed, ended = svc.reset_mfa(ctx, account_id, if_match)
        out = {
            "account": account_body(account, ctx.services.clock.now()),
            "credentials_removed": removed,
            "sessions_ended": ended,
        }
        return respond(200, dump(MfaResetOut, out), etag=etag(account.version))

    return idempotent(request, ctx, key, None, run)


class SessionList(BaseModel):
    items: list[SessionOut]


class EndSessions(BaseModel):
    sid: str | None = Field(None, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")


@router.get("/{account_id}/sessions", response_model=SessionList, summary="Live sessions")
def list_sessions(ctx: CtxDep, account_id: uuid.UUID):
    rows = svc.list_sessions(ctx, account_id)
    items = [
        dump(
            SessionOut,
            {**{k: getattr(s, k) for k in SessionOut.model_fields if k != "clients"}, "clients": c},
        )
        for s, c in rows
    ]
    return respond(200, {"items": items})


@router.post(
    "/{account_id}/sessions/end",
    response_model=SessionsEnded,
    summary="End one session (sid) or all; back-channel logout is sent",
)
def end_sessions(
    request: Request,
    ctx: CtxDep,
    account_id: uuid.UUID,
    body: EndSessions | None = None,
    key: IdempotencyKey = None,
):
    sid = body.sid if body else None
    return idempotent(
        request,
        ctx,
        key,
        body,
        lambda: respond(200, {"sessions_ended": svc.end_sessions(ctx, account_id, sid)}),
    )
