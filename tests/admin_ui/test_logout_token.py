"""Back-channel logout tokens (OIDC Back-Channel Logout 1.0 §2.4, §2.6): only a token
GovID signed for this console, about a logout, naming a sid, ends anything."""

from __future__ import annotations

import time

import pytest
from joserfc import jwt
from joserfc.jwk import KeySet, OctKey, RSAKey

from admin_ui.oidc import BACKCHANNEL_EVENT, LogoutTokenError, validate_logout_token

ISS = "https://govid.example.go.th"
AUD = "govid-admin-console"
KEY = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
KEYS = KeySet([RSAKey.import_key(KEY.as_dict(private=False))])


def claims(**over) -> dict:
    now = int(time.time())
    c = {
        "iss": ISS,
        "aud": AUD,
        "iat": now,
        "exp": now + 120,
        "jti": "j-1",
        "sub": "acc-1",
        "sid": "sid-1",
        "events": {BACKCHANNEL_EVENT: {}},
    }
    c.update(over)
    return {k: v for k, v in c.items() if v is not None}


def token(c: dict | None = None, *, key=KEY, header: dict | None = None) -> str:
    h = {"alg": "RS256", "kid": "k1", "typ": "logout+jwt", **(header or {})}
    return jwt.encode(h, c or claims(), key)


def check(t: str) -> dict:
    return validate_logout_token(t, KEYS, issuer=ISS, client_id=AUD)


def test_a_good_token_gives_its_sid():
    assert check(token())["sid"] == "sid-1"
    assert check(token(claims(aud=[AUD, "other"])))["sid"] == "sid-1"
    assert check(token(header={"typ": "application/logout+jwt"}))


@pytest.mark.parametrize(
    "bad",
    [
        claims(iss="https://evil.example"),
        claims(aud="another-app"),
        claims(aud=["another-app"]),
        claims(iat=int(time.time()) - 3600),
        claims(iat=int(time.time()) + 3600),
        claims(exp=int(time.time()) - 3600),
        claims(events={"http://example/other": {}}),
        claims(events=None),
        claims(sid=None),
        claims(nonce="n"),
        claims(jti=None),
    ],
)
def test_claims_that_end_nothing(bad):
    with pytest.raises(LogoutTokenError):
        check(token(bad))


def test_an_id_token_is_not_a_logout_token():
    with pytest.raises(LogoutTokenError):
        check(token(header={"typ": "JWT"}))


def test_signatures_of_others_and_symmetric_algorithms_are_refused():
    stranger = RSAKey.generate_key(2048, parameters={"kid": "k1", "alg": "RS256"})
    with pytest.raises(LogoutTokenError):
        check(token(key=stranger))
    hs = OctKey.generate_key(256, parameters={"kid": "k1"})
    forged = jwt.encode({"alg": "HS256", "kid": "k1", "typ": "logout+jwt"}, claims(), hs)
    with pytest.raises(LogoutTokenError):
        check(forged)
    with pytest.raises(LogoutTokenError):
        check("not.a.jwt")
    head, body, _sig = token().split(".")
    with pytest.raises(LogoutTokenError):
        check(f"{head}.{body}.")
