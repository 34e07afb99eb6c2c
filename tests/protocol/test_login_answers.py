"""What /authorize and the sign-in and second-factor POSTs answer (issue 5): /authorize
shows the sign-in page itself; a POST answers with the redirect to the client when
nothing else is needed, the next interaction page when one is, and /authorize/resume
when the next step is a page of its own (never a page as the answer to a POST that a
reload would send again, RFC 9700 §4.12)."""

import html
import re

from tests.protocol.conftest import PASSWORD, Browser, callback_params, decode_jwt, form_fields
from tests.protocol.rp import REDIRECT, authorize_url, rp_client
from tests.protocol.test_assurance import L2, enrol_totp, next_code


def _sign_in(world, b: Browser, client: str = "web", user: str = "alice", **extra):
    rp = rp_client(world, client)
    url, verifier, nonce, state = authorize_url(world, rp, **extra)
    page = b.http.get(url)  # the sign-in page itself: no redirect to /login first
    assert page.status_code == 200 and 'action="/login"' in page.text
    fields = form_fields(page.text)
    r = b.http.post(
        "/login",
        data={
            "i": fields["i"],
            "csrf_token": fields["csrf_token"],
            "email": world.users[user],
            "password": PASSWORD,
        },
    )
    assert r.status_code == 303, r.text[:300]
    return rp, verifier, nonce, state, r


def test_sign_in_answers_with_the_code_and_the_code_redeems(world):
    b = Browser(world.base)
    rp, verifier, nonce, state, r = _sign_in(world, b)
    assert r.headers["location"].startswith(REDIRECT + "?")
    params = callback_params(r)
    assert params["state"] == state and params["iss"] == world.base
    token = rp.fetch_token(f"{world.base}/token", code=params["code"], code_verifier=verifier)
    _, claims = decode_jwt(world.base, token["id_token"])
    assert claims["nonce"] == nonce and claims["acr"] == "urn:govid:acr:1"
    # The session of the cookie set on that same answer works for the next request.
    url, *_ = authorize_url(world, rp, prompt="none")
    assert "code" in callback_params(b.go(url))


def test_form_post_and_consent_go_through_resume(world):
    for client, extra, marker in (
        ("web", {"response_mode": "form_post"}, 'name="code"'),
        ("thirdparty", {}, 'action="/consent"'),
    ):
        b = Browser(world.base)
        *_, r = _sign_in(world, b, client=client, user="bob", **extra)
        assert r.headers["location"].startswith("/authorize/resume?i="), client
        page = b.go(r.headers["location"])
        assert page.status_code == 200 and marker in page.text, client


def test_level2_sign_in_goes_to_the_second_factor_then_to_the_client(world):
    _, secret, _codes = enrol_totp(world, "heidi")
    b = Browser(world.base)
    rp, verifier, _nonce, state, r = _sign_in(world, b, user="heidi", acr_values=L2)
    assert r.headers["location"].startswith("/mfa?i="), r.headers["location"]
    page = b.go(r.headers["location"])
    fields = form_fields(page.text)
    r = b.http.post(
        "/mfa",
        data={
            "i": fields["i"],
            "csrf_token": fields["csrf_token"],
            "code": next_code(world, secret),
        },
    )
    assert r.status_code == 303 and r.headers["location"].startswith(REDIRECT + "?")
    assert any("govid_session=" in h for h in r.headers.get_list("set-cookie"))  # rotated
    params = callback_params(r)
    assert params["state"] == state
    token = rp.fetch_token(f"{world.base}/token", code=params["code"], code_verifier=verifier)
    _, claims = decode_jwt(world.base, token["id_token"])
    assert claims["acr"] == L2 and "otp" in claims["amr"]


def test_the_sign_in_page_at_authorize_switches_language_in_place(world):
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "web"))
    page = b.http.get(url)
    assert page.status_code == 200 and '<html lang="th">' in page.text
    switch = re.search(r'href="(/authorize\?[^"]*lang=en[^"]*)"', page.text)
    assert switch, page.text[:400]
    english = b.http.get(html.unescape(switch.group(1)))
    assert english.status_code == 200 and '<html lang="en">' in english.text
    assert 'action="/login"' in english.text
