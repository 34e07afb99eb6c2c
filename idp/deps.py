"""FastAPI dependencies, in one place (DESIGN §2 rule 3)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Annotated, Any, Protocol

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool
from starlette.responses import HTMLResponse, Response

from idp.config import Settings
from idp.services import Services
from idp.sessions.logout import end_session

if TYPE_CHECKING:
    from idp.oidc import InteractionPages
    from idp.sessions.models import SsoSession

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
    a sync generator dependency cost two thread-pool hops per request (decision 0009).
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


# ------------------------------------------------------------------ the people's pages


class Pages(Protocol):
    """The people's pages as every surface uses them: ``idp.web.render.Pages`` on
    ``app.state.pages``, built by ``create_app``. The protocol endpoints, rate limits,
    outages and body limits show a page through it without importing ``idp.web``."""

    session_cookie: str
    https: bool  # cookies are Secure and __Host- prefixed

    def locale(self, request: Request, ui_locales: str | None = None) -> str: ...

    def render(
        self,
        request: Request,
        template: str,
        *,
        status: int = 200,
        locale: str | None = None,
        headers: dict[str, str] | None = None,
        form_target: str | None = None,
        **context: Any,
    ) -> HTMLResponse: ...

    def error(
        self,
        request: Request,
        error: str,
        message: str,
        *,
        status: int = 400,
        interaction: str | None = None,
        restart: str | None = None,
        **values: str,
    ) -> HTMLResponse: ...

    def csrf_ok(self, request: Request, submitted: str | None) -> bool: ...

    def set_cookie(
        self, response: Response, name: str, value: str, *, max_age: int | None
    ) -> None: ...

    def clear_cookie(self, response: Response, name: str) -> None: ...

    def wait_text(self, seconds: int, locale: str) -> str: ...


def pages(request: Request) -> Pages:
    return request.app.state.pages


def interaction_pages(request: Request) -> InteractionPages:
    """The pages the provider asks for during a sign-in or a logout (sign-in form,
    account choice, consent, form_post, logout): rendered by ``idp.web.sign_in_pages``,
    wired by ``create_app`` (sign-in flows one way, web -> oidc)."""
    return request.app.state.interaction_pages


def client_ip(request: Request) -> str | None:
    """The caller's address (behind trusted proxies, the one they vouch for: idp.net)."""
    return request.client.host if request.client else None


def end_browser_session(
    request: Request, db: Session, services: Services, row: SsoSession, reason: str
) -> None:
    """End an SSO session at a browser's request (/end_session, the account page's sign
    out and "end that session"): the session ends, its grants are revoked, its apps are
    queued a back-channel logout with this request's address and browser in the audit,
    and the logout worker is woken to deliver them now. The caller clears the cookie
    when the session was this browser's own."""
    end_session(
        db,
        services.keys,
        issuer=services.settings.issuer,
        row=row,
        reason=reason,
        now=services.clock.now(),
        ip=client_ip(request),
        user_agent=request.headers.get("user-agent"),
    )
    worker = getattr(request.app.state, "logout_worker", None)
    if worker is not None:
        worker.wake()
