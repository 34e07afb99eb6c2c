"""An agency's logo in the pages' frame, in Chromium with the pages' CSP in force: the
sign-in page of an app of the agency shows it beside the agency's name (alt="" since the
name is there), the image loads under the page's CSP, it is served with its own type,
nosniff and a long cache, and the page passes axe-core in Thai and English on a desktop
and a phone. (Uploads through the admin API: tests/admin/test_agency_logo.py.)"""

from __future__ import annotations

import hashlib

import pytest
from sqlalchemy import select

from idp.agencies.models import Agency, AgencyLogo
from idp.clients.models import Client
from tests.e2e.test_accessibility import axe_path, violations  # noqa: F401 (fixture)
from tests.images import png
from tests.protocol.rp import authorize_url, rp_client


@pytest.fixture
def department_logo(e2e_world):
    """The seeded department's logo (taken away again: the world is shared)."""
    w = e2e_world
    image = png(120, 40)
    with w.services.sessions.begin() as db:
        web = db.scalars(select(Client).where(Client.client_id == w.client("web")["client_id"]))
        dept = db.get(Agency, web.one().agency_id)  # the seeded department
        db.add(
            AgencyLogo(
                agency_id=dept.id,
                content_type="image/png",
                data=image,
                sha256=hashlib.sha256(image).hexdigest(),
            )
        )
        dept_id = dept.id
    yield image
    with w.services.sessions.begin() as db:
        db.delete(db.get(AgencyLogo, dept_id))


@pytest.mark.parametrize("lang", ["th", "en"])
def test_the_sign_in_page_shows_the_agencys_logo(
    browser,
    e2e_world,
    department_logo,
    axe_path,  # noqa: F811
    lang,
):
    w = e2e_world
    for width, height in ((1280, 800), (390, 844)):
        context = browser.new_context(locale=lang, viewport={"width": width, "height": height})
        page = context.new_page()
        url, *_ = authorize_url(w, rp_client(w), ui_locales=lang)
        page.goto(url)
        logo = page.locator("header #agency-brand img#agency-logo")
        logo.wait_for()
        assert logo.get_attribute("alt") == ""
        agency = {"th": "กรมทดสอบ", "en": "Test Department"}[lang]
        assert page.locator("header #agency-brand").inner_text() == agency
        # Drawn (decoded under the page's CSP), not a broken image.
        page.wait_for_function("document.getElementById('agency-logo').complete")
        assert logo.evaluate("img => img.naturalWidth") == 120
        answer = page.request.get(f"{w.base}{logo.get_attribute('src')}")
        assert answer.body() == department_logo
        assert answer.headers["content-type"] == "image/png"
        assert answer.headers["x-content-type-options"] == "nosniff"
        assert "immutable" in answer.headers["cache-control"]
        assert page.locator("html").get_attribute("lang") == lang
        assert violations(page) == []
        assert page.evaluate("document.documentElement.scrollWidth") <= width
        context.close()
