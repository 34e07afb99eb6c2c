"""IDP_SECRET_KEY rotation (issue 21): after a new key is made current with the old one in
IDP_SECRET_KEY_PREVIOUS, a sign-in page served before the rotation still posts (its CSRF
token and signed interaction verify), a browser's device cookie is still recognised, and
new values are signed with the new key only. Without the previous key they are refused."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from idp import migrate
from idp.clients import service as clients
from idp.main import create_app
from idp.services import Services
from idp.signing import BadSignature, Signer
from idp.web import device_cookie
from tests import factories
from tests.conftest import make_settings

OLD = "old-secret-key-" + "o" * 32
NEW = "new-secret-key-" + "n" * 32
REDIRECT = "https://rp.rot.go.th/cb"
PASSWORD = "correct horse battery staple"


@pytest.fixture
def url(tmp_path):
    u = f"sqlite:///{tmp_path / 'sk.db'}"
    migrate.upgrade(u)
    s = Services(make_settings(u))
    with s.sessions.begin() as db:
        factories.agency(db, "sk", domains=["sk.go.th"])
    with s.sessions.begin() as db:
        factories.account(
            db, "a@sk.go.th", "sk", hasher=s.hasher, cipher=s.cipher, password=PASSWORD
        )
        clients.create(
            db,
            clients.NewClient(
                agency_code="sk",
                name_th="แอป",
                name_en="App",
                client_id="sk-app",
                redirect_uris=(REDIRECT,),
                first_party=True,
            ),
        )
    s.close()
    return u


def _app(url: str, key: str, previous: str = "") -> TestClient:
    settings = make_settings(url, secret_key=key, secret_key_previous=previous)
    return TestClient(create_app(settings, start_workers=False), follow_redirects=False)


def _login_page(http: TestClient):
    r = http.get(
        "/authorize",
        params={
            "client_id": "sk-app",
            "response_type": "code",
            "redirect_uri": REDIRECT,
            "scope": "openid",
            "state": "s",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGPqFWeB9w",
            "code_challenge_method": "S256",
        },
    )
    while r.status_code in (302, 303) and r.headers["location"].startswith("/"):
        r = http.get(r.headers["location"])
    assert 'action="/login"' in r.text, r.text[:300]
    return dict(re.findall(r'name="([^"]+)" value="([^"]*)"', r.text))


def _post_login(http: TestClient, fields: dict, cookies) -> object:
    http.cookies.update(cookies)
    return http.post(
        "/login",
        data={
            "csrf_token": fields["csrf_token"],
            "i": fields["i"],
            "email": "a@sk.go.th",
            "password": PASSWORD,
        },
    )


def test_a_page_served_before_the_rotation_still_signs_in(url):
    with _app(url, OLD) as before:
        fields = _login_page(before)
        cookies = dict(before.cookies)
    with _app(url, NEW, previous=OLD) as after:
        r = _post_login(after, fields, cookies)
        assert r.status_code in (302, 303) and r.headers["location"].startswith(REDIRECT), (
            r.status_code,
            r.text[:300],
        )


def test_without_the_previous_key_the_old_page_is_refused(url):
    with _app(url, OLD) as before:
        fields = _login_page(before)
        cookies = dict(before.cookies)
    with _app(url, NEW) as after:
        r = _post_login(after, fields, cookies)
        assert r.status_code == 400
        assert not r.headers.get("location", "").startswith(REDIRECT)


def test_new_values_are_signed_with_the_new_key_only():
    token = Signer((NEW, OLD), "interaction").dumps({"x": 1}, 60)
    assert Signer(NEW, "interaction").loads(token) == {"x": 1}
    with pytest.raises(BadSignature):
        Signer(OLD, "interaction").loads(token)
    old_token = Signer(OLD, "interaction").dumps({"x": 2}, 60)
    assert Signer((NEW, OLD), "interaction").loads(old_token) == {"x": 2}
    with pytest.raises(BadSignature):
        Signer(NEW, "interaction").loads(old_token)


def test_device_cookie_survives_the_rotation():
    email = "a@sk.go.th"
    name = device_cookie.cookie_name(OLD, email, https=True)
    value = device_cookie.issue(OLD, email, 30)
    cookies = {name: value}
    assert device_cookie.find((NEW, OLD), email, cookies, https=True)
    assert device_cookie.find((NEW,), email, cookies, https=True) is None
