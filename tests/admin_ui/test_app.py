"""The console in-process against a stand-in admin API (httpx.MockTransport): a lapsed
level-2 sign-in sends the person to sign in again and back, CSRF, headers, settings."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager

import httpx
import pytest
from fastapi.testclient import TestClient

from admin_ui import oidc
from admin_ui.api import AdminApi
from admin_ui.config import Settings
from admin_ui.main import create_app
from admin_ui.middleware import COOKIE
from admin_ui.store import Record

ISSUER = "https://govid.example.go.th"


def settings(tmp_path, **over) -> Settings:
    values = dict(
        env="test",
        issuer=ISSUER,
        base_url="https://console.example.go.th",
        client_secret="s" * 40,
        session_secret="x" * 40,
        store_url=f"sqlite:///{tmp_path}/console.db",
    )
    values.update(over)
    return Settings(**values)


class FakeApi:
    def __init__(self) -> None:
        self.answers: dict[str, httpx.Response] = {}
        self.seen: list[httpx.Request] = []

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path.endswith("/token"):
            return httpx.Response(400, json={"error": "invalid_grant"})
        return self.answers.get(request.url.path) or httpx.Response(
            404, json={"type": "urn:govid:problem:not-found", "status": 404}
        )


@contextmanager
def signed_in_console(tmp_path, handler):
    """The console in-process, its admin API answered by ``handler`` (an httpx mock
    transport's), with a signed-in session (CSRF "c" * 20, a live access token)."""
    app = create_app(settings(tmp_path))
    with TestClient(app, base_url="https://console.example.go.th") as client:
        http = httpx.AsyncClient(transport=httpx.MockTransport(handler))
        app.state.api = AdminApi(app.state.settings, app.state.govid, http)
        store = app.state.store
        rec = Record(
            id=store.new_id(),
            data={
                "csrf": "c" * 20,
                "user": {"sub": "acc-1", "name": "Admin"},
                "tokens": {
                    "access_token": "at-1",
                    "refresh_token": "rt-1",
                    "expires_at": int(time.time()) + 300,
                    "id_token": "idt",
                },
            },
            sid="sid-1",
        )
        store.save(rec)
        client.cookies.set(COOKIE, store.sign(rec.id))
        yield client, app
    client.close()


@pytest.fixture
def console(tmp_path):
    fake = FakeApi()
    with signed_in_console(tmp_path, fake.handler) as (client, app):
        yield client, fake, app


def test_a_lapsed_level_two_sign_in_goes_back_through_govid(console):
    client, fake, _app = console
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        401,
        json={"type": "urn:govid:problem:insufficient-assurance", "status": 401},
        headers={"WWW-Authenticate": 'Bearer error="insufficient_user_authentication"'},
    )
    r = client.get("/accounts?status=active", follow_redirects=False)
    assert r.status_code == 303
    assert r.headers["location"] == "/login?next=%2Faccounts%3Fstatus%3Dactive"
    assert fake.seen[0].headers["authorization"] == "Bearer at-1"


def test_an_access_token_refused_is_refreshed_once_then_sign_in(console, monkeypatch):
    client, fake, _app = console
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        401, json={"type": "urn:govid:problem:unauthenticated", "status": 401}
    )
    calls = []

    async def refused(_settings, _client, rt):  # GovID refuses the refresh token
        calls.append(rt)
        return None

    monkeypatch.setattr(oidc, "refresh", refused)
    r = client.get("/accounts", follow_redirects=False)
    assert calls == ["rt-1"]
    assert r.status_code == 303 and r.headers["location"].startswith("/login?next=")


def test_answers_of_the_api_decide_what_is_shown(console):
    client, fake, _app = console
    r = client.get("/accounts/00000000-0000-0000-0000-000000000001")
    assert r.status_code == 404
    assert "outside your agencies" in r.text or "หน่วยงานของคุณ" in r.text
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        403, json={"type": "urn:govid:problem:forbidden", "status": 403}
    )
    r = client.get("/accounts", headers={"Accept-Language": "en"})
    assert r.status_code == 403 and "Your role does not allow this." in r.text


def test_forms_without_the_csrf_token_are_refused(console):
    client, fake, _app = console
    r = client.post("/accounts/abc/suspend", data={"reason": "x"})
    assert r.status_code == 403
    r = client.post("/logout", data={"csrf_token": "wrong"})
    assert r.status_code == 403
    assert not [q for q in fake.seen if q.method == "POST"]


def test_validation_problems_are_shown_next_to_their_field(console):
    client, fake, _app = console
    account = {
        "id": "a1",
        "email": "p@x.go.th",
        "agency": {"id": "g", "code": "x"},
        "given_name_th": "ก",
        "family_name_th": "ข",
        "given_name_en": "A",
        "family_name_en": "B",
        "status": "active",
        "citizen_id_last4": None,
        "aliases": [],
        "updated_at": "2026-01-01T00:00:00Z",
        "protected": None,
    }
    fake.answers["/admin/v1/accounts/a1"] = httpx.Response(
        200, json=account, headers={"ETag": '"4"'}
    )
    fake.answers["/admin/v1/accounts/a1/suspend"] = httpx.Response(
        422,
        json={
            "type": "urn:govid:problem:invalid-input",
            "status": 422,
            "errors": [{"field": "body.reason", "message": "bad", "code": "string_pattern"}],
        },
    )
    r = client.post(
        "/accounts/a1/suspend",
        data={"csrf_token": "c" * 20, "reason": "bad\x01", "etag": '"4"', "idempotency_key": "k1"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422
    assert 'id="reason-error"' in r.text and "string_pattern" in r.text
    sent = next(x for x in fake.seen if x.method == "POST")
    assert sent.headers["if-match"] == '"4"' and sent.headers["idempotency-key"] == "k1"


def test_headers_cookie_and_no_open_redirect(console):
    client, _fake, _app = console
    r = client.get("/signed-out")
    csp = r.headers["content-security-policy"]
    assert "unsafe-inline" not in csp and "default-src 'none'" in csp
    assert f"form-action 'self' {ISSUER}" in csp
    r = client.get("/lang/en?next=//evil.example/x", follow_redirects=False)
    assert r.headers["location"] == "/"
    r = client.get("/lang/en?next=https://evil.example/", follow_redirects=False)
    assert r.headers["location"] == "/"


def test_the_shipped_thai_font_is_served_under_the_csp(console):
    client, _fake, _app = console
    css = client.get("/static/govid.css").text
    assert "url(fonts/sarabun-thai-400-normal.woff2)" in css
    r = client.get("/static/fonts/sarabun-thai-400-normal.woff2")
    assert r.status_code == 200 and r.content[:4] == b"wOF2"
    assert r.headers["content-type"] == "font/woff2"
    assert "font-src 'self'" in r.headers["content-security-policy"]
    assert client.get("/static/fonts/../main.py").status_code == 404


def test_back_channel_endpoint_refuses_what_it_cannot_verify(console):
    client, _fake, app = console
    r = client.post("/backchannel-logout", data={})
    assert r.status_code == 400


def test_dev_secrets_are_refused_outside_dev(tmp_path):
    # pydantic reports InsecureSettingsError (a ValueError) as a ValidationError.
    default = Settings.model_fields
    for over, name in (
        ({"session_secret": default["session_secret"].default}, "ADMIN_UI_SESSION_SECRET"),
        ({"client_secret": default["client_secret"].default}, "ADMIN_UI_CLIENT_SECRET"),
        ({"session_secret": "short"}, "at least 32"),
        ({"env": "prod", "issuer": "http://govid.example.go.th"}, "https"),
    ):
        with pytest.raises(ValueError, match=name):
            settings(tmp_path, **over)
    assert Settings(env="dev").client_id == "govid-admin-console"


def test_two_requests_of_one_session_refresh_once(tmp_path, monkeypatch):
    """GovID revokes a refresh token's family on its second use: two requests of one
    console session with an expired access token must use it once."""
    import asyncio

    calls = []

    async def slow_refresh(_settings, _client, rt):
        calls.append(rt)
        await asyncio.sleep(0.05)
        return {"access_token": "at-2", "refresh_token": "rt-2", "expires_in": 300}

    monkeypatch.setattr(oidc, "refresh", slow_refresh)
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["authorization"])
        return httpx.Response(200, json={"items": [], "next_cursor": None})

    async def run():
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            api = AdminApi(settings(tmp_path), None, http)
            sessions = [
                {"tokens": {"access_token": "at-1", "refresh_token": "rt-1", "expires_at": 0}}
                for _ in range(2)
            ]
            await asyncio.gather(*(api.call(s, "GET", "/accounts") for s in sessions))
            return sessions

    # In a thread of its own: Playwright's sync API may hold this thread's event loop.
    with ThreadPoolExecutor(1) as pool:
        sessions = pool.submit(asyncio.run, run()).result()
    assert calls == ["rt-1"]
    assert all(s["tokens"]["refresh_token"] == "rt-2" for s in sessions)
    assert seen == ["Bearer at-2", "Bearer at-2"]
