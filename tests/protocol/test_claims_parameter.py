"""The `claims` request parameter and request objects at /authorize (OIDC Core §5.5,
§6): what the parameter may release, to whom, and what is refused rather than ignored."""

import json

import httpx

from tests.protocol.conftest import Browser, callback_params, decode_jwt
from tests.protocol.rp import authorize_url, login, rp_client
from tests.protocol.test_authorize_errors import auth


def _sub(world, token: dict) -> str:
    return decode_jwt(world.base, token["id_token"])[1]["sub"]


def test_request_objects_are_refused_with_their_error_codes_not_ignored(world):
    # Discovery says request_parameter_supported/request_uri_parameter_supported: false;
    # OIDC Core §6.1/§6.2 then require these errors at the client, with state and iss.
    disco = httpx.get(f"{world.base}/.well-known/openid-configuration").json()
    assert disco["request_parameter_supported"] is False
    assert disco["request_uri_parameter_supported"] is False
    lg = login(world, user="carol")
    request_object = "eyJhbGciOiJub25lIn0.eyJyZWRpcmVjdF91cmkiOiJodHRwOi8vZXZpbC8ifQ."
    p = callback_params(lg.browser.go(auth(world, request=request_object, prompt="none")))
    assert p["error"] == "request_not_supported" and "code" not in p
    assert p["state"] == "s-1" and p["iss"] == world.base
    p = callback_params(
        lg.browser.go(auth(world, request_uri="https://rp.example.go.th/r.jwt", prompt="none"))
    )
    assert p["error"] == "request_uri_not_supported" and "code" not in p


def test_empty_max_age_counts_as_omitted(world):
    # RFC 6749 §3.1: parameters sent without a value are treated as omitted.
    lg = login(world, user="carol")
    p = callback_params(lg.browser.go(auth(world, prompt="none", max_age="")))
    assert "code" in p
    p = callback_params(lg.browser.go(auth(world, prompt="none", max_age="9999999999")))
    assert "code" in p  # a large but valid max_age is no error
    p = callback_params(lg.browser.go(auth(world, prompt="none", max_age="-1")))
    assert p["error"] == "invalid_request"


def test_a_requested_sub_value_is_only_answered_for_that_person(world):
    alice_sub = _sub(world, login(world, user="alice").token)
    carol = login(world, user="carol")
    carol_sub = _sub(world, carol.token)
    for_alice = json.dumps({"id_token": {"sub": {"value": alice_sub}}})
    # OIDC Core §5.5.1: never a positive answer for another person.
    p = callback_params(carol.browser.go(auth(world, prompt="none", claims=for_alice)))
    assert p["error"] == "login_required" and "code" not in p
    page = carol.browser.go(auth(world, claims=for_alice))
    assert page.status_code == 200 and 'action="/login"' in page.text
    for_carol = json.dumps({"id_token": {"sub": {"value": carol_sub}}})
    assert "code" in callback_params(carol.browser.go(auth(world, prompt="none", claims=for_carol)))
    # An id_token_hint naming someone else than the requested sub cannot be met.
    p = callback_params(
        carol.browser.go(
            auth(world, prompt="none", claims=for_alice, id_token_hint=carol.token["id_token"])
        )
    )
    assert p["error"] == "invalid_request"


def test_claims_asked_one_by_one_need_the_persons_consent(world):
    # judy allows the third-party app to know only that she signed in (scope openid).
    browser = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world, "thirdparty", scope="openid"))
    page = browser.login(browser.go(url), world.users["judy"])
    assert 'action="/consent"' in page.text
    assert "code" in callback_params(browser.submit(page, "/consent", decision="allow"))
    email_claim = json.dumps({"id_token": {"email": None}, "userinfo": {"email": None}})
    p = callback_params(
        browser.go(auth(world, client="thirdparty", prompt="none", claims=email_claim))
    )
    assert p["error"] == "consent_required" and "code" not in p
    # Asked interactively, the consent page names the email address.
    page = browser.go(auth(world, client="thirdparty", claims=email_claim))
    assert page.status_code == 200 and 'action="/consent"' in page.text
    assert "อีเมล" in page.text or "email address" in page.text.lower()


def test_claims_parameter_cannot_widen_what_a_client_may_see(world):
    # The "narrow" app is registered for openid only: asking for govid's claims one by one
    # releases nothing more, in the ID token or at userinfo.
    ask = json.dumps(
        {
            "id_token": {"agency_path": None, "roles": None, "email": None},
            "userinfo": {"agency": None, "email": None, "name": None},
        }
    )
    lg = login(world, user="carol", name="narrow", claims=ask)
    _, idt = decode_jwt(world.base, lg.token["id_token"])
    assert not {"agency_path", "roles", "email", "agency"} & set(idt)
    info = lg.rp.get(f"{world.base}/userinfo").json()
    assert info["sub"] == idt["sub"]
    assert not {"agency", "email", "name"} & set(info)
    # A client registered for those scopes still gets them through the parameter.
    full = login(world, user="carol", claims=json.dumps({"id_token": {"email": None}}))
    assert decode_jwt(world.base, full.token["id_token"])[1]["email"] == world.users["carol"]


def test_essential_acr_without_values_only_asks_for_acr_to_be_returned(world):
    # OIDC Core §5.5.1.1: a match is needed only when values are given.
    claims = json.dumps({"id_token": {"acr": {"essential": True}}})
    lg = login(world, user="carol", claims=claims)
    assert decode_jwt(world.base, lg.token["id_token"])[1]["acr"] == "urn:govid:acr:1"
