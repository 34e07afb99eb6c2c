"""Each page a browser sees on the way back to an app lets its forms end at exactly that
app's origin (CSP ``form-action``, which Chromium applies to the redirects after a
submission) and nowhere else; pages outside a sign-in keep ``form-action 'self'``.
The real-browser proof is tests/e2e/test_reaches_app.py."""

from __future__ import annotations

from urllib.parse import urlencode

import pytest

from idp.web.security import DEFAULT_CSP, form_target_source, page_csp
from tests.protocol.conftest import Browser, callback_params
from tests.protocol.rp import authorize_url, login, rp_client
from tests.protocol.test_assurance import enrol_totp

APP = "https://rp.example.go.th"
BYE = "https://rp.example.go.th/bye"


def fresh_user(world, name: str) -> str:
    """An account of its own (no second factor yet): the world's users are shared by
    every protocol test of the run, and some of them enrol factors."""
    import secrets

    from idp.accounts import service as accounts
    from idp.accounts.models import Account
    from tests.protocol.conftest import PASSWORD

    key = f"{name}-{secrets.token_hex(3)}"
    with world.services.sessions.begin() as db:
        peer = db.query(Account).filter_by(email=world.users["alice"]).one()
        domain = world.users["alice"].split("@")[1]
        accounts.create(
            db,
            accounts.NewAccount(
                email=f"{key}@{domain}",
                agency_code=peer.agency.code,
                given_name_en=name.title(),
                password=PASSWORD,
            ),
            hasher=world.services.hasher,
            cipher=world.services.cipher,
        )
    world.users[key] = f"{key}@{domain}"
    return key


def form_action(r) -> str:
    csp = r.headers["content-security-policy"]
    (directive,) = [d.strip() for d in csp.split(";") if d.strip().startswith("form-action")]
    assert "frame-ancestors 'none'" in csp and "default-src 'none'" in csp
    return directive


def test_sign_in_page_and_its_error_allow_the_app_origin_only(world):
    rp = rp_client(world)
    url, *_ = authorize_url(world, rp)
    b = Browser(world.base)
    page = b.go(url)
    assert 'action="/login"' in page.text
    assert form_action(page) == f"form-action 'self' {APP}"
    again = b.login(page, world.users["bob"], password="wrong password here")
    assert again.status_code in (400, 401) and 'action="/login"' in again.text
    assert form_action(again) == f"form-action 'self' {APP}"


def test_consent_and_account_choice_pages_allow_the_app_origin(world):
    rp = rp_client(world, "thirdparty")
    url, *_ = authorize_url(world, rp)
    b = Browser(world.base)
    # Accounts of its own: the shared ones carry earlier tests' failed sign-ins (a
    # throttled bob answered 429 here when the run's order put those tests first).
    consent = b.login(b.go(url), world.users[fresh_user(world, "csp-consent")])
    assert 'action="/consent"' in consent.text, consent.status_code
    assert form_action(consent) == f"form-action 'self' {APP}"
    lg = login(world, user=fresh_user(world, "csp-choice"))
    url, *_ = authorize_url(world, rp_client(world), prompt="select_account")
    choice = lg.browser.go(url)
    assert 'action="/select-account"' in choice.text
    assert form_action(choice) == f"form-action 'self' {APP}"


def test_second_factor_and_enrolment_pages_allow_the_app_origin(world):
    user = fresh_user(world, "csp-mfa")
    b, _secret, _codes = enrol_totp(world, user)
    assert form_action(b.go("/account")) == "form-action 'self'"
    url, *_ = authorize_url(world, rp_client(world), acr_values="urn:govid:acr:2", prompt="login")
    mfa = b.login(b.go(url), world.users[user])
    assert 'action="/mfa"' in mfa.text
    assert form_action(mfa) == f"form-action 'self' {APP}"
    wrong = b.submit(mfa, "/mfa", code="000000")
    assert wrong.status_code == 401 and form_action(wrong) == f"form-action 'self' {APP}"

    fresh = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "strict"))
    enrol = fresh.login(fresh.go(url), world.users[fresh_user(world, "csp-enrol")])
    assert 'action="/mfa/enrol"' in enrol.text
    assert form_action(enrol) == f"form-action 'self' {APP}"


def test_enrolment_recovery_codes_continue_makes_the_code_then(world):
    """The Continue link of the recovery codes page goes through /authorize/resume: the
    app's code is minted when the person continues, so it cannot expire (60 s) while
    they save their codes."""
    import pyotp

    b = Browser(world.base)
    rp = rp_client(world, "strict")
    url, verifier, _n, state = authorize_url(world, rp)
    enrol = b.login(b.go(url), world.users[fresh_user(world, "csp-codes")])
    secret = enrol.text.split('<code id="totp-secret">')[1].split("<")[0]
    codes_page = b.submit(
        enrol,
        "/mfa/enrol",
        credential=enrol.text.split('name="credential" value="')[1].split('"')[0],
        code=pyotp.TOTP(secret).at(world.clock.time()),  # the servers' clock may be ahead
    )
    assert codes_page.status_code == 200 and "recovery" in codes_page.text.lower()
    href = codes_page.text.split('id="continue"')[0].rsplit('href="', 1)[1].split('"')[0]
    assert href.startswith("/authorize/resume?") and "code=" not in href
    p = callback_params(b.go(href.replace("&amp;", "&")))
    assert p["state"] == state
    tok = rp.fetch_token(f"{world.base}/token", code=p["code"], code_verifier=verifier)
    assert tok["access_token"]


def test_logout_with_client_id_and_no_hint_returns_after_confirmation(world):
    lg = login(world, user="oscar")
    cid = world.client("web")["client_id"]
    q = urlencode({"client_id": cid, "post_logout_redirect_uri": BYE, "state": "s-1"})
    page = lg.browser.http.get(f"{world.base}/end_session?{q}")
    assert page.status_code == 200 and 'action="/end_session/confirm"' in page.text
    assert form_action(page) == f"form-action 'self' {APP}"
    r = lg.browser.submit(page, "/end_session/confirm", decision="yes")
    assert r.status_code == 303 and r.headers["location"] == f"{BYE}?state=s-1"


def test_logout_to_another_clients_uri_is_not_followed(world):
    """client_id names an app whose registration lacks the URI: no redirect, ever."""
    lg = login(world, user="peggy")
    cid = world.client("thirdparty")["client_id"]
    q = urlencode({"client_id": cid, "post_logout_redirect_uri": BYE})
    page = lg.browser.http.get(f"{world.base}/end_session?{q}")
    assert form_action(page) == "form-action 'self'"
    r = lg.browser.submit(page, "/end_session/confirm", decision="yes")
    assert r.status_code == 200 and "location" not in r.headers


@pytest.mark.parametrize(
    "uri, source",
    [
        ("https://app.example.go.th/cb?x=1", "https://app.example.go.th"),
        ("https://app.example.go.th:8443/cb", "https://app.example.go.th:8443"),
        ("http://127.0.0.1:53682/cb", "http://127.0.0.1:53682"),
        ("https://user:pw@app.example.go.th/cb", "https://app.example.go.th"),
        ("th.go.example.app:/oauth2redirect", "th.go.example.app:"),
        ("https://app.example.go.th;script-src */cb", None),
        ("https:///nohost", None),
        ("", None),
    ],
)
def test_form_target_source(uri, source):
    assert form_target_source(uri) == source
    if source is None:
        assert page_csp(uri) == DEFAULT_CSP
    else:
        assert f"form-action 'self' {source};" in page_csp(uri)
