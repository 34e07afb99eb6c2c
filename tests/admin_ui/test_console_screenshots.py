"""Screenshots of the admin console's screens in Thai and English at 1280x800 (issue 20),
written to docs/screenshots/console-*.png when GOVID_SCREENSHOTS=1, as the people's pages
do (tests/e2e/test_screenshots.py):

    GOVID_SCREENSHOTS=1 .venv/bin/python -m pytest -q -p no:cacheprovider \\
        tests/admin_ui/test_console_screenshots.py

Every screen is also checked with axe-core (WCAG 2.1 A/AA) as an operator sees it (every
form offered), drawn in the shipped Sarabun for Thai, and loaded under its CSP. Without
the variable the test runs those checks only and writes nothing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from idp.agencies import service as agencies
from idp.auditing import verification
from idp.auditing.verify import verify
from idp.resources import registration
from tests.admin_ui.conftest import _person
from tests.admin_ui.test_journey_e2e import _sign_in_again
from tests.conftest import service_missing

OUT = Path(__file__).parents[2] / "docs" / "screenshots"
WRITE = os.environ.get("GOVID_SCREENSHOTS") == "1"
SIZE = (1280, 800)


@pytest.fixture(scope="module")
def shots(console_world):
    w = console_world
    u = w.users["admin"]["email"].split("@a", 1)[1].removesuffix(".go.th")
    with w.services.sessions.begin() as db:
        w.users["shot_op"] = _person(db, w.services, f"shot@a{u}.go.th", f"ma-{u}", "operator")
        api, _ = registration.create(
            db,
            registration.NewApi(
                agency_code=f"ma-{u}",
                identifier=f"https://api.a{u}.go.th/leave",
                name_th="ระบบการลา",
                name_en="Leave records",
                scopes=("leave:read",),
            ),
            issuer=w.govid,
        )
        agency_id = str(agencies.get_by_code(db, f"ma-{u}").id)
    with w.services.sessions.begin() as db:  # the dashboard then says "Intact"
        verification.record(db, verify(db, w.services.keys), kind="full", actor="cli")
    return {"w": w, "u": u, "api": str(api.id), "agency": agency_id}


def _screens(s) -> list[tuple[str, str]]:
    w = s["w"]
    return [
        ("dashboard", "/"),
        ("accounts", "/accounts"),
        ("accounts-search", f"/accounts?q=target&agency=ma-{s['u']}"),
        ("account", f"/accounts/{w.users['target']['id']}"),
        ("account-admin", f"/accounts/{w.users['admin']['id']}"),
        ("account-new", "/accounts/new"),
        ("roles", "/roles"),
        ("agencies", "/agencies"),
        ("agency", f"/agencies/{s['agency']}"),
        ("apps", "/apps"),
        ("app-new", "/apps/new"),
        ("app", f"/apps/{w.app.state.settings.client_id}"),
        ("apis", "/apis"),
        ("api", f"/apis/{s['api']}"),
        ("import", "/import"),
        ("audit", "/audit"),
    ]


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en", viewport={"width": SIZE[0], "height": SIZE[1]})
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def _check_and_shoot(page, name: str, lang: str, problems: dict) -> None:
    from tests.e2e.test_accessibility import AXE, violations

    page.evaluate("document.fonts.ready")
    assert page.locator("html").get_attribute("lang") == lang, name
    if lang == "th" and not page.evaluate(
        "document.fonts.check('1rem Sarabun', 'ภาษาไทย')"
        " && [...document.fonts].some(f => f.family.replace(/\"/g, '') === 'Sarabun'"
        " && f.status === 'loaded')"
    ):
        problems[f"{name} {lang}: Sarabun not loaded"] = True
    if AXE.exists() and (found := violations(page)):
        problems[f"{name} {lang}: axe"] = found
    if WRITE:
        OUT.mkdir(parents=True, exist_ok=True)
        page.screenshot(
            path=str(OUT / f"console-{name}-{lang}-desktop-{SIZE[0]}x{SIZE[1]}.png"),
            full_page=True,
        )


def test_every_console_screen_in_thai_and_english_passes_axe_and_is_photographed(page, shots):
    from tests.e2e.test_accessibility import AXE

    if not AXE.exists():
        service_missing(f"axe-core is not installed ({AXE}); run `make test`")
    w = shots["w"]
    _sign_in_again(page, {"w": w}, "shot_op", "/")
    problems: dict = {}
    for lang in ("th", "en"):
        page.goto(f"{w.console}/lang/{lang}?next=/")
        for name, path in _screens(shots):
            r = page.goto(f"{w.console}{path}")
            assert r.status == 200, (name, r.status)
            _check_and_shoot(page, name, lang, problems)
        # Screens reached by a POST: the dry-run report and a verified audit export.
        page.goto(f"{w.console}/import")
        u = shots["u"]
        csv = "email,agency,given_name_th,family_name_th\n" + "".join(
            f"shot{i}-{lang}@a{u}.go.th,{'nowhere' if i == 2 else 'ma-' + u},ทดสอบ,ภาพ\n"
            for i in range(1, 6)
        )
        page.set_input_files(
            "#file", files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
        )
        page.click("#dry-run")
        page.wait_for_selector("#row-errors", timeout=60000)
        _check_and_shoot(page, "import-report", lang, problems)
        page.goto(f"{w.console}/audit")
        page.click("#export")
        page.wait_for_selector("#verify-status", timeout=60000)
        _check_and_shoot(page, "audit-export", lang, problems)
    assert not problems, problems
    if WRITE:
        shots_written = list(OUT.glob("console-*-desktop-*.png"))
        assert len(shots_written) >= 2 * (len(_screens(shots)) + 2)
