"""The authorization endpoint's failure paths (RFC 6749 §4.1.2.1, OIDC Core §3.1.2.6,
RFC 9700 §4.1): never redirect to an unverified URI, always echo state and iss."""

import json
from urllib.parse import urlencode

import httpx
import pytest

from tests.protocol.conftest import PUBLIC_REDIRECT, REDIRECT, Browser, callback_params, pkce_pair
from tests.protocol.rp import authorize_url, login, rp_client


def auth(world, client="web", **params):
    _, challenge = pkce_pair()
    base = {
        "response_type": "code",
        "client_id": world.client(client)["client_id"],
        "redirect_uri": REDIRECT,
        "scope": "openid",
        "state": "s-1",
        "code_challenge": challenge,
        "code_challenge_method": "S256",
    }
    base.update(params)
    return f"{world.base}/authorize?{urlencode({k: v for k, v in base.items() if v is not None})}"


@pytest.mark.parametrize(
    "redirect_uri",
    [
        "https://evil.example.com/callback",  # other host
        "https://rp.example.go.th/callback/extra",  # added path
        "https://rp.example.go.th/callback?x=1",  # added query
        "https://RP.example.go.th/callback",  # case
        "https://user@rp.example.go.th/callback",  # userinfo part
        "https://rp.example.go.th/callback/",  # trailing slash
        "https://rp.example.go.th:443/callback",  # explicit default port
        "http://rp.example.go.th/callback",  # scheme downgrade
        "not a uri",  # malformed
        "",  # missing
    ],
)
def test_unregistered_redirect_uri_shows_error_page_and_never_redirects(world, redirect_uri):
    r = httpx.get(auth(world, redirect_uri=redirect_uri or None))
    assert r.status_code == 400
    assert "location" not in r.headers
    assert r.headers["content-type"].startswith("text/html")
    assert "invalid_request" in r.text


def test_unknown_client_shows_error_page(world):
    r = httpx.get(auth(world).replace(world.client("web")["client_id"], "nope"))
    assert r.status_code == 400 and "location" not in r.headers and "invalid_client" in r.text


def test_duplicate_redirect_uri_parameter_is_refused(world):
    r = httpx.get(auth(world) + "&redirect_uri=" + REDIRECT)
    assert r.status_code == 400 and "location" not in r.headers


@pytest.mark.parametrize("response_type", ["token", "id_token", "code id_token", "code token"])
def test_other_response_types_are_unsupported(world, response_type):
    p = callback_params(httpx.get(auth(world, response_type=response_type)))
    assert p["error"] == "unsupported_response_type"
    assert p["state"] == "s-1" and p["iss"] == world.base


@pytest.mark.parametrize(
    "params, error",
    [
        ({"response_mode": "fragment"}, "invalid_request"),
        ({"prompt": "none login"}, "invalid_request"),
        ({"prompt": "bogus"}, "invalid_request"),
        ({"max_age": "-1"}, "invalid_request"),
        ({"max_age": "soon"}, "invalid_request"),
        ({"claims": "{not json"}, "invalid_request"),
        ({"claims": json.dumps({"id_token": ["acr"]})}, "invalid_request"),
        ({"scope": "openid superpowers"}, "invalid_scope"),
        ({"code_challenge_method": "plain"}, "invalid_request"),
        ({"code_challenge_method": None}, "invalid_request"),  # absent = plain
        ({"code_challenge": "short"}, "invalid_request"),
        ({"id_token_hint": "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."}, "invalid_request"),
    ],
)
def test_bad_parameters_redirect_with_error_state_and_iss(world, params, error):
    p = callback_params(httpx.get(auth(world, **params)))
    assert p["error"] == error, p
    assert p["state"] == "s-1" and p["iss"] == world.base


def test_public_client_must_use_pkce(world):
    p = callback_params(
        httpx.get(
            auth(
                world,
                client="spa",
                redirect_uri=PUBLIC_REDIRECT,
                code_challenge=None,
                code_challenge_method=None,
            )
        )
    )
    assert p["error"] == "invalid_request" and "PKCE" in p["error_description"]


def test_hs256_id_token_hint_signed_with_our_public_key_is_rejected(world):
    from joserfc import jwt
    from joserfc.jwk import OctKey

    pub = httpx.get(f"{world.base}/jwks").json()["keys"][0]
    forged = jwt.encode(
        {"alg": "HS256", "kid": pub["kid"]},
        {"iss": world.base, "sub": "x", "aud": "y"},
        OctKey.import_key(json.dumps(pub)),
        algorithms=["HS256"],
    )
    p = callback_params(httpx.get(auth(world, id_token_hint=forged)))
    assert p["error"] == "invalid_request"


def test_prompt_none_without_session(world):
    p = callback_params(httpx.get(auth(world, prompt="none")))
    assert p == {
        "error": "login_required",
        "error_description": p["error_description"],
        "state": "s-1",
        "iss": world.base,
    }


def test_prompt_none_without_consent(world):
    lg = login(world, user="bob")
    p = callback_params(lg.browser.go(auth(world, client="thirdparty", prompt="none")))
    assert p["error"] == "consent_required"


def test_prompt_none_with_session_and_other_users_hint(world):
    alice = login(world, user="alice")
    carol = login(world, user="carol")
    p = callback_params(
        carol.browser.go(auth(world, prompt="none", id_token_hint=alice.token["id_token"]))
    )
    assert p["error"] == "login_required"


def test_prompt_none_with_session_succeeds(world):
    lg = login(world, user="carol")
    p = callback_params(lg.browser.go(auth(world, prompt="none")))
    assert "code" in p and p["iss"] == world.base


def test_form_post_response_mode(world):
    lg = login(world, user="carol")
    r = lg.browser.go(auth(world, response_mode="form_post", state="fp-state"))
    assert r.status_code == 200
    assert f'action="{REDIRECT}"' in r.text
    assert 'name="code"' in r.text and 'value="fp-state"' in r.text
    assert f'value="{world.base}"' in r.text  # iss
    csp = r.headers["content-security-policy"]
    assert "form-action https://rp.example.go.th" in csp and "frame-ancestors 'none'" in csp


def test_form_post_errors_too(world):
    r = httpx.get(auth(world, response_mode="form_post", prompt="none"))
    assert r.status_code == 200 and 'value="login_required"' in r.text


def test_post_to_authorize_works_like_get(world):
    _, challenge = pkce_pair()
    r = httpx.post(
        f"{world.base}/authorize",
        data={
            "response_type": "code",
            "client_id": world.client("web")["client_id"],
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "p",
            "prompt": "none",
            "code_challenge": challenge,
            "code_challenge_method": "S256",
        },
    )
    assert r.status_code == 303
    assert callback_params(r)["error"] == "login_required"


def test_essential_level2_is_unmet_without_a_second_factor(world):
    claims = json.dumps({"id_token": {"acr": {"essential": True, "values": ["urn:govid:acr:2"]}}})
    lg = login(world, user="carol")
    p = callback_params(lg.browser.go(auth(world, claims=claims)))
    assert p["error"] == "unmet_authentication_requirements"


def test_voluntary_level2_without_factor_offers_enrolment_that_can_be_skipped(world):
    lg = login(world, user="carol")
    page = lg.browser.go(auth(world, acr_values="urn:govid:acr:2 urn:govid:acr:1"))
    assert 'action="/mfa/enrol"' in page.text and 'action="/mfa/enrol/skip"' in page.text
    p = callback_params(lg.browser.submit(page, "/mfa/enrol/skip"))
    assert "code" in p


def test_client_min_acr_applies_even_when_app_asks_less(world):
    lg = login(world, user="carol")
    page = lg.browser.go(auth(world, client="strict", acr_values="urn:govid:acr:1"))
    # Level 2 is mandatory for this app: enrol, with no way to skip.
    assert 'action="/mfa/enrol"' in page.text and "/mfa/enrol/skip" not in page.text
    p = callback_params(lg.browser.go(auth(world, client="strict", prompt="none")))
    assert p["error"] == "interaction_required"


def test_no_cors_on_authorize_but_security_headers(world):
    r = httpx.get(auth(world), headers={"Origin": "https://evil.example"})
    assert "access-control-allow-origin" not in r.headers
    assert r.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
    assert r.headers["referrer-policy"] == "no-referrer"
    assert r.headers["x-content-type-options"] == "nosniff"
    pre = httpx.options(
        f"{world.base}/token",
        headers={"Origin": "https://spa.example", "Access-Control-Request-Method": "POST"},
    )
    assert pre.status_code == 204 and pre.headers["access-control-allow-origin"] == "*"
    assert httpx.get(f"{world.base}/jwks").headers["access-control-allow-origin"] == "*"


def test_unknown_parameters_are_ignored(world):
    lg = login(world, user="carol", foo="bar", display="page")
    assert lg.token["access_token"]


def test_rp_redirect_is_exactly_the_registered_uri(world):
    rp = rp_client(world)
    browser = Browser(world.base)
    url, *_ = authorize_url(world, rp)
    r = browser.login(browser.go(url), world.users["alice"])
    assert r.headers["location"].startswith(REDIRECT + "?")
