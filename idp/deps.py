"""FastAPI dependencies, in one place (DESIGN §2 rule 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from idp.config import Settings
from idp.services import Services

COMMIT_ON_ERROR = "govid_commit_on_error"


# async: they only read app.state, so they need no trip through the thread pool.
async def get_services(request: Request) -> Services:
    return request.app.state.services


async def get_settings(request: Request) -> Settings:
    return request.app.state.services.settings


async def get_db(request: Request) -> AsyncIterator[Session]:
    """One transaction per request: committed when the handler returns normally, rolled
    back when it raises.

    Declared with ``scope="function"`` below so the commit happens *before* the response
    is sent: an RP that redeems a code the instant it arrives must find it committed.
    An async dependency: making a Session does no I/O, so only the commit (or rollback)
    goes to the thread pool, and none at all when the request never used the database —
    a sync generator dependency cost two thread-pool hops per request (issue 5, S3).
    """
    services: Services = request.app.state.services
    session = services.sessions()
    try:
        yield session
    except BaseException:
        # A dependency that rolled the failed work back to its savepoint and recorded
        # the refusal asks for that record to be kept (idp.admin.deps.get_ctx).
        await _finish(session, commit=session.info.pop(COMMIT_ON_ERROR, False))
        raise
    await _finish(session, commit=True)


async def _finish(session: Session, *, commit: bool) -> None:
    # Never touched the database and holds nothing to write (an object added but not
    # yet flushed has not begun a transaction, and must still be committed).
    if not (session.in_transaction() or session.new or session.dirty or session.deleted):
        session.close()
        return
    await run_in_threadpool(_end_transaction, session, commit)


def _end_transaction(session: Session, commit: bool) -> None:
    try:
        if commit:
            session.commit()
        else:
            session.rollback()
    finally:
        session.close()


ServicesDep = Annotated[Services, Depends(get_services)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
DbDep = Annotated[Session, Depends(get_db, scope="function")]
