"""The console end to end in Chromium with every page's CSP in force: an agency admin
signs in through GovID's pages at level 2 (password, then TOTP), reads their roles, lists
and searches accounts, suspends one with a reason (If-Match, Idempotency-Key), is refused
another ministry's account by URL (404 from the API), and a sign-out at GovID ends the
console session by back-channel logout."""

from __future__ import annotations

import time

import pyotp
import pytest

from admin_ui.store import SessionStore
from tests.admin_ui.conftest import PASSWORD
from tests.conftest import service_missing
from tests.waiting import wait_until


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en")  # the CSP stays in force
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def _sign_in(page, w, who: str, start: str = "/") -> None:
    person = w.users[who]
    page.goto(f"{w.console}{start}")
    page.wait_for_selector("#email")
    assert page.url.startswith(w.govid)
    page.fill("#email", person["email"])
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_selector("form[action='/mfa'] #code")
    # The next period's code: the enrolment's code may not be used twice.
    page.fill("#code", pyotp.TOTP(person["totp"]).at(time.time() + 30))
    page.click("form[action='/mfa'] [type=submit]")
    page.wait_for_url(f"{w.console}{start}", timeout=15000)


def _store(w) -> SessionStore:
    return w.app.state.store


def test_admin_signs_in_lists_suspends_and_is_refused_elsewhere(page, console_world):
    w = console_world
    _sign_in(page, w, "admin", "/accounts")
    # Went to GovID and back to the page asked for.
    assert page.locator("#accounts").is_visible()
    emails = page.locator("#accounts tbody td:first-child a").all_inner_texts()
    assert w.users["admin"]["email"] in emails and w.users["target"]["email"] in emails
    assert w.users["other"]["email"] not in emails  # another ministry: not listed

    # The dashboard shows who and which roles (from the API's answer).
    page.goto(f"{w.console}/")
    assert w.users["admin"]["email"] in page.locator("#who-email").inner_text()
    assert "Agency admin" in page.locator("#roles").inner_text()

    # Search by email prefix, then open and suspend with a reason.
    page.goto(f"{w.console}/accounts")
    page.fill("#q", "target@")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_url("**/accounts?**")
    assert page.locator("#accounts tbody tr").count() == 1
    page.click(f"text={w.users['target']['email']}")
    page.wait_for_selector("#protected")
    assert "Not protected" in page.locator("#protected").inner_text()
    page.fill("#reason", "left the department")
    page.click("#suspend")
    page.wait_for_selector("#done")
    assert page.locator("#status-tag").inner_text() == "Suspended"
    assert page.locator("#resume").is_visible()

    # Thai: the same page in the person's other language.
    page.click("a[hreflang=th]")
    page.wait_for_selector("html[lang=th]")
    assert page.locator("#status-tag").inner_text() == "ระงับ"
    page.click("a[hreflang=en]")
    page.wait_for_selector("html[lang=en]")

    # Another ministry's account by URL: the API answers 404 and so does the console.
    r = page.goto(f"{w.console}/accounts/{w.users['other']['id']}")
    assert r.status == 404
    assert "Not found" in page.locator("[role=alert]").inner_text()


def test_a_stale_etag_is_refused_in_the_persons_language(page, console_world):
    """Another admin of the same ministry is not protected (the caller's authority covers
    their role); a stale ETag is 412, shown on the page, nothing changed."""
    w = console_world
    _sign_in(page, w, "admin2", "/")
    page.goto(f"{w.console}/accounts/{w.users['admin']['id']}")
    page.wait_for_selector("#suspend")
    page.evaluate(
        "document.querySelector('form[action$=\"/suspend\"] input[name=etag]').value = '\"999\"'"
    )
    page.click("#suspend")
    page.wait_for_selector("#action-error")
    assert "Changed by someone else" in page.locator("#action-error").inner_text()
    assert page.locator("#status-tag").inner_text() == "Active"


def test_back_channel_logout_from_govid_ends_the_console_session(page, console_world):
    w = console_world
    _sign_in(page, w, "admin3", "/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "govid_admin")
    session_id = _store(w).unsign(cookie["value"])
    record = _store(w).load(session_id)
    assert record is not None and record.sid
    # The person signs out at GovID (RP-initiated, no id_token_hint: GovID asks first).
    client_id = w.app.state.settings.client_id
    page.goto(
        f"{w.govid}/end_session?client_id={client_id}"
        f"&post_logout_redirect_uri={w.console}/signed-out"
    )
    page.click("form[action='/end_session/confirm'] button[value=yes]")
    page.wait_for_url(f"{w.console}/signed-out", timeout=15000)
    # GovID's back-channel delivery removes the console's session.
    wait_until(
        lambda: _store(w).load(session_id) is None, 15, "a back-channel logout at the console"
    )
    page.goto(f"{w.console}/accounts")
    page.wait_for_selector("#password")  # GovID asks again: no console session left
    assert page.url.startswith(w.govid)


def test_sign_out_ends_the_console_and_govid_sessions(page, console_world):
    w = console_world
    _sign_in(page, w, "admin4", "/")
    cookie = next(c for c in page.context.cookies() if c["name"] == "govid_admin")
    session_id = _store(w).unsign(cookie["value"])
    page.click("#sign-out")  # POST /logout (CSRF) -> GovID's end_session with the hint
    page.wait_for_url(f"{w.console}/signed-out", timeout=15000)
    assert _store(w).load(session_id) is None
    assert page.locator("h1").inner_text() == "You have signed out of the console"
    page.goto(f"{w.console}/")
    page.wait_for_selector("#password")  # GovID's session ended too


def test_every_screen_passes_axe_in_both_languages(page, console_world):
    from tests.e2e.test_accessibility import AXE, violations

    if not AXE.exists():
        service_missing(f"axe-core is not installed ({AXE}); run `make test`")
    w = console_world
    _sign_in(page, w, "admin5", "/")
    screens = [
        "/",
        "/accounts",
        "/accounts?status=suspended",
        f"/accounts/{w.users['target']['id']}",
        f"/accounts/{w.users['admin2']['id']}",
        f"/accounts/{w.users['other']['id']}",  # the 404 page
        "/signed-out",
    ]
    found = {}
    for lang in ("en", "th"):
        page.goto(f"{w.console}/lang/{lang}?next=/")
        for path in screens:
            page.goto(f"{w.console}{path}")
            assert page.locator("html").get_attribute("lang") == lang
            bad = violations(page)
            if bad:
                found[f"{lang} {path}"] = bad
    assert not found, found
