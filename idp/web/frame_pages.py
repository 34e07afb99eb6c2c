"""The pages' frame: a footer on every people's page (help, the PDPA privacy
notice, the accessibility statement, the central helpdesk) and the agency of the app a
sign-in is for next to GovID's name. ``/privacy`` and ``/accessibility`` are short,
honest pages in Thai and English."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

router = APIRouter()


def install(app, settings) -> None:
    """The central helpdesk in every page's footer (IDP_HELPDESK_*)."""
    app.state.pages.env.globals["central_helpdesk"] = {
        "email": settings.helpdesk_email or None,
        "phone": settings.helpdesk_phone or None,
        "url": settings.helpdesk_url or None,
    }
    app.include_router(router)


@router.get("/privacy")
def privacy(request: Request) -> Response:
    return request.app.state.pages.render(request, "privacy.html")


@router.get("/accessibility")
def accessibility(request: Request) -> Response:
    return request.app.state.pages.render(request, "accessibility.html")
