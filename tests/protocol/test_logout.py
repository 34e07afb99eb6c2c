"""RP-Initiated Logout 1.0 and Back-Channel Logout 1.0 against a real RP endpoint."""

from urllib.parse import urlencode

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from tests.protocol.conftest import jwks_of
from tests.protocol.rp import authorize_url, login, rp_client, token_post
from tests.waiting import wait_until

BYE = "https://rp.example.go.th/bye"
EVENT = "http://schemas.openid.net/event/backchannel-logout"


def end_session_url(world, **params) -> str:
    return f"{world.base}/end_session?{urlencode(params)}"


def test_logout_with_hint_redirects_with_state_and_notifies_apps(world):
    lg = login(world, user="alice")
    _, idt = (
        None,
        jwt.decode(
            lg.token["id_token"], KeySet.import_key_set(jwks_of(world.base)), algorithms=["RS256"]
        ).claims,
    )
    r = lg.browser.http.get(
        end_session_url(
            world, id_token_hint=lg.token["id_token"], post_logout_redirect_uri=BYE, state="bye-1"
        )
    )
    assert r.status_code == 303 and r.headers["location"] == f"{BYE}?state=bye-1"
    # The session is over: the next authorization asks for a password again.
    rp = rp_client(world)
    url, *_ = authorize_url(world, rp)
    assert 'action="/login"' in lg.browser.go(url).text
    # Its refresh tokens are dead too.
    r = token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": lg.token["refresh_token"]}
    )
    assert r.json()["error"] == "invalid_grant"
    # Back-channel logout arrives at the RP, without blocking the user.
    keys = KeySet.import_key_set(jwks_of(world.base))

    def received():
        for token in list(world.receiver.tokens):
            try:  # the receiver also hears the other backend's server
                decoded = jwt.decode(token, keys, algorithms=["RS256"])
            except JoseError:
                continue
            if decoded.claims.get("sid") == idt["sid"]:
                return decoded
        return None

    t = wait_until(received, 15, "a back-channel logout token for this session")
    assert t.header["typ"] == "logout+jwt"
    c = t.claims
    assert c["iss"] == world.base and c["aud"] == world.client("web")["client_id"]
    assert c["sid"] == idt["sid"] and c["sub"] == idt["sub"] and EVENT in c["events"]
    assert "nonce" not in c and c["exp"] > c["iat"] and c["jti"]


def test_logout_without_hint_asks_for_confirmation(world):
    lg = login(world, user="bob")
    page = lg.browser.http.get(end_session_url(world, post_logout_redirect_uri=BYE))
    assert page.status_code == 200 and 'action="/end_session/confirm"' in page.text
    r = lg.browser.submit(page, "/end_session/confirm", decision="yes")
    # No hint: no redirect (the RP could not be verified), a signed-out page instead.
    assert r.status_code == 200 and "logged" not in r.headers.get("location", "")
    assert "ออกจากระบบ" in r.text


def test_unregistered_post_logout_uri_never_redirects(world):
    lg = login(world, user="carol")
    r = lg.browser.http.get(
        end_session_url(
            world,
            id_token_hint=lg.token["id_token"],
            post_logout_redirect_uri="https://evil.example/",
        )
    )
    assert r.status_code == 200 and "location" not in r.headers


def test_forged_hint_is_an_error_page(world):
    r = httpx.get(
        end_session_url(
            world, id_token_hint="eyJhbGciOiJub25lIn0.e30.", post_logout_redirect_uri=BYE
        )
    )
    assert r.status_code == 400 and "location" not in r.headers


def test_signing_out_has_no_time_limit_but_a_late_answer_stays_at_govid(world):
    """WCAG 2.2.1: the sign-out confirmation shows no time limit and a late "Sign out"
    still signs the person out. Only the way back to the app, checked when the page was
    made, is not taken after ten minutes: the signed-out page instead."""
    cid = world.client("web")["client_id"]
    for late in (False, True):
        lg = login(world, user="judy")
        b = lg.browser
        page = b.http.get(end_session_url(world, client_id=cid, post_logout_redirect_uri=BYE))
        assert page.status_code == 200 and 'action="/end_session/confirm"' in page.text
        assert 'id="time-limit"' not in page.text
        if late:
            world.clock.advance(11 * 60)
        r = b.submit(page, "/end_session/confirm", decision="yes")
        if late:
            assert r.status_code == 200 and "location" not in r.headers
            assert 'id="sign-in-again"' in r.text
        else:
            assert r.status_code == 303 and r.headers["location"].startswith(BYE)
        # Signed out either way: the app's next sign-in asks for the password again.
        url, *_ = authorize_url(world, rp_client(world, "web"))
        again = b.go(url)
        assert again.status_code == 200 and 'action="/login"' in again.text
