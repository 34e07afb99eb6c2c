"""The dashboard, accounts and roles screens in-process against a stand-in admin API
(the same assertions run against the real API in test_accounts_e2e.py): what is sent
(filters, Idempotency-Key, If-Match, reasons), what is shown (links once and never in a
URL, 412 as "changed by someone else", problems in the person's language next to the
field), and GovID unreachable (a real closed port: a clear page, nothing half-done)."""

from __future__ import annotations

import json
import socket
import time
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient

from admin_ui.main import create_app
from admin_ui.middleware import COOKIE
from admin_ui.store import Record
from tests.admin_ui.test_app import console, settings  # noqa: F401  (fixture)

CSRF = "c" * 20
ACCOUNT = {
    "id": "a1",
    "email": "p@x.go.th",
    "agency": {"id": "g1", "code": "x"},
    "given_name_th": "สมชาย",
    "family_name_th": "ใจดี",
    "given_name_en": "Somchai",
    "family_name_en": "Jaidee",
    "locale": "th",
    "status": "active",
    "citizen_id_last4": "3451",
    "aliases": [],
    "has_password": True,
    "has_second_factor": True,
    "locked": False,
    "updated_at": "2026-01-01T00:00:00Z",
    "protected": None,
}
TOKEN = "tok-" + "Z" * 40


def _json(r: httpx.Request):
    return json.loads(r.content) if r.content else None


def _account_answers(fake, **over):
    fake.answers["/admin/v1/accounts/a1"] = httpx.Response(
        200, json={**ACCOUNT, **over}, headers={"ETag": '"7"'}
    )
    fake.answers["/admin/v1/accounts/a1/sessions"] = httpx.Response(200, json={"items": []})
    fake.answers["/admin/v1/role-grants"] = httpx.Response(
        200, json={"items": [], "next_cursor": None}
    )
    fake.answers["/admin/v1/audit/events"] = httpx.Response(
        200,
        json={
            "items": [
                {
                    "seq": 9,
                    "at": "2026-01-01T01:00:00+00:00",
                    "type": "admin.account.suspended",
                    "outcome": "success",
                    "actor": "admin-1",
                }
            ],
            "next_cursor": None,
        },
    )


def test_search_and_filters_are_the_apis_and_paging_keeps_them(console):  # noqa: F811
    client, fake, _app = console
    item = {**ACCOUNT, "locked": True}
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        200, json={"items": [item], "next_cursor": "CUR"}
    )
    r = client.get(
        "/accounts?q=สมชาย+jai&status=active&agency=x&mfa=yes&locked=yes",
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 200
    sent = parse_qs(urlsplit(str(fake.seen[-1].url)).query)
    assert sent["q"] == ["สมชาย jai"] and sent["has_second_factor"] == ["true"]
    assert sent["locked"] == ["true"] and sent["agency"] == ["x"] and sent["status"] == ["active"]
    assert "p@x.go.th" in r.text and "Locked" in r.text
    nxt = r.text.split('id="next-page" href="')[1].split('"')[0].replace("&amp;", "&")
    assert parse_qs(urlsplit(nxt).query) == {
        "q": ["สมชาย jai"],
        "status": ["active"],
        "agency": ["x"],
        "mfa": ["yes"],
        "locked": ["yes"],
        "cursor": ["CUR"],
    }
    # The API's refusal of the search words, next to the field, in Thai.
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        422,
        json={
            "type": "urn:govid:problem:invalid-input",
            "status": 422,
            "errors": [{"field": "q", "message": "q must hold 1-4 words", "code": "invalid_input"}],
        },
    )
    r = client.get("/accounts?q=a+b+c+d+e", headers={"Accept-Language": "th"})
    assert r.status_code == 422 and 'id="q-error"' in r.text and 'aria-invalid="true"' in r.text
    assert "q must hold" not in r.text  # the API's English is not shown on a Thai page


def test_create_shows_the_activation_link_once_never_in_a_url(console):  # noqa: F811
    client, fake, _app = console
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        201,
        json={
            **ACCOUNT,
            "activation_token": TOKEN,
            "activation_expires_at": "2026-01-15T00:00:00Z",
        },
    )
    form = {
        "csrf_token": CSRF,
        "idempotency_key": "idem-create",
        "email": "p@x.go.th",
        "agency": "x",
        "given_name_th": "สมชาย",
        "locale": "th",
        "citizen_id": "",
    }
    r = client.post("/accounts/new", data=form, follow_redirects=False)
    assert r.status_code == 201
    sent = fake.seen[-1]
    assert sent.method == "POST" and sent.headers["idempotency-key"] == "idem-create"
    assert _json(sent) == {
        "email": "p@x.go.th",
        "agency": "x",
        "given_name_th": "สมชาย",
        "locale": "th",
    }
    assert f"{settings_issuer(client)}/password/set?token={TOKEN}" in r.text
    assert r.headers["cache-control"] == "no-store"
    assert "location" not in r.headers
    assert 'src="/static/copy.js"' in r.text and "data-copy=" in r.text
    js = client.get("/static/copy.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert "localStorage" not in js.text and "sessionStorage" not in js.text
    # The account page afterwards does not show it again.
    _account_answers(fake)
    assert TOKEN not in client.get("/accounts/a1").text


def settings_issuer(client) -> str:
    return client.app.state.settings.issuer


def test_create_problems_next_to_their_field_in_the_persons_language(console):  # noqa: F811
    client, fake, _app = console
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        409,
        json={
            "type": "urn:govid:problem:duplicate-email",
            "status": 409,
            "code": "duplicate_email",
            "field": "email",
        },
    )
    r = client.post(
        "/accounts/new",
        data={"csrf_token": CSRF, "email": "p@x.go.th", "agency": "x", "citizen_id": "1234"},
        headers={"Accept-Language": "th"},
    )
    assert r.status_code == 409
    assert 'id="email-error"' in r.text and "มีบัญชีใช้อีเมลนี้แล้ว" in r.text
    assert 'value="1234"' not in r.text  # the citizen ID is not echoed back


def test_edit_sends_if_match_and_a_conflict_says_reload(console):  # noqa: F811
    client, fake, _app = console
    _account_answers(fake)
    page = client.get("/accounts/a1", headers={"Accept-Language": "en"}).text
    assert 'name="etag" value="&#34;7&#34;"' in page or 'name="etag" value=\'"7"\'' in page
    assert "admin.account.suspended" in page  # the account's recent events
    fake.answers["/admin/v1/accounts/a1"] = httpx.Response(
        412, json={"type": "urn:govid:problem:precondition-failed", "status": 412}
    )
    # The first GET after the PATCH must still read the account: answer PATCH 412 only.
    real = fake.handler

    def handler(request):
        if request.method == "PATCH":
            fake.seen.append(request)
            return httpx.Response(
                412, json={"type": "urn:govid:problem:precondition-failed", "status": 412}
            )
        return real(request)

    _account_answers(fake)
    client.app.state.api.http._transport = httpx.MockTransport(handler)
    r = client.post(
        "/accounts/a1/edit",
        data={
            "csrf_token": CSRF,
            "etag": '"6"',
            "given_name_th": "สมชาย",
            "family_name_th": "ใจดี",
            "given_name_en": "Somchai",
            "family_name_en": "Jaidee",
            "locale": "en",
        },
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 412
    assert "Changed by someone else" in r.text and 'id="reload"' in r.text
    patch = next(x for x in fake.seen if x.method == "PATCH")
    assert patch.headers["if-match"] == '"6"' and _json(patch)["locale"] == "en"


def test_actions_send_reasons_keys_and_versions(console):  # noqa: F811
    client, fake, _app = console
    _account_answers(fake)
    for path, method, api_path in (
        ("resume", "POST", "/admin/v1/accounts/a1/resume"),
        ("delete", "DELETE", "/admin/v1/accounts/a1"),
        ("mfa-reset", "POST", "/admin/v1/accounts/a1/mfa/reset"),
        ("end-sessions", "POST", "/admin/v1/accounts/a1/sessions/end"),
    ):
        fake.seen.clear()
        real = fake.handler

        def handler(request, method=method, api_path=api_path, real=real):
            if request.method == method and request.url.path == api_path:
                fake.seen.append(request)
                return httpx.Response(200, json={"sessions_ended": 1, "account": ACCOUNT})
            return real(request)

        client.app.state.api.http._transport = httpx.MockTransport(handler)
        r = client.post(
            f"/accounts/a1/{path}",
            data={
                "csrf_token": CSRF,
                "etag": '"7"',
                "idempotency_key": f"k-{path}",
                "reason": "r1",
            },
            follow_redirects=False,
        )
        assert r.status_code == 303, (path, r.text[:300])
        sent = fake.seen[-1]
        assert sent.method == method and sent.url.path == api_path
        if path in ("resume", "delete"):
            assert _json(sent) == {"reason": "r1"}
        if path != "delete":
            assert sent.headers["idempotency-key"] == f"k-{path}"
        if path != "end-sessions":
            assert sent.headers["if-match"] == '"7"'
    # Without the form's CSRF token nothing is sent.
    fake.seen.clear()
    r = client.post("/accounts/a1/delete", data={"etag": '"7"', "reason": "x"})
    assert r.status_code == 403 and not fake.seen


def test_password_reset_link_is_shown_once_in_the_answer(console):  # noqa: F811
    client, fake, _app = console
    _account_answers(fake)
    fake.answers["/admin/v1/accounts/a1/password-reset"] = httpx.Response(
        200,
        json={
            "account": ACCOUNT,
            "link_token": TOKEN,
            "link_expires_at": "2026-01-03T00:00:00Z",
            "sessions_ended": 2,
        },
    )
    r = client.post(
        "/accounts/a1/password-reset",
        data={"csrf_token": CSRF, "etag": '"7"', "idempotency_key": "k-reset"},
        headers={"Accept-Language": "en"},
        follow_redirects=False,
    )
    assert r.status_code == 200 and TOKEN in r.text and "shown once only" in r.text
    assert r.headers["cache-control"] == "no-store"
    sent = next(x for x in fake.seen if x.url.path.endswith("/password-reset"))
    assert sent.headers["idempotency-key"] == "k-reset" and sent.headers["if-match"] == '"7"'
    assert TOKEN not in str(sent.url)


def test_an_auditors_write_refused_by_the_api_is_shown_as_such(console):  # noqa: F811
    client, fake, _app = console
    _account_answers(fake)
    fake.answers["/admin/v1/accounts/a1/suspend"] = httpx.Response(
        403, json={"type": "urn:govid:problem:forbidden", "status": 403}
    )
    r = client.post(
        "/accounts/a1/suspend",
        data={"csrf_token": CSRF, "etag": '"7"', "reason": "x"},
        headers={"Accept-Language": "th"},
    )
    assert r.status_code == 403
    assert 'id="action-error"' in r.text and "บทบาทของคุณไม่อนุญาตให้ทำสิ่งนี้" in r.text


def test_roles_grant_with_expiry_and_revoke_with_the_grants_version(console):  # noqa: F811
    client, fake, _app = console
    _account_answers(fake)
    fake.answers["/admin/v1/agencies"] = httpx.Response(
        200,
        json={"items": [{"id": "g-xy", "code": "x-y"}, {"id": "g-x", "code": "x"}]},
    )
    fake.answers["/admin/v1/role-grants"] = httpx.Response(201, json={"id": "r1"})
    r = client.post(
        "/accounts/a1/roles",
        data={
            "csrf_token": CSRF,
            "idempotency_key": "k-grant",
            "role": "auditor",
            "role_agency": "x",
            "expires": "2027-03-31",
        },
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/accounts/a1?done=granted"
    sent = next(x for x in fake.seen if x.method == "POST")
    assert _json(sent) == {
        "account_id": "a1",
        "role": "auditor",
        "agency_id": "g-x",
        "expires_at": "2027-03-31T23:59:59+07:00",
    }
    assert sent.headers["idempotency-key"] == "k-grant"
    # The operator role is not offered, and a made-up one is refused before the API.
    fake.seen.clear()
    r = client.post(
        "/accounts/a1/roles",
        data={"csrf_token": CSRF, "role": "operator", "role_agency": "x", "expires": "31/3"},
        headers={"Accept-Language": "en"},
    )
    assert r.status_code == 422 and not any(x.method == "POST" for x in fake.seen)
    assert "Not a valid date" in r.text
    # Revoke: the grant's current ETag is sent.
    fake.answers["/admin/v1/role-grants/r1"] = httpx.Response(
        200, json={"id": "r1", "account_id": "a1"}, headers={"ETag": '"r1-0"'}
    )
    real = fake.handler

    def handler(request):
        if request.method == "DELETE":
            fake.seen.append(request)
            return httpx.Response(204)
        return real(request)

    client.app.state.api.http._transport = httpx.MockTransport(handler)
    r = client.post("/roles/r1/revoke", data={"csrf_token": CSRF}, follow_redirects=False)
    assert r.headers["location"] == "/accounts/a1?done=revoked"
    assert next(x for x in fake.seen if x.method == "DELETE").headers["if-match"] == '"r1-0"'


def test_dashboard_shows_the_subtrees_figures(console):  # noqa: F811
    client, fake, _app = console
    fake.answers["/admin/v1/summary"] = httpx.Response(
        200,
        json={
            "accounts": {"by_status": {"active": 12, "suspended": 3, "deleted": 1}, "locked": 2},
            "outbox": {"pending": 5, "parked": 4},
            "sign_ins": {"since": "2026-01-01T17:00:00+00:00", "succeeded": 40, "failed": 7},
            "audit": {
                "last_checkpoint": {"at": "2026-01-02T01:00:00+00:00", "seq": 99, "reason": "p"},
                "last_seq": 120,
            },
        },
    )
    fake.answers["/admin/v1/audit/chain"] = httpx.Response(
        200,
        json={
            "last_seq": 120,
            "last_checkpoint": {"at": "2026-01-02T01:00:00+00:00", "seq": 99, "reason": "p"},
            "last_verification": None,
            "last_full_verification": None,
            "unresolved_failure": None,
        },
    )
    r = client.get("/", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    for key, value in (
        ("count-active", "12"),
        ("count-suspended", "3"),
        ("count-locked", "2"),
        ("count-sign-ins", "40"),
        ("count-failed", "7"),
        ("count-outbox", "5"),
        ("count-parked", "4"),
    ):
        assert f'id="{key}">{value}<' in r.text, key
    assert "2026-01-02 08:00" in r.text  # the checkpoint, in Thai time
    assert 'data-status="unverified"' in r.text  # the chain: never verified, and says so
    fake.answers["/admin/v1/summary"] = httpx.Response(
        403, json={"type": "urn:govid:problem:forbidden", "status": 403}
    )
    r = client.get("/", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and 'id="figures-error"' in r.text


def _closed_port() -> int:
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()  # nothing listens there now: GovID "stopped"
    return port


@pytest.mark.parametrize("path", ["/", "/accounts", "/accounts/a1", "POST /accounts/a1/suspend"])
def test_govid_unreachable_gives_a_clear_page_and_changes_nothing(tmp_path, path):
    """A real socket with nothing listening (GovID's process stopped), no stand-in."""
    issuer = f"http://127.0.0.1:{_closed_port()}"
    app = create_app(settings(tmp_path, issuer=issuer, env="test"))
    with TestClient(app, base_url="https://console.example.go.th") as client:
        rec = _signed_in_client(app, client)
        if path.startswith("POST "):
            r = client.post(
                path.split(" ", 1)[1],
                data={"csrf_token": CSRF, "reason": "x"},
                headers={"Accept-Language": "en"},
            )
        else:
            r = client.get(path, headers={"Accept-Language": "en"})
    assert r.status_code == 503
    assert "GovID cannot be reached just now. Nothing was changed" in r.text
    assert "Traceback" not in r.text and "ConnectError" not in r.text
    # The session (and its tokens) are still there for when GovID is back.
    assert app.state.store.load(rec.id).data["tokens"]["access_token"] == "at-1"


def _signed_in_client(app, client) -> Record:
    store = app.state.store
    rec = Record(
        id=store.new_id(),
        data={
            "csrf": CSRF,
            "user": {"sub": "acc-1", "name": "Admin"},
            "tokens": {
                "access_token": "at-1",
                "refresh_token": "rt-1",
                "expires_at": int(time.time()) + 300,
                "id_token": "idt",
            },
        },
    )
    store.save(rec)
    client.cookies.set(COOKIE, store.sign(rec.id))
    return rec


def test_a_write_whose_answer_is_lost_says_it_may_have_happened(tmp_path):
    """GovID takes the request and the connection drops before the answer (a real
    socket that reads the request and closes): the write may have happened, so the
    console does not claim that nothing changed; a read is still 'nothing changed'."""
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    stop = threading.Event()

    def drop():
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            conn.recv(65536)
            conn.close()

    thread = threading.Thread(target=drop, daemon=True)
    thread.start()
    try:
        app = create_app(settings(tmp_path, issuer=f"http://127.0.0.1:{port}"))
        with TestClient(app, base_url="https://console.example.go.th") as client:
            _signed_in_client(app, client)
            h = {"Accept-Language": "en"}
            r = client.post(
                "/accounts/a1/suspend", data={"csrf_token": CSRF, "reason": "x"}, headers=h
            )
            assert r.status_code == 503
            assert "may or may not have been made" in r.text and "Traceback" not in r.text
            r = client.get("/accounts/a1", headers=h)
            assert r.status_code == 503 and "Nothing was changed" in r.text
    finally:
        stop.set()
        listener.close()
        thread.join(timeout=5)


def test_the_roles_screen_grants_to_an_account_named_by_its_email(console):  # noqa: F811
    client, fake, _app = console
    fake.answers["/admin/v1/accounts"] = httpx.Response(
        200, json={"items": [{**ACCOUNT, "email": "p@x.go.th.other"}, ACCOUNT]}
    )
    fake.answers["/admin/v1/agencies"] = httpx.Response(
        200, json={"items": [{"id": "g-x", "code": "x"}]}
    )
    fake.answers["/admin/v1/role-grants"] = httpx.Response(201, json={"id": "r2"})
    form = {
        "csrf_token": CSRF,
        "idempotency_key": "k-roles",
        "role_email": "P@x.go.th",
        "role": "agency_admin",
        "role_agency": "x",
    }
    r = client.post("/roles", data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/roles?done=granted"
    sent = next(x for x in fake.seen if x.method == "POST")
    assert _json(sent) == {"account_id": "a1", "role": "agency_admin", "agency_id": "g-x"}
    # An address the API does not list for you: refused next to the field, nothing sent.
    fake.seen.clear()
    fake.answers["/admin/v1/accounts"] = httpx.Response(200, json={"items": []})
    r = client.post(
        "/roles", data={**form, "role_email": "who@else.go.th"}, headers={"Accept-Language": "en"}
    )
    assert r.status_code == 422 and 'id="role_email-error"' in r.text
    assert "No such account among yours." in r.text
    assert not any(x.method == "POST" for x in fake.seen)
