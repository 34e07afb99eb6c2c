"""Sign-in page, SSO cookie, consent, prompt=login / max_age / select_account."""

import re

import httpx

from tests.protocol.conftest import PASSWORD, Browser, callback_params, decode_jwt, form_fields
from tests.protocol.rp import REDIRECT, authorize_url, login, rp_client


def start(world, browser, client="web", **extra):
    rp = rp_client(world, client)
    url, verifier, nonce, state = authorize_url(world, rp, **extra)
    return rp, verifier, browser.go(url)


def test_login_page_is_thai_by_default_and_english_on_request(world):
    b = Browser(world.base)
    _, _, page = start(world, b)
    assert page.status_code == 200 and '<html lang="th">' in page.text
    assert "เข้าสู่ระบบ" in page.text and 'autocomplete="current-password"' in page.text
    _, _, page = start(world, Browser(world.base), ui_locales="en-US th")
    assert '<html lang="en">' in page.text and "Sign in" in page.text
    assert 'for="email"' in page.text and 'for="password"' in page.text  # labelled inputs


def test_wrong_password_and_unknown_email_look_the_same(world):
    answers = []
    for email, pw in (
        (world.users["alice"], "wrong password entirely"),
        ("nobody@nowhere.go.th", PASSWORD),
    ):
        b = Browser(world.base)
        _, _, page = start(world, b, ui_locales="en")
        r = b.login(page, email, pw)
        # Drop tokens (fields, and the interaction in the language links and the time
        # limit's data), the time left and its clock time, and the email.
        body = re.sub(
            r'value="[^"]*"|\bi=[^&"]*|data-(?:i|csrf|seconds)="[^"]*"|\d\d:\d\d|\d+ minutes',
            "",
            r.text,
        )
        answers.append((r.status_code, body.replace(email, "")))
    assert answers[0] == answers[1]
    assert answers[0][0] == 401 and "incorrect" in answers[0][1]


def test_login_form_requires_csrf_token(world):
    b = Browser(world.base)
    _, _, page = start(world, b)
    fields = form_fields(page.text)
    r = b.go(
        "/login",
        method="POST",
        data={
            "i": fields["i"],
            "csrf_token": "forged",
            "email": world.users["alice"],
            "password": PASSWORD,
        },
    )
    assert r.status_code == 400 and "session" not in str(b.http.cookies.keys())
    # Without the CSRF cookie at all (a cross-site form post).
    fresh = httpx.post(
        f"{world.base}/login", data={**fields, "email": world.users["alice"], "password": PASSWORD}
    )
    assert fresh.status_code == 400


def test_session_cookie_attributes_and_rotation_at_login(world):
    b = Browser(world.base)
    _, _, page = start(world, b)
    r = b.http.post(
        "/login",
        data={
            **{k: v for k, v in form_fields(page.text).items() if k in ("i", "csrf_token")},
            "email": world.users["alice"],
            "password": PASSWORD,
        },
    )
    assert r.status_code == 303
    cookie = next(h for h in r.headers.get_list("set-cookie") if "govid_session=" in h)
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    value = cookie.split("=", 1)[1].split(";")[0]
    assert len(value) >= 22  # 128 bits, url-safe base64
    # Nothing else to ask: the sign-in POST itself answers with the code (303, no
    # detour through /authorize/resume), the session cookie set on the same response.
    assert r.headers["location"].startswith(REDIRECT), r.headers["location"]
    assert "code" in callback_params(r) and r.headers["cache-control"] == "no-store"
    # Signing in again gives a new cookie (no fixation).
    _, _, page = start(world, b, prompt="login")
    r2 = b.http.post(
        "/login",
        data={
            **{k: v for k, v in form_fields(page.text).items() if k in ("i", "csrf_token")},
            "email": world.users["alice"],
            "password": PASSWORD,
        },
    )
    value2 = (
        next(h for h in r2.headers.get_list("set-cookie") if "govid_session=" in h)
        .split("=", 1)[1]
        .split(";")[0]
    )
    assert value2 != value


def test_prompt_login_and_max_age_force_reauthentication(world):
    lg = login(world, user="bob")
    _, first = decode_jwt(world.base, lg.token["id_token"])
    world.clock.advance(2)  # auth_time counts whole seconds
    for extra in ({"prompt": "login"}, {"max_age": "0"}):
        rp, verifier, page = start(world, lg.browser, **extra)
        assert 'action="/login"' in page.text, extra
        p = callback_params(lg.browser.login(page, world.users["bob"]))
        tok = rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)
        _, idt = decode_jwt(world.base, tok["id_token"])
        assert idt["auth_time"] > first["auth_time"]
    # A generous max_age does not ask again.
    rp, verifier, page = start(world, lg.browser, max_age="3600")
    assert "code" in callback_params(page)


def test_consent_is_asked_once_per_scope_set_and_can_be_refused(world):
    b = Browser(world.base)
    rp, verifier, page = start(world, b, client="thirdparty", scope="openid email")
    page = b.login(page, world.users["carol"])
    assert 'action="/consent"' in page.text and "App thirdparty" not in page.text.split("<h1>")[0]
    refused = callback_params(b.submit(page, "/consent", decision="deny"))
    assert refused["error"] == "access_denied" and refused["iss"] == world.base
    rp, verifier, page = start(world, b, client="thirdparty", scope="openid email")
    p = callback_params(b.submit(page, "/consent", decision="allow"))
    assert "code" in p
    # Same scopes again: remembered.
    rp, verifier, page = start(world, b, client="thirdparty", scope="openid email")
    assert "code" in callback_params(page)
    # More scopes: asked again. prompt=consent: asked even when covered.
    _, _, page = start(world, b, client="thirdparty", scope="openid email profile")
    assert 'action="/consent"' in page.text
    _, _, page = start(world, b, client="thirdparty", scope="openid email", prompt="consent")
    assert 'action="/consent"' in page.text


def test_select_account_offers_current_or_another(world):
    lg = login(world, user="alice")
    _, _, page = start(world, lg.browser, prompt="select_account")
    assert world.users["alice"] in page.text and 'action="/select-account"' in page.text
    assert "code" in callback_params(lg.browser.submit(page, "/select-account", choice="current"))
    rp, verifier, page = start(world, lg.browser, prompt="select_account")
    page = lg.browser.submit(page, "/select-account", choice="other")
    p = callback_params(lg.browser.login(page, world.users["bob"]))
    tok = rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)
    assert rp.get(f"{world.base}/userinfo").json()["email"] == world.users["bob"]
    assert tok["access_token"]


def test_login_hint_prefills_the_form(world):
    b = Browser(world.base)
    _, _, page = start(world, b, login_hint=world.users["carol"])
    assert f'value="{world.users["carol"]}"' in page.text


def test_claims_parameter_puts_email_in_id_token(world):
    import json

    lg = login(world, user="carol", claims=json.dumps({"id_token": {"email": None}}))
    _, idt = decode_jwt(world.base, lg.token["id_token"])
    assert idt["email"] == world.users["carol"]


def test_tampered_interaction_is_refused(world):
    b = Browser(world.base)
    _, _, page = start(world, b)
    i = form_fields(page.text)["i"]
    r = b.go(f"/authorize/resume?i={i[:-3]}AAA")
    assert r.status_code == 400 and "location" not in r.headers
