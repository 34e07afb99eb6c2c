"""What a person sees on GovID's own pages: the language they chose, language links that
lead somewhere, Thai error pages, readable 404/405 pages and a sign-out "Cancel" that
lands on a page (black-box audit findings)."""

import html
import re

from idp.web.i18n import translator
from tests.protocol.conftest import Browser, form_fields
from tests.protocol.rp import authorize_url, rp_client


def lang_link(page, code: str) -> str:
    m = re.search(rf'<a href="([^"]*)" lang="{code}"', page.text)
    assert m, page.text[:600]
    return html.unescape(m.group(1))


def test_the_persons_language_choice_beats_the_apps_ui_locales(world):
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="th")
    page = b.http.get(url)
    assert '<html lang="th">' in page.text
    english = b.http.get(lang_link(page, "en"))
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert "Sign in" in english.text and 'action="/login"' in english.text
    assert b.http.cookies.get("govid_locale") == "en"
    # And back again.
    thai = b.http.get(lang_link(english, "th"))
    assert '<html lang="th">' in thai.text and b.http.cookies.get("govid_locale") == "th"


def test_ui_locales_applies_until_the_person_chooses_and_the_choice_then_holds(world):
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="en")
    assert '<html lang="en">' in b.http.get(url).text  # no choice yet: the app's hint
    page = sign_in_page(world, b, ui_locales="th")
    assert '<html lang="th">' in page.text
    english = b.http.get(lang_link(page, "en"))
    assert '<html lang="en">' in english.text
    # The choice holds through the next step of the same sign-in (a failed password)...
    failed = b.login(english, world.users["alice"], "not the password at all")
    assert failed.status_code == 401 and '<html lang="en">' in failed.text
    # ...and for the next app that hints otherwise.
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="th")
    assert '<html lang="en">' in b.http.get(url).text


def sign_in_page(world, b: Browser, client: str = "web", **extra):
    url, *_ = authorize_url(world, rp_client(world, client), **extra)
    page = b.go(url)
    assert 'action="/login"' in page.text, page.text[:400]
    return page


def test_language_link_after_a_failed_sign_in_keeps_the_sign_in(world):
    b = Browser(world.base)
    page = sign_in_page(world, b)
    failed = b.login(page, world.users["alice"], "not the password at all")
    assert failed.status_code == 401 and '<html lang="th">' in failed.text
    link = lang_link(failed, "en")
    assert link.startswith("/login?") and "i=" in link
    english = b.http.get(link)
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert 'action="/login"' in english.text
    # The sign-in goes on from the English page.
    assert b.login(english, world.users["alice"]).status_code in (302, 303)


def test_language_links_after_refused_form_posts_show_the_same_step(world):
    from tests.protocol.conftest import form_fields
    from tests.protocol.rp import login

    lg = login(world, user="dave")
    b = lg.browser
    steps = []
    # The consent page, then its POST with a stale CSRF token.
    url, *_ = authorize_url(world, rp_client(world, "thirdparty"), scope="openid email")
    page = b.go(url)
    assert 'action="/consent"' in page.text
    steps.append(("/consent", page, 'action="/consent"'))
    url, *_ = authorize_url(world, rp_client(world, "web"), prompt="select_account")
    page = b.go(url)
    assert 'action="/select-account"' in page.text
    steps.append(("/select-account", page, 'action="/select-account"'))
    page = b.http.get("/end_session")
    assert 'action="/end_session/confirm"' in page.text
    steps.append(("/end_session/confirm", page, 'action="/end_session/confirm"'))
    for action, page, form in steps:
        b.http.cookies.delete("govid_locale")  # set to "en" by the previous step's link
        refused = b.http.post(action, data={"i": form_fields(page.text)["i"], "csrf_token": "x"})
        assert refused.status_code == 400 and '<html lang="th">' in refused.text, action
        english = b.http.get(lang_link(refused, "en"))
        assert english.status_code == 200, (action, english.text[:300])
        assert '<html lang="en">' in english.text and form in english.text, action
    # Nothing was ended by following the links: still signed in.
    url, *_ = authorize_url(world, rp_client(world, "web"))
    assert b.go(url).status_code in (302, 303)


def test_error_pages_for_people_speak_thai(world):
    import httpx

    th = {"Accept-Language": "th"}
    en = {"Accept-Language": "en"}
    web = world.client("web")["client_id"]
    th_t, en_t = translator("th"), translator("en")  # issue 19, 7: words, not parameters
    cases = [
        ("/authorize/resume?i=broken", "การเข้าสู่ระบบใช้เวลานานเกินไป", "took too long"),
        ("/authorize?response_type=code&scope=openid", th_t("no_client_id"), "which application"),
        ("/authorize?client_id=nobody&redirect_uri=x", "ไม่ได้ลงทะเบียน", "not registered"),
        (
            f"/authorize?client_id={web}&redirect_uri=https://evil.example/cb",
            th_t("redirect_uri_mismatch"),
            en_t("redirect_uri_mismatch"),
        ),
        (f"/authorize?client_id={web}&client_id=x", th_t("param_repeated"), "sent twice"),
    ]
    for path, thai, english in cases:
        r = httpx.get(f"{world.base}{path}", headers=th)
        assert r.status_code == 400 and '<html lang="th">' in r.text, path
        assert thai in r.text and english not in html.unescape(r.text), (path, r.text[-600:])
        r = httpx.get(f"{world.base}{path}", headers=en)
        assert '<html lang="en">' in r.text and english in html.unescape(r.text), path
    # A sign-out confirmation posted with a stale form.
    r = httpx.post(
        f"{world.base}/end_session/confirm", data={"i": "x", "csrf_token": "y"}, headers=th
    )
    assert r.status_code == 400 and "แบบฟอร์มออกจากระบบนี้หมดอายุแล้ว" in r.text
    assert "expired" not in r.text


def test_missing_pages_and_wrong_methods_are_pages_for_people(world):
    import httpx

    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8", "Accept-Language": "th"}
    for path, status in (("/nonexistent", 404), ("/consent", 405), ("/select-account", 405)):
        r = httpx.get(f"{world.base}{path}", headers=browser)
        assert r.status_code == status and r.headers["content-type"].startswith("text/html")
        assert '<html lang="th">' in r.text and "ไม่" in r.text, path
        assert r.headers["x-frame-options"] == "DENY" and "content-security-policy" in r.headers
        english = httpx.get(f"{world.base}{lang_link(r, 'en')}", headers=browser)
        assert english.status_code == status and '<html lang="en">' in english.text
    assert "POST" in httpx.get(f"{world.base}/consent", headers=browser).headers["allow"]
    # Programs keep their formats.
    assert httpx.get(f"{world.base}/nonexistent").json() == {"detail": "Not Found"}
    assert httpx.get(f"{world.base}/token", headers=browser).json()["detail"]
    r = httpx.get(f"{world.base}/admin/v1/nonexistent", headers=browser)
    assert r.status_code == 404 and "json" in r.headers["content-type"]
    r = httpx.get(f"{world.base}/scim/v2/nonexistent", headers=browser)
    assert r.status_code == 404 and "json" in r.headers["content-type"]


def test_cancel_on_the_sign_out_confirmation_lands_on_the_account_page(world):
    from tests.protocol.rp import login

    lg = login(world, user="erin")
    b = lg.browser
    page = b.http.get("/end_session")
    assert 'action="/end_session/confirm"' in page.text
    r = b.submit(page, "/end_session/confirm", decision="no")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert str(r.url).endswith("/account") and world.users["erin"] in r.text
    # Still signed in.
    url, *_ = authorize_url(world, rp_client(world, "web"))
    assert b.go(url).status_code in (302, 303)


def test_the_root_is_a_page_for_browsers_and_metadata_for_programs(world):
    import httpx

    r = httpx.get(f"{world.base}/", headers={"Accept": "text/html"}, follow_redirects=True)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert 'action="/login"' in r.text  # signed out: sign in to the account page
    r = httpx.get(f"{world.base}/", follow_redirects=True)
    assert r.json()["issuer"] == world.base


def test_account_sign_out_needs_the_form_token_ends_the_session_and_tells_the_apps(world):
    """Issue 19 (3): /account signs this device out as /end_session does: POST with the
    page's CSRF token, 303 to a signed-out page, the apps told by back-channel logout."""
    from sqlalchemy import select

    from idp.sessions.models import LogoutDelivery
    from tests.protocol.rp import login

    lg = login(world, user="grace")
    b = lg.browser
    account = b.go("/account")
    assert 'action="/account/signout"' in account.text
    refused = b.http.post("/account/signout", data={"csrf_token": "stale"})
    assert refused.status_code == 400 and 'action="/account/signout"' in refused.text
    with world.services.sessions() as db:
        before = set(db.scalars(select(LogoutDelivery.id)).all())
    r = b.http.post(
        "/account/signout", data={"csrf_token": form_fields(account.text)["csrf_token"]}
    )
    assert r.status_code == 303 and r.headers["location"] == "/signed-out"
    done = b.go("/signed-out")
    assert done.status_code == 200 and 'id="sign-in-again"' in done.text
    with world.services.sessions() as db:
        queued = [d for d in db.scalars(select(LogoutDelivery)).all() if d.id not in before]
    assert any(d.client_id == world.client("web")["client_id"] for d in queued)
    assert 'action="/login"' in b.go("/account").text  # signed out here


def test_enrolment_during_sign_in_keeps_its_secret_until_a_new_one_is_asked_for(world):
    """Issue 19 (1), at /mfa/enrol (an app that needs level 2, an account without a
    second factor): a wrong code shows the same secret; /mfa/enrol/new (CSRF) replaces it."""
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "strict"))
    page = b.login(b.go(url), world.users["judy"])
    assert 'action="/mfa/enrol"' in page.text, page.text[:400]

    def secret(p):
        return re.search(r'<code id="totp-secret">([A-Z2-7]+)</code>', p.text).group(1)

    first = secret(page)
    fields = form_fields(page.text)
    wrong = b.go(
        "/mfa/enrol",
        method="POST",
        data={**{k: fields[k] for k in ("csrf_token", "i", "credential")}, "code": "000000"},
    )
    assert wrong.status_code == 400 and secret(wrong) == first
    refused = b.http.post("/mfa/enrol/new", data={"i": fields["i"], "csrf_token": "stale"})
    assert refused.status_code == 400 and first not in refused.text
    assert secret(b.go(f"/mfa/enrol?i={fields['i']}")) == first  # nothing replaced
    renewed = b.submit(page, "/mfa/enrol/new")
    assert renewed.status_code == 200 and secret(renewed) != first


def test_security_key_refusals_are_codes_with_a_message_in_the_sign_ins_language(world):
    """Issue 19 (2): GovID's refusals behind the security-key buttons carry a code and a
    message for the person, in the language of the page that asked (the app's
    ui_locales here, over the browser's Accept-Language)."""
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"), ui_locales="en")
    page = b.go(url)
    i = form_fields(page.text)["i"]
    r = b.http.post(
        "/mfa/webauthn/verify",
        json={"i": i},
        headers={"X-CSRF-Token": "stale", "Accept-Language": "th"},
    )
    assert r.status_code == 403
    assert r.json() == {"error": "csrf", "message": translator("en")("csrf")}
    r = b.http.post(
        "/account/webauthn/options",
        json={},
        headers={"X-CSRF-Token": "stale", "Accept-Language": "th"},
    )
    assert r.status_code == 403 and r.json()["message"] == translator("th")("csrf")
