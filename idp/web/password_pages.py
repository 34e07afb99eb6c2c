"""``/password/set?token=…``: the page behind activation and reset links that agency
administrators hand out (``/admin/v1`` returns the token). The link is single use; a
password the policy refuses leaves it valid, so the person can try again."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from idp.accounts import links
from idp.audit import service as audit
from idp.credentials.login import unlock_account
from idp.credentials.policy import WeakPassword
from idp.credentials.service import set_password
from idp.deps import DbDep, ServicesDep, pages
from idp.errors import DomainError
from idp.sessions.logout import end_everything
from idp.web.i18n import translator

router = APIRouter()
Str = Annotated[str, Form()]


def _dead_link(request: Request) -> Response:
    pg = pages(request)
    return pg.error(request, "invalid_link", "link_invalid")


@router.get("/password/set")
def set_password_form(request: Request, db: DbDep, token: str = "") -> Response:
    """A used, expired or unknown link is refused when it is opened, not after a
    password was typed; the page names the account (a username field, read-only, for
    password managers to save the new password under)."""
    account = links.peek(db, token)
    if account is None:
        return _dead_link(request)
    return pages(request).render(request, "set_password.html", token=token, email=account.email)


@router.post("/password/set")
def set_password_submit(
    request: Request,
    db: DbDep,
    services: ServicesDep,
    csrf_token: Str = "",
    token: Str = "",
    new_password: Str = "",
) -> Response:
    pg = pages(request)
    locale = pg.locale(request)
    t = translator(locale)
    if not pg.csrf_ok(request, csrf_token):
        account = links.peek(db, token)
        if account is None:
            return _dead_link(request)
        return pg.render(
            request,
            "set_password.html",
            token=token,
            email=account.email,
            error=t("csrf"),
            status=400,
        )
    for purpose in ("activate", "reset"):
        nested = db.begin_nested()
        try:
            account = links.consume(db, token, purpose)
        except DomainError:
            nested.rollback()
            continue
        try:
            set_password(db, services.hasher, services.settings, account, new_password)
        except WeakPassword as exc:
            nested.rollback()  # the link stays usable
            return pg.render(
                request,
                "set_password.html",
                token=token,
                email=account.email,
                status=400,
                error=exc.localized(locale),
            )
        nested.commit()
        unlock_account(
            db, services.throttle_store(db), account, by="password_reset", actor=str(account.id)
        )
        ended = end_everything(
            db,
            services.keys,
            issuer=services.settings.issuer,
            account_id=account.id,
            reason="password_reset",
        )
        audit.record(
            db,
            "credentials.password.changed",
            actor=str(account.id),
            subject=str(account.id),
            agency_id=account.agency_id,
            details={"by": "reset", "sessions_ended": ended},
        )
        return pg.render(request, "set_password.html", done=True)
    return _dead_link(request)
