"""Accounts, roles and the dashboard end to end in Chromium with every page's CSP in
force, against a real `idp serve` and console (tests/admin_ui/conftest.py):

* an agency admin creates an account (the activation link shown once, copied with the
  copy button), resets its password (a new link shown once, never in a URL or in the
  browser's storage), then suspends it; the account's recent events show it;
* the suspension journey with the keyboard only (search, open, reason, suspend);
* an auditor is offered nothing the API would not decide: their suspension is refused
  by the API (403) and shown as such, nothing changed;
* axe-core finds nothing on these screens in Thai and English."""

from __future__ import annotations

import pytest

from idp.accounts import service as accounts
from idp.accounts.models import Account
from tests.admin_ui.conftest import _person
from tests.admin_ui.test_console_e2e import _sign_in
from tests.conftest import service_missing


@pytest.fixture(scope="module")
def world(console_world):
    """The console world plus an auditor of ministry A, admins for one sign-in each, an
    account the auditor tries to suspend and a suspended one (for its page)."""
    w = console_world
    u = w.users["admin"]["email"].split("@a", 1)[1].removesuffix(".go.th")
    code_a = f"ma-{u}"
    with w.services.sessions.begin() as db:
        w.users["auditor"] = _person(db, w.services, f"aud@a{u}.go.th", code_a, "auditor")
        for name in ("creator", "keyboard", "axe"):
            w.users[name] = _person(db, w.services, f"{name}@a{u}.go.th", code_a, "agency_admin")
        w.users["victim"] = _person(db, w.services, f"victim@a{u}.go.th", f"da-{u}")
        w.users["paused"] = _person(db, w.services, f"paused@a{u}.go.th", f"da-{u}")
        accounts.suspend(db, db.get(Account, _uuid(w.users["paused"]["id"])), reason="test")
    w.u, w.code_a = u, code_a
    return w


def _uuid(value: str):
    import uuid

    return uuid.UUID(value)


def _status(w, account_id: str) -> str:
    with w.services.sessions() as db:
        return db.get(Account, _uuid(account_id)).status


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en")  # the CSP stays in force
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def _no_secret_in_the_browser(page, secret: str) -> None:
    stored = page.evaluate(
        "JSON.stringify([Object.entries(localStorage), Object.entries(sessionStorage)])"
    )
    assert secret not in stored and stored == "[[],[]]"
    assert all(secret not in c["value"] for c in page.context.cookies())
    assert secret not in page.url


def test_admin_creates_an_account_resets_its_password_and_suspends_it(page, world):
    w = world
    _sign_in(page, w, "creator", "/accounts/new")
    email = f"new.person@a{w.u}.go.th"
    page.fill("#email", email)
    page.fill("#agency", f"da-{w.u}")
    page.fill("#given_name_th", "สมหญิง")
    page.fill("#family_name_th", "รักดี")
    page.fill("#given_name_en", "Somying")
    page.fill("#family_name_en", "Rakdee")
    page.click("#create")
    page.wait_for_selector("#one-time-link")
    link = page.input_value("#one-time-link")
    assert link.startswith(f"{w.govid}/password/set?token=")
    token = link.split("token=", 1)[1]
    assert page.url == f"{w.console}/accounts/new"  # the POST's answer: no token in a URL
    _no_secret_in_the_browser(page, token)
    # The copy button (copy.js under script-src 'self') puts the link on the clipboard.
    page.click("#copy-link")
    page.locator("#copy-status", has_text="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == link
    page.click("#to-account")
    page.wait_for_selector("#status-tag")
    assert token not in page.content()  # shown once
    account_id = page.url.rsplit("/", 1)[1]
    # The link really works at GovID (not used up by being shown).
    other = page.context.new_page()
    assert other.goto(link).status == 200
    other.close()

    # Search finds it by its Thai name; then a password reset link, shown once.
    page.goto(f"{w.console}/accounts?q=สมหญิง")
    assert page.locator("#accounts tbody tr").count() == 1
    page.goto(f"{w.console}/accounts/{account_id}")
    page.click("#password-reset")
    page.wait_for_selector("#one-time-link")
    reset = page.input_value("#one-time-link")
    assert reset.startswith(f"{w.govid}/password/set?token=") and reset != link
    _no_secret_in_the_browser(page, reset.split("token=", 1)[1])
    page.click("#to-account")
    page.wait_for_selector("#status-tag")
    assert reset not in page.content()

    # Suspend with a reason; the account's recent events show it.
    page.fill("#reason", "moved to another ministry")
    page.click("#suspend")
    page.wait_for_selector("#done")
    assert page.locator("#status-tag").inner_text() == "Suspended"
    assert _status(w, account_id) == "suspended"
    assert "admin.account.suspended" in page.locator("#events").inner_text()
    assert "admin.account.password_reset" in page.locator("#events").inner_text()


def _tab_to(page, selector: str, limit: int = 80) -> None:
    """Press Tab until the element matching ``selector`` has the focus."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate(f"document.activeElement.matches({selector!r})"):
            return
    raise AssertionError(f"{selector} never received the focus by Tab")


def test_the_suspension_journey_with_the_keyboard_only(page, world):
    w = world
    target = w.users["target"]
    _sign_in(page, w, "keyboard", "/accounts")
    _tab_to(page, "#q")
    page.keyboard.type(target["email"])
    page.keyboard.press("Enter")  # submits the search form
    page.wait_for_url("**/accounts?**")
    _tab_to(page, f"#accounts a[href='/accounts/{target['id']}']")
    page.keyboard.press("Enter")
    page.wait_for_selector("#protected")
    _tab_to(page, "#reason")
    page.keyboard.type("on leave")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.id") == "suspend"
    page.keyboard.press("Enter")
    page.wait_for_selector("#done")
    assert page.locator("#status-tag").inner_text() == "Suspended"
    assert _status(w, target["id"]) == "suspended"


def test_an_auditors_suspension_is_refused_by_the_api_and_shown(page, world):
    w = world
    victim = w.users["victim"]
    _sign_in(page, w, "auditor", "/")
    # The auditor's dashboard: the subtree's figures, from the API.
    assert int(page.locator("#count-active").inner_text()) >= 3
    assert page.locator("#count-sign-ins").is_visible()
    page.goto(f"{w.console}/accounts/{victim['id']}")
    page.fill("#reason", "not allowed")
    page.click("#suspend")
    page.wait_for_selector("#action-error")
    assert "Your role does not allow this." in page.locator("#action-error").inner_text()
    assert page.locator("#status-tag").inner_text() == "Active"
    assert _status(w, victim["id"]) == "active"
    # Granting a role is refused the same way.
    page.fill("#role_agency", f"da-{w.u}")
    page.click("#grant")
    page.wait_for_selector("#role-error")
    assert "Your role does not allow this." in page.locator("#role-error").inner_text()


def test_these_screens_pass_axe_in_both_languages(page, world):
    from tests.e2e.test_accessibility import AXE, violations

    if not AXE.exists():
        service_missing(f"axe-core is not installed ({AXE}); run `make test`")
    w = world
    _sign_in(page, w, "axe", "/")
    screens = [
        "/",
        "/accounts",
        f"/accounts?q=victim&mfa=no&locked=no&status=active&agency=ma-{w.u}",
        "/accounts?q=a+b+c+d+e",  # the API's problem next to the field
        "/accounts/new",
        f"/accounts/{w.users['victim']['id']}",
        f"/accounts/{w.users['paused']['id']}",
        f"/accounts/{w.users['admin']['id']}",  # holds a role: its grants listed
        "/roles",
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
        # The link shown once (a POST's answer), and a refused form.
        page.goto(f"{w.console}/accounts/{w.users['victim']['id']}")
        page.click("#password-reset")
        page.wait_for_selector("#one-time-link")
        bad = violations(page)
        if bad:
            found[f"{lang} password reset link"] = bad
        page.goto(f"{w.console}/accounts/new")
        page.fill("#email", "someone@elsewhere.example")
        page.fill("#agency", w.code_a)
        page.click("#create")
        page.wait_for_selector(".field-error, #form-error")
        bad = violations(page)
        if bad:
            found[f"{lang} create refused"] = bad
    assert not found, found
