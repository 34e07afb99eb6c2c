"""The pages' frame: a footer on every people's page (help, the PDPA privacy
notice, the accessibility statement, the central helpdesk) and the agency of the app a
sign-in is for next to GovID's name, with its logo when an operator uploaded one
(``/agency-logos/...``). ``/privacy`` and ``/accessibility`` are short, honest pages in
Thai and English."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from fastapi.responses import Response

from idp.agencies import logos
from idp.deps import DbDep

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


# The name holds the content's hash (logos.logo_path): a year's cache, and a new upload
# is a new name. The type is the one checked at upload; nosniff and a CSP that allows
# nothing keep a browser from taking the bytes for anything but that image.
LOGO_HEADERS = {
    "Cache-Control": "public, max-age=31536000, immutable",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": "default-src 'none'; sandbox",
    "Cross-Origin-Resource-Policy": "same-origin",
}


@router.get("/agency-logos/{agency_id}/{version}")
def agency_logo(db: DbDep, agency_id: uuid.UUID, version: str) -> Response:
    row = logos.served(db, agency_id, version)
    if row is None:
        return Response(status_code=404, headers={"Cache-Control": "no-store"})
    return Response(row.data, media_type=row.content_type, headers=LOGO_HEADERS)
