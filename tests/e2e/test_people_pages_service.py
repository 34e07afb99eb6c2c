"""Issue 19, defects 7, 8, 9 (the rest), 10 (the rest) and 11, as a person meets them:
Chromium with every page's CSP in force, in Thai and English. Each test fails on the
pages before the fix."""

from __future__ import annotations

import datetime as dt
import re
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from idp.accounts import links
from idp.accounts.models import Account
from idp.agencies.models import Agency
from idp.credentials.login import rules_for
from idp.db import utcnow
from idp.oidc import Interaction
from idp.sessions.models import SsoSession
from idp.web.humane import THAI_PHRASES
from idp.web.i18n import translator
from tests.conftest import service_missing
from tests.e2e.test_accessibility import AXE, violations
from tests.e2e.test_people_pages_defects import (  # noqa: F401 (page: a fixture)
    new_person,
    page,
    sign_in_to_account,
    with_app,
)
from tests.protocol.conftest import PASSWORD
from tests.protocol.rp import authorize_url, rp_client

# ------------------------------------------------ 10. /password/set and its link


def reset_link(w, email: str) -> str:
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        token, _ = links.issue(db, account, "reset", actor="test-admin", now=utcnow())
    return f"{w.base}/password/set?token={token}"


@pytest.mark.parametrize("locale", ["th", "en"])
def test_set_password_names_the_account_and_refuses_a_dead_link_when_opened(
    page,  # noqa: F811
    e2e_world,
    locale,
):
    w, t = e2e_world, translator(locale)
    email = new_person(w)
    url = reset_link(w, email)
    page.goto(f"{url}&lang={locale}")
    username = page.locator("#username")
    assert username.get_attribute("autocomplete") == "username"
    assert username.input_value() == email
    assert username.get_attribute("readonly") is not None
    # The username comes before the new password in the same form (password managers).
    assert page.locator("form:has(#new) #username").count() == 1
    page.fill("#new", "a long sentence that is my new password")
    page.click("form[action='/password/set'] button[type=submit]")
    page.wait_for_selector("#to-account")

    # The same link again: refused on opening, before any password is typed.
    page.goto(url)
    assert page.locator("#new").count() == 0
    assert t("link_invalid") in page.inner_text("main")
    page.goto(f"{w.base}/password/set?token=made-up")
    assert page.locator("#new").count() == 0
    assert t("link_invalid") in page.inner_text("main")
    assert re.search(r"/password/set", page.url)


# ------------------------------------------------------- 11. which app is asking


def sign_in(tab, email: str) -> None:
    tab.fill("#email", email)
    tab.fill("#password", PASSWORD)
    tab.click("form[action='/login'] button[type=submit]")


@pytest.mark.parametrize("locale", ["th", "en"])
def test_every_step_names_the_app_and_its_agency(page, e2e_world, locale):  # noqa: F811
    w, t = e2e_world, translator(locale)
    app = ("แอป " if locale == "th" else "App ") + "strict"
    agency = "กรมทดสอบ" if locale == "th" else "Test Department"
    # A person without a second factor, an app that needs one: sign-in, then enrolment.
    url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
    page.goto(url)
    page.wait_for_selector("#email")
    assert page.inner_text("#asking-app") == t("sign_in_to_agency", app=app, agency=agency)
    sign_in(page, new_person(w))
    page.wait_for_selector("#totp-secret")
    assert page.inner_text("#asking-app") == t("for_app_agency", app=app, agency=agency)

    # A person with an authenticator app: the second step names them too.
    page.context.clear_cookies()
    email = new_person(w)
    with_app(w, email)
    url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
    page.goto(url)
    sign_in(page, email)
    page.wait_for_selector("form[action='/mfa'] #code")
    assert page.inner_text("#asking-app") == t("for_app_agency", app=app, agency=agency)


@pytest.mark.parametrize("locale", ["th", "en"])
def test_consent_lists_information_only_and_says_whose_privacy_notice(
    page,  # noqa: F811
    e2e_world,
    locale,
):
    w, t = e2e_world, translator(locale)
    app = ("แอป " if locale == "th" else "App ") + "thirdparty"
    agency = "กรมทดสอบ" if locale == "th" else "Test Department"
    url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale)
    page.goto(url)
    sign_in(page, new_person(w))
    page.wait_for_selector("form[action='/consent']")
    items = page.locator("ul.scopes li").all_inner_texts()
    assert t("scope_profile") in items
    assert t("scope_openid") not in items  # "confirm who you are" is no information
    main = page.inner_text("main")
    assert t("consent_identifier", app=app) in main
    # No privacy notice link registered: whose it would be, said in words.
    assert page.inner_text("#privacy-none") == t("privacy_none", app=app, agency=agency)

    # Only 'openid': nothing listed as if it were data, and the page says so.
    page.context.clear_cookies()
    url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale, scope="openid")
    page.goto(url)
    sign_in(page, new_person(w))
    page.wait_for_selector("form[action='/consent']")
    assert page.locator("ul.scopes li").count() == 0
    assert t("consent_intro_id_only", app=app, agency=agency) in page.inner_text("main")


# ------------------------------------------------- 7. plain words, not raw values

WINDOWS_CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
THAI_MONTHS = (
    "มกราคม|กุมภาพันธ์|มีนาคม|เมษายน|พฤษภาคม|มิถุนายน|กรกฎาคม|สิงหาคม|กันยายน|ตุลาคม|พฤศจิกายน|ธันวาคม"
)


def test_no_protocol_words_or_levels_in_the_thai_texts():
    from idp.web.i18n import MESSAGES

    for key, text in MESSAGES.items():
        th = text["th"]
        for word in ("client_id", "redirect_uri", "ระดับ 2", "ระดับ 1", "totp", "สองขั้นตอน"):
            assert word not in th, (key, word)
        for word in ("level 2", "level 1", "two-step", "totp"):
            assert word not in text["en"], (key, word)


@pytest.mark.parametrize("locale", ["th", "en"])
def test_error_pages_lead_with_words_and_keep_the_code_for_details(
    page,  # noqa: F811
    e2e_world,
    locale,
):
    w, t = e2e_world, translator(locale)
    page.goto(f"{w.base}/help?lang={locale}")
    rp = rp_client(w, "web")
    url, *_ = authorize_url(w, rp)
    cases = {
        f"{w.base}/authorize?response_type=code": ("invalid_request", t("no_client_id")),
        re.sub(r"redirect_uri=[^&]+", "redirect_uri=https%3A%2F%2Fevil.example%2F", url): (
            "invalid_request",
            t("redirect_uri_mismatch"),
        ),
        f"{w.base}/login?i=expired.token": ("interaction_expired", t("step_expired", minutes="10")),
    }
    for address, (code, words) in cases.items():
        page.goto(address)
        alert = page.locator("[role=alert]")
        assert alert.inner_text().strip() == words, address
        assert page.inner_text("#error-details").endswith(code)
        text = page.inner_text("main")
        assert text.count(code) == 1, address  # only on the details line
        assert text.index(words) < text.index(code)
        if locale == "th":
            assert "client_id" not in text and "redirect_uri" not in text
        if code == "interaction_expired":  # titled by what happened
            assert page.inner_text("h1") == t("expired_title")


@pytest.mark.parametrize("locale", ["th", "en"])
def test_account_page_speaks_of_devices_times_and_factors_in_words(browser, e2e_world, locale):
    w, t = e2e_world, translator(locale)
    context = browser.new_context(locale=locale, user_agent=WINDOWS_CHROME)
    tab = context.new_page()
    email = new_person(w)
    with_app(w, email)
    sign_in_to_account(tab, w, email, locale)
    main = tab.inner_text("main")
    # No "level 1" or raw kinds.
    assert t("signed_in_level1") == tab.inner_text("#sign-in-strength")
    assert not re.search(r"(?i)level\s*\d|ระดับ|\(totp\)|\btotp\b", main), main
    assert tab.inner_text(".factor-name") == t("kind_totp")
    # The device by name, not "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/5".
    assert tab.inner_text(".device") == t("device_on", browser="Chrome", system="Windows")
    assert "Mozilla" not in main
    # When, in Bangkok time; a Thai page in the Buddhist era with the month's Thai name.
    with w.services.sessions() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        created = (
            db.scalars(
                select(SsoSession)
                .where(SsoSession.account_id == account.id)
                .order_by(SsoSession.created_at.desc())
            )
            .first()
            .created_at
        )
    bangkok = created.replace(tzinfo=dt.UTC).astimezone(ZoneInfo("Asia/Bangkok"))
    when = tab.inner_text(".signed-in-at")
    assert "UTC" not in when and f"{bangkok:%H:%M}" in when
    if locale == "th":
        assert re.search(rf"{bangkok.day} ({THAI_MONTHS}) {bangkok.year + 543} ", when), when
    else:
        assert f"{bangkok.day} {bangkok:%B} {bangkok.year}" in when
    context.close()


@pytest.mark.parametrize("locale", ["th", "en"])
def test_a_locked_second_step_says_the_wait_in_minutes(page, e2e_world, locale):  # noqa: F811
    w, t = e2e_world, translator(locale)
    email = new_person(w)
    with_app(w, email)
    with w.services.sessions.begin() as db:
        account = db.scalars(select(Account).where(Account.email == email)).one()
        store, rules = w.services.throttle_store(db), rules_for(w.services.settings)
        for _ in range(rules.lock_threshold):
            store.record_failure(f"mfa:{account.id}", rules, utcnow())
    url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
    page.goto(url)
    sign_in(page, email)
    page.fill("form[action='/mfa'] #code", "123456")
    page.click("form[action='/mfa'] #code ~ button[type=submit]")
    alert = page.locator("#form-error")
    minutes = rules.lock_seconds // 60
    wait = f"{minutes} นาที" if locale == "th" else f"{minutes} minutes"
    assert alert.inner_text() == t("mfa_throttled", wait=wait)
    assert str(rules.lock_seconds) not in alert.inner_text()


# ------------------------------------------------------- 8. time limits (2.2.1)

LIMIT_TEXT = {
    "en": r"You have (\d+) minutes for this page \(until \d\d:\d\d\)\.",
    "th": r"คุณมีเวลา (\d+) นาทีสำหรับหน้านี้ \(จนถึงเวลา \d\d:\d\d\sน\.\)",
}


def extend_by_fetch(tab, csrf: str | None = None) -> int:
    return tab.evaluate(
        """(csrf) => { const box = document.getElementById('time-limit');
        const body = new URLSearchParams({i: box.dataset.i,
                                          csrf_token: csrf || box.dataset.csrf});
        return fetch('/interaction/extend', {method: 'POST', body}).then(r => r.status); }""",
        csrf,
    )


@pytest.mark.parametrize("locale", ["th", "en"])
def test_a_step_says_its_time_limit_warns_and_gives_more_time(browser, e2e_world, locale):
    w, t = e2e_world, translator(locale)
    context = browser.new_context(locale=locale)
    tab = context.new_page()
    errors: list[str] = []
    tab.on("console", lambda m: errors.append(m.text) if "Content Security" in m.text else None)
    tab.clock.install()
    url, *_ = authorize_url(w, rp_client(w, "strict"), ui_locales=locale)
    tab.goto(url)
    tab.wait_for_selector("#email")
    minutes = re.fullmatch(LIMIT_TEXT[locale], tab.inner_text("#time-limit-text"))
    assert minutes and int(minutes.group(1)) == 10
    warning = tab.locator("#time-warning")
    assert warning.get_attribute("role") == "status" and warning.inner_text() == ""
    assert tab.locator("#time-extend").is_hidden()

    for n in (1, 2, 3):
        tab.clock.fast_forward("08:05")  # two minutes before the end
        assert warning.inner_text() == t("time_warning", minutes="2")
        assert tab.locator("#time-extend").is_visible()
        old = tab.input_value("form[action='/login'] input[name=i]")
        tab.click("#time-extend")
        warning.filter(has_text=t("time_extended", minutes="10", until="")[:12]).wait_for()
        new = tab.input_value("form[action='/login'] input[name=i]")
        assert new != old and Interaction.load(w.services, new).extensions == n
        assert tab.locator(f"a[href*='{old}']").count() == 0  # help links carry the new one
        assert tab.locator("#time-extend").is_hidden()
    tab.clock.fast_forward("08:05")
    assert t("time_no_more") in warning.inner_text()
    assert tab.locator("#time-extend").is_hidden()
    # GovID itself refuses a fourth extension, and one without the page's form token.
    assert extend_by_fetch(tab) == 409
    assert extend_by_fetch(tab, csrf="forged") == 403

    # The extended step still signs in; enrolment (first a second factor) has longer.
    tab.fill("#email", new_person(w))
    tab.fill("#password", PASSWORD)
    tab.click("form[action='/login'] button[type=submit]")
    tab.wait_for_selector("#totp-secret")
    minutes = re.fullmatch(LIMIT_TEXT[locale], tab.inner_text("#time-limit-text"))
    assert minutes and int(minutes.group(1)) == 20
    assert tab.get_attribute("#time-limit", "data-left") == "6"
    tab.clock.fast_forward("20:00")
    assert warning.inner_text() == t("time_over")
    context.close()
    assert not errors, errors


def test_without_scripts_the_page_still_says_how_long(browser, e2e_world):
    w = e2e_world
    context = browser.new_context(locale="th", java_script_enabled=False)
    tab = context.new_page()
    url, *_ = authorize_url(w, rp_client(w, "web"), ui_locales="th")
    tab.goto(url)
    assert re.fullmatch(LIMIT_TEXT["th"], tab.inner_text("#time-limit-text"))
    assert tab.locator("#time-extend").is_hidden()  # it needs the script
    context.close()


# ------------------------------------- 9 (the rest). Thai headings break between words

LINES_JS = """(el) => { const lines = []; let top = null, line = '';
  const walk = document.createTreeWalker(el, NodeFilter.SHOW_TEXT); let node;
  while ((node = walk.nextNode())) {
    for (let i = 0; i < node.length; i++) {
      const r = document.createRange(); r.setStart(node, i); r.setEnd(node, i + 1);
      const box = r.getClientRects()[0];
      if (box && top !== null && box.top - top > 5) { lines.push(line); line = ''; }
      if (box) top = box.top;
      line += node.data[i];
    }
  }
  lines.push(line); return lines; }"""


def split_terms(tab) -> dict[str, list[str]]:
    """Headings whose lines split a term of THAI_PHRASES."""
    bad = {}
    for heading in tab.locator("main h1, main h2").all():
        lines = heading.evaluate(LINES_JS)
        for a, b in zip(lines, lines[1:], strict=False):
            joint = a + b
            for term in THAI_PHRASES:
                start = joint.find(term)
                if start != -1 and start < len(a) < start + len(term):
                    bad[heading.inner_text()] = lines
    return bad


def test_thai_headings_keep_terms_whole_at_320_px(browser, e2e_world):
    w = e2e_world
    context = browser.new_context(locale="th", viewport={"width": 320, "height": 640})
    tab = context.new_page()
    email = new_person(w)
    with_app(w, email)
    bad = {}
    tab.goto(f"{w.base}/help?lang=th")  # "ความช่วยเหลือในการเข้า|สู่ระบบ" before
    bad.update(split_terms(tab))
    sign_in_to_account(tab, w, email, "th")
    bad.update(split_terms(tab))
    tab.click("#regenerate")
    tab.wait_for_selector("#mfa-why")
    bad.update(split_terms(tab))
    for path in ("/nowhere", "/privacy", "/accessibility", "/recover"):
        tab.goto(f"{w.base}{path}")
        bad.update(split_terms(tab))
    assert tab.evaluate("document.documentElement.scrollWidth") <= 320
    context.close()
    assert not bad, bad


@pytest.mark.parametrize("locale", ["th", "en"])
def test_consent_links_the_privacy_notice_of_the_agency_or_its_parent(
    page,  # noqa: F811
    e2e_world,
    locale,
):
    w, t = e2e_world, translator(locale)
    u = w.clients["thirdparty"]["client_id"].split("-", 1)[1]
    notice = "https://www.example.go.th/privacy"
    with w.services.sessions.begin() as db:  # the ministry above the app's department
        db.scalars(select(Agency).where(Agency.code == f"m-{u}")).one().privacy_url = notice
    try:
        url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale)
        page.goto(url)
        sign_in(page, new_person(w))
        page.wait_for_selector("form[action='/consent']")
        link = page.locator("#privacy-link")
        assert link.get_attribute("href") == notice
        ministry = "กระทรวงทดสอบ" if locale == "th" else "Test Ministry"
        assert link.inner_text() == t("privacy_link", agency=ministry)
        assert page.locator("#privacy-none").count() == 0
    finally:
        with w.services.sessions.begin() as db:
            db.scalars(select(Agency).where(Agency.code == f"m-{u}")).one().privacy_url = None


# ------------------------------------------------------------ the changed pages: axe


@pytest.mark.parametrize("locale", ["th", "en"])
def test_changed_pages_pass_axe(browser, e2e_world, locale):
    if not AXE.exists():
        service_missing("axe-core is not installed (npm ci in tests/interop)")
    w = e2e_world
    context = browser.new_context(locale=locale)
    tab = context.new_page()
    tab.clock.install()
    checked = {}
    url, *_ = authorize_url(w, rp_client(w, "thirdparty"), ui_locales=locale)
    tab.goto(url)
    tab.clock.fast_forward("08:05")
    tab.wait_for_selector("#time-extend", state="visible")
    checked["sign-in with the time warning"] = violations(tab)
    tab.click("#time-extend")
    tab.locator("#time-extend").wait_for(state="hidden")
    checked["sign-in with more time"] = violations(tab)
    email = new_person(w)
    sign_in(tab, email)
    tab.wait_for_selector("form[action='/consent']")
    checked["consent"] = violations(tab)
    tab.goto(reset_link(w, email))
    checked["set password"] = violations(tab)
    tab.goto(f"{w.base}/password/set?token=used")
    checked["dead link"] = violations(tab)
    tab.goto(f"{w.base}/login?i=expired.token")
    checked["timed out"] = violations(tab)
    context.close()
    bad = {name: v for name, v in checked.items() if v}
    assert not bad, bad
