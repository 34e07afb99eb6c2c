"""``/password/set?token=…``: the page behind activation and reset links that agency
administrators hand out (``/admin/v1`` returns the token). The link is single use; a
password the policy refuses leaves it valid, so the person can try again. The use case:
``credentials.service.set_password_by_link``."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import Response

from idp.accounts import links
from idp.credentials import service as creds
from idp.credentials.policy import WeakPassword
from idp.deps import DbDep, ServicesDep, pages
from idp.errors import DomainError
from idp.web.i18n import translator

router = APIRouter()
Str = Annotated[str, Form()]


def _dead_link(request: Request) -> Response:
    pg = pages(request)
    return pg.error(request, "invalid_link", "link_invalid")


@router.get("/password/set")
def set_password_form(
    request: Request, db: DbDep, services: ServicesDep, token: str = ""
) -> Response:
    """A used, expired or unknown link is refused when it is opened, not after a
    password was typed; the page names the account (a username field, read-only, for
    password managers to save the new password under)."""
    account = links.peek(db, token, services.clock.now())
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
        account = links.peek(db, token, services.clock.now())
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
    try:
        creds.set_password_by_link(
            db,
            services.hasher,
            services.keys,
            services.settings,
            services.throttle_store(db),
            token,
            new_password,
            services.clock.now(),
        )
    except WeakPassword as exc:
        account = links.peek(db, token, services.clock.now())  # the link stays usable: try again
        if account is None:
            return _dead_link(request)
        return pg.render(
            request,
            "set_password.html",
            token=token,
            email=account.email,
            status=400,
            error=exc.localized(locale),
        )
    except DomainError:
        return _dead_link(request)
    return pg.render(request, "set_password.html", done=True)
