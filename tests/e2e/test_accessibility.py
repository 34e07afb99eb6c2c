"""People's pages pass axe-core (WCAG 2.1 A/AA rules) in Chromium, in Thai and English.
axe-core comes from the npm lock file in tests/interop (installed by `make test`)."""

from pathlib import Path

import pytest

from tests.conftest import service_missing
from tests.protocol.conftest import PASSWORD
from tests.protocol.rp import authorize_url, rp_client

AXE = Path(__file__).parents[1] / "interop" / "node_modules" / "axe-core" / "axe.min.js"


def violations(page) -> list[dict]:
    # Evaluated through DevTools (as an extension would), not a <script> tag: the
    # page's own CSP stays in force and still governs everything the page does.
    if not page.evaluate("typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    result = page.evaluate(
        "axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21aa']}})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": len(v["nodes"])}
        for v in result["violations"]
    ]


@pytest.fixture(scope="module")
def axe_path():
    if not AXE.exists():
        service_missing(f"axe-core is not installed ({AXE}); run `make test`")
    return AXE


@pytest.mark.parametrize("locale", ["th", "en"])
def test_sign_in_mfa_enrolment_consent_account_pages(browser, e2e_world, axe_path, locale):
    w = e2e_world
    context = browser.new_context(locale=locale)  # the pages' CSP in force
    page = context.new_page()
    checked = {}
    url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale)
    page.goto(url)
    page.wait_for_selector("#email")
    assert page.locator("html").get_attribute("lang") == locale
    checked["login"] = violations(page)
    page.fill("#email", w.users["erin"])
    page.fill("#password", "wrong password for the error state")
    page.click("button[type=submit]")
    page.wait_for_selector("[role=alert]")
    checked["login with error"] = violations(page)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("form[action='/consent']")
    checked["consent"] = violations(page)
    page.goto(f"{w.base}/account?lang={locale}")
    checked["account"] = violations(page)
    page.goto(f"{w.base}/account/totp")
    checked["enrolment"] = violations(page)
    page.goto(f"{w.base}/authorize?client_id=nope")
    checked["error page"] = violations(page)
    context.close()
    bad = {name: v for name, v in checked.items() if v}
    assert not bad, bad
