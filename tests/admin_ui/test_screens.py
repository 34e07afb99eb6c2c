"""The agencies, apps, import and audit screens in-process against a stand-in admin API
(httpx.MockTransport): what is sent (CSRF first, Idempotency-Key, If-Match, the body),
what is shown (problems next to their field in the person's language, a secret once and
never in a URL, 404 from the API as 404). The same screens against a real GovID are in
test_screens_e2e.py."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.admin_ui.test_app import signed_in_console

P = "urn:govid:problem:"
AGENCY = {
    "id": "11111111-1111-1111-1111-111111111111",
    "code": "moi",
    "name_th": "กระทรวงมหาดไทย",
    "name_en": "Ministry of Interior",
    "parent_id": None,
    "depth": 0,
    "mail_domains": ["moi.go.th"],
    "mailbox_quota_mb": 6144,
    "attachment_limit_mb": 25,
    "status": "active",
    "version": 3,
    "created_at": "2026-12-07T00:00:00Z",
    "updated_at": "2026-12-07T00:00:00Z",
}
APP = {
    "client_id": "leave-app",
    "agency": {"id": AGENCY["id"], "code": "moi"},
    "name_th": "ระบบลา",
    "name_en": "Leave system",
    "auth_method": "client_secret_basic",
    "redirect_uris": ["https://leave.moi.go.th/cb"],
    "post_logout_redirect_uris": [],
    "backchannel_logout_uri": None,
    "grant_types": ["authorization_code", "refresh_token"],
    "scopes": ["openid", "profile"],
    "min_acr": None,
    "id_token_signed_response_alg": "RS256",
    "access_token_ttl": None,
    "refresh_token_ttl": None,
    "first_party": False,
    "status": "active",
    "version": 2,
    "created_at": "2026-12-07T00:00:00Z",
    "updated_at": "2026-12-07T00:00:00Z",
}


class Stand:
    """Answers by (method, path); records every request."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], httpx.Response] = {}
        self.seen: list[httpx.Request] = []

    def on(self, method: str, path: str, status: int, body=None, **headers) -> None:
        self.routes[(method, "/admin/v1" + path)] = httpx.Response(
            status, json=body, headers=headers
        )

    def handler(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        r = self.routes.get((request.method, request.url.path))
        if r is not None:
            return r
        if request.url.path.endswith("/role-grants"):
            return httpx.Response(200, json={"items": [], "next_cursor": None})
        return httpx.Response(404, json={"type": P + "not-found", "status": 404})

    def sent(self, method: str, path: str) -> list[httpx.Request]:
        return [q for q in self.seen if q.method == method and q.url.path == "/admin/v1" + path]


@pytest.fixture
def ui(tmp_path):
    stand = Stand()
    with signed_in_console(tmp_path, stand.handler) as (client, app):
        yield client, stand, app


def operator(stand: Stand) -> None:
    stand.on("GET", "/role-grants", 200, {"items": [{"role": "operator"}], "next_cursor": None})


# ---------------------------------------------------------------------------- agencies


def test_the_tree_starts_at_the_callers_top_and_searches_by_name(ui):
    client, stand, _ = ui
    stand.on("GET", "/agencies", 200, {"items": [AGENCY], "next_cursor": "c2"})
    r = client.get("/agencies", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and "Ministry of Interior" in r.text
    q = stand.sent("GET", "/agencies")[-1].url.params
    assert q["top"] == "true" and "q" not in q
    assert 'href="/agencies?cursor=c2"' in r.text  # the next page, lazily
    assert "Create a ministry" not in r.text  # no operator role in the API's answer
    r = client.get("/agencies?q=มหาดไทย")
    q = stand.sent("GET", "/agencies")[-1].url.params
    assert q["q"] == "มหาดไทย" and "top" not in q


def test_an_agency_outside_the_subtree_is_404(ui):
    client, stand, _ = ui
    r = client.get(f"/agencies/{AGENCY['id']}", headers={"Accept-Language": "th"})
    assert r.status_code == 404 and "นอกหน่วยงานของคุณ" in r.text


def test_an_agency_page_loads_its_children_and_sends_changes_with_if_match(ui):
    client, stand, _ = ui
    operator(stand)
    child = {**AGENCY, "id": "2" * 8 + "-2222-2222-2222-" + "2" * 12, "code": "moi-dopa"}
    child.update(parent_id=AGENCY["id"], depth=1, name_en="Dept of Provincial Admin")
    stand.on("GET", f"/agencies/{AGENCY['id']}", 200, AGENCY, etag='"3"')
    stand.on("GET", "/agencies", 200, {"items": [child], "next_cursor": None})
    r = client.get(f"/agencies/{AGENCY['id']}", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert "Dept of Provincial Admin" in r.text and "6 GB" in r.text and "25 MB" in r.text
    assert stand.sent("GET", "/agencies")[-1].url.params["parent_id"] == AGENCY["id"]
    # A problem from the API goes next to its field, in the person's language.
    stand.on(
        "PATCH",
        f"/agencies/{AGENCY['id']}",
        422,
        {
            "type": P + "invalid-input",
            "status": 422,
            "errors": [{"field": "mailbox_quota_mb", "code": "greater_than_equal", "message": "x"}],
        },
    )
    form = {
        "csrf_token": "c" * 20,
        "etag": '"3"',
        "idempotency_key": "k-1",
        "name_th": "กระทรวงมหาดไทย",
        "name_en": "Ministry of Interior",
        "mail_domains": "moi.go.th\n\nmail.moi.go.th\n",
        "mailbox_quota_mb": "0",
        "attachment_limit_mb": "25",
    }
    r = client.post(f"/agencies/{AGENCY['id']}/edit", data=form, headers={"Accept-Language": "th"})
    assert r.status_code == 422
    assert 'id="mailbox_quota_mb-error">น้อยเกินไป' in r.text
    assert 'aria-describedby="mailbox_quota_mb-hint mailbox_quota_mb-error"' in r.text
    sent = stand.sent("PATCH", f"/agencies/{AGENCY['id']}")[-1]
    assert sent.headers["if-match"] == '"3"' and sent.headers["idempotency-key"] == "k-1"
    assert json.loads(sent.content) == {
        "name_th": "กระทรวงมหาดไทย",
        "name_en": "Ministry of Interior",
        "mail_domains": ["moi.go.th", "mail.moi.go.th"],
        "mailbox_quota_mb": 0,
        "attachment_limit_mb": 25,
    }


def test_writes_without_the_forms_csrf_token_never_reach_the_api(ui):
    client, stand, _ = ui
    for path in (
        "/agencies",
        f"/agencies/{AGENCY['id']}/edit",
        "/apps",
        "/apps/leave-app/edit",
        "/apps/leave-app/secret",
        "/apps/leave-app/disable",
        "/import",
        "/import/k/apply",
        "/audit/export",
    ):
        r = client.post(path, data={"csrf_token": "wrong", "name_en": "x"})
        assert r.status_code == 403, path
    assert not [q for q in stand.seen if q.method != "GET"]


# ---------------------------------------------------------------------------- apps


def test_a_new_secret_is_shown_once_never_in_a_url_or_a_cache(ui):
    client, stand, _ = ui
    stand.on("POST", "/clients", 201, {**APP, "client_secret": "s3cr3t-value-shown-once"})
    r = client.post(
        "/apps",
        data={
            "csrf_token": "c" * 20,
            "idempotency_key": "k-app",
            "agency": "moi",
            "auth_method": "client_secret_basic",
            "name_th": "ระบบลา",
            "name_en": "Leave system",
            "redirect_uris": "https://leave.moi.go.th/cb",
            "scopes": "openid profile",
            "grant_types": ["authorization_code", "refresh_token"],
        },
        follow_redirects=False,
    )
    assert r.status_code == 201  # the answer itself, not a redirect to a URL
    assert "s3cr3t-value-shown-once" in r.text
    assert r.headers["cache-control"] == "no-store"
    sent = stand.sent("POST", "/clients")[-1]
    assert sent.headers["idempotency-key"] == "k-app"
    body = json.loads(sent.content)
    assert body["redirect_uris"] == ["https://leave.moi.go.th/cb"]
    assert body["grant_types"] == ["authorization_code", "refresh_token"]
    # The app's page afterwards does not have it.
    stand.on("GET", "/clients/leave-app", 200, APP, etag='"2"')
    r = client.get("/apps/leave-app")
    assert r.status_code == 200 and "s3cr3t" not in r.text
    # Rotating: If-Match and the form's key; the new secret in the answer only.
    stand.on("POST", "/clients/leave-app/secret", 200, {"client": APP, "client_secret": "n3w"})
    r = client.post(
        "/apps/leave-app/secret",
        data={"csrf_token": "c" * 20, "etag": '"2"', "idempotency_key": "k-rot"},
    )
    assert r.status_code == 200 and 'value="n3w"' in r.text
    assert r.headers["cache-control"] == "no-store"
    sent = stand.sent("POST", "/clients/leave-app/secret")[-1]
    assert sent.headers["if-match"] == '"2"' and sent.headers["idempotency-key"] == "k-rot"


def test_redirect_uri_problems_are_shown_next_to_the_field_in_thai(ui):
    client, stand, _ = ui
    stand.on(
        "POST",
        "/clients",
        422,
        {
            "type": P + "invalid-input",
            "status": 422,
            "errors": [
                {
                    "field": "redirect_uris",
                    "code": "redirect_uri_not_https",
                    "message": "redirect URI must use https",
                }
            ],
        },
    )
    r = client.post(
        "/apps",
        data={
            "csrf_token": "c" * 20,
            "agency": "moi",
            "name_th": "ก",
            "name_en": "A",
            "redirect_uris": "http://leave.moi.go.th/cb",
        },
        headers={"Accept-Language": "th"},
    )
    assert r.status_code == 422
    assert 'id="redirect_uris-error">ต้องใช้ https (http ได้เฉพาะ localhost)' in r.text
    assert "http://leave.moi.go.th/cb</textarea>" in r.text  # what they typed is kept
    assert "must use https" not in r.text  # the API's English is not shown to them
    assert 'maxlength="255" lang="th"' in r.text  # the field's attributes, not escaped text
    assert 'href="/lang/en?next=/apps/new"' in r.text  # the form's page, not its POST action


def test_disabling_sends_if_match_and_another_agencys_app_is_404(ui):
    client, stand, _ = ui
    stand.on("DELETE", "/clients/leave-app", 200, {**APP, "status": "disabled"})
    r = client.post(
        "/apps/leave-app/disable",
        data={"csrf_token": "c" * 20, "etag": '"2"', "idempotency_key": "k"},
        follow_redirects=False,
    )
    assert r.status_code == 303 and r.headers["location"] == "/apps/leave-app?done=disabled"
    assert stand.sent("DELETE", "/clients/leave-app")[-1].headers["if-match"] == '"2"'
    assert client.get("/apps/other-ministry-app").status_code == 404


# ---------------------------------------------------------------------------- import


def test_import_dry_run_errors_table_download_then_apply_once(ui):
    client, stand, app = ui
    report = {
        "import_id": "i1",
        "dry_run": True,
        "mode": "all_or_nothing",
        "rows": 2,
        "valid": 1,
        "created": 0,
        "failed": 1,
        "errors": [{"row": 2, "field": "email", "message": "duplicate of row 1"}],
        "activation_tokens": [],
    }
    stand.on("POST", "/imports", 200, report)
    csv_file = b"email,agency\na@moi.go.th,moi\na@moi.go.th,moi\n"
    r = client.post(
        "/import",
        data={"csrf_token": "c" * 20, "mode": "all_or_nothing"},
        files={"file": ("people.csv", csv_file, "text/csv")},
        follow_redirects=False,
    )
    assert r.status_code == 303
    page = r.headers["location"]
    sent = stand.sent("POST", "/imports")[-1]
    assert sent.url.params["dry_run"] == "true" and sent.content == csv_file
    assert sent.headers["content-type"] == "text/csv" and sent.headers["idempotency-key"]
    upload = app.state.import_dir / page.rsplit("/", 1)[1] / "upload"
    assert b"a@moi.go.th" not in upload.read_bytes()  # sealed on the console's disk
    r = client.get(page, headers={"Accept-Language": "en"})  # a reload shows it again
    assert r.status_code == 200 and "duplicate of row 1" in r.text
    assert 'id="cannot-apply"' in r.text  # all or nothing with an error: no apply
    r = client.get(page + "/errors.csv")
    assert r.headers["content-type"].startswith("text/csv")
    assert r.text.lstrip("\ufeff").splitlines()[1] == "2,email,duplicate of row 1"
    # per_row: the valid rows may be applied; twice is one import (the same key).
    r = client.post(
        "/import",
        data={"csrf_token": "c" * 20, "mode": "per_row"},
        files={"file": ("people.jsonl", b'{"email":"b@moi.go.th","agency":"moi"}\n')},
        follow_redirects=False,
    )
    page = r.headers["location"]
    assert stand.sent("POST", "/imports")[-1].headers["content-type"] == "application/x-ndjson"
    assert 'id="apply"' in client.get(page).text
    stand.on("POST", "/imports", 200, {**report, "dry_run": False, "created": 1, "mode": "per_row"})
    r = client.post(page + "/apply", data={"csrf_token": "c" * 20}, follow_redirects=False)
    assert r.status_code == 303
    applied = stand.sent("POST", "/imports")[-1]
    assert applied.url.params["dry_run"] == "false" and applied.url.params["mode"] == "per_row"
    r = client.get(page)
    assert 'id="created-count">1<' in r.text and 'id="apply"' not in r.text
    # Another session cannot see it.
    client.cookies.clear()
    assert client.get(page, follow_redirects=False).status_code == 303  # to sign in


# ---------------------------------------------------------------------------- audit


def test_audit_filters_are_sent_with_thai_time(ui):
    client, stand, _ = ui
    stand.on("GET", "/audit/events", 200, {"items": [], "next_cursor": None, "limit": 50})
    r = client.get(
        "/audit?agency=moi&since=2026-12-07T00:00&types=admin.account.suspended+oidc.login.failed"
        "&outcome=denied&account=abc"
    )
    assert r.status_code == 200
    q = stand.sent("GET", "/audit/events")[-1].url.params
    assert q["since"] == "2026-12-07T00:00:00+07:00" and q["agency"] == "moi"
    assert q.get_list("types") == ["admin.account.suspended", "oidc.login.failed"]
    assert q["outcome"] == "denied" and q["account"] == "abc"
    stand.on("GET", "/audit/events", 403, {"type": P + "forbidden", "status": 403})
    r = client.get("/audit", headers={"Accept-Language": "en"})
    assert r.status_code == 403 and "Your role does not allow this." in r.text


# ---------------------------------------------------------------------------- federation

FEDERATION = {
    "agency_id": AGENCY["id"],
    "enabled": True,
    "servers": ["ldaps://ldap.moi.go.th:636"],
    "start_tls": True,
    "allow_plain": False,
    "ca_pem": True,
    "bind_dn_template": None,
    "search_base": "ou=people,dc=moi,dc=go,dc=th",
    "search_filter": None,
    "service_bind_dn": "cn=govid,dc=moi,dc=go,dc=th",
    "service_password": "set",
    "timeout_seconds": 5,
    "fallback_to_local": False,
    "updated_by": "op",
    "updated_at": "2026-12-07T00:00:00",
}


def test_federation_test_button_shows_the_specific_failure_in_thai(ui):
    client, stand, _ = ui
    operator(stand)
    stand.on("GET", f"/agencies/{AGENCY['id']}", 200, AGENCY, etag='"3"')
    stand.on("GET", f"/agencies/{AGENCY['id']}/federation", 200, FEDERATION)
    r = client.get(f"/agencies/{AGENCY['id']}", headers={"Accept-Language": "en"})
    assert "ldaps://ldap.moi.go.th:636" in r.text and 'id="fed-test"' in r.text
    stand.on(
        "POST",
        f"/agencies/{AGENCY['id']}/federation/test",
        200,
        {
            "ok": False,
            "reason": "service_bind_refused",
            "server": None,
            "refused_servers": [],
            "elapsed_ms": 12,
        },
    )
    r = client.post(
        f"/agencies/{AGENCY['id']}/federation/test",
        data={"csrf_token": "c" * 20, "idempotency_key": "k-t", "test_login": ""},
        headers={"Accept-Language": "th"},
    )
    assert r.status_code == 200
    assert "เซิร์ฟเวอร์ปฏิเสธบัญชีบริการ" in r.text  # the reason, in Thai
    sent = stand.sent("POST", f"/agencies/{AGENCY['id']}/federation/test")[-1]
    assert sent.headers["idempotency-key"] == "k-t" and sent.content in (b"", b"null")


def test_federation_settings_keep_the_password_unless_typed_and_never_echo_it(ui):
    client, stand, _ = ui
    operator(stand)
    stand.on("GET", f"/agencies/{AGENCY['id']}", 200, AGENCY, etag='"3"')
    stand.on(
        "PUT",
        f"/agencies/{AGENCY['id']}/federation",
        422,
        {
            "type": P + "invalid-input",
            "status": 422,
            "errors": [{"field": "search_base", "code": "invalid_input", "message": "x"}],
        },
    )
    form = {
        "csrf_token": "c" * 20,
        "servers": "ldaps://ldap.moi.go.th:636\n",
        "start_tls": "1",
        "search_base": "not a dn",
        "service_bind_dn": "cn=govid,dc=moi,dc=go,dc=th",
        "service_password": "typed-secret-value",
        "timeout_seconds": "5",
    }
    r = client.post(f"/agencies/{AGENCY['id']}/federation", data=form)
    assert r.status_code == 422 and 'id="search_base-error"' in r.text
    assert "typed-secret-value" not in r.text  # not echoed into the page
    body = json.loads(stand.sent("PUT", f"/agencies/{AGENCY['id']}/federation")[-1].content)
    assert body["service_password"] == "typed-secret-value" and "ca_pem" not in body
    assert body["servers"] == ["ldaps://ldap.moi.go.th:636"] and body["timeout_seconds"] == 5
    form["service_password"] = ""
    client.post(f"/agencies/{AGENCY['id']}/federation", data=form)
    body = json.loads(stand.sent("PUT", f"/agencies/{AGENCY['id']}/federation")[-1].content)
    assert "service_password" not in body  # empty: the stored one is kept


def test_the_helpdesk_contact_is_shown_and_sent_when_the_api_has_it(ui):
    client, stand, _ = ui
    operator(stand)
    a = {**AGENCY, "helpdesk_email": "help@moi.go.th", "helpdesk_phone": None}
    a.update(helpdesk_url=None, privacy_url="https://moi.go.th/privacy")
    stand.on("GET", f"/agencies/{AGENCY['id']}", 200, a, etag='"3"')
    r = client.get(f"/agencies/{AGENCY['id']}", headers={"Accept-Language": "en"})
    assert 'id="helpdesk-email">help@moi.go.th' in r.text and 'name="helpdesk_phone"' in r.text
    stand.on("PATCH", f"/agencies/{AGENCY['id']}", 200, a, etag='"4"')
    client.post(
        f"/agencies/{AGENCY['id']}/edit",
        data={
            "csrf_token": "c" * 20,
            "etag": '"3"',
            "name_th": a["name_th"],
            "name_en": a["name_en"],
            "mail_domains": "moi.go.th",
            "helpdesk_email": "help@moi.go.th",
            "helpdesk_phone": "02 222 2222",
            "helpdesk_url": "",
            "privacy_url": "https://moi.go.th/privacy",
        },
    )
    body = json.loads(stand.sent("PATCH", f"/agencies/{AGENCY['id']}")[-1].content)
    assert body["helpdesk_phone"] == "02 222 2222" and body["helpdesk_url"] == ""


def test_apply_runs_as_a_job_whose_progress_survives_a_reload(ui):
    client, stand, _ = ui
    dry = {
        "import_id": "i1",
        "dry_run": True,
        "mode": "all_or_nothing",
        "rows": 2,
        "valid": 2,
        "created": 0,
        "failed": 0,
        "errors": [],
        "activation_tokens": [],
    }
    stand.on("POST", "/imports", 200, dry)
    r = client.post(
        "/import",
        data={"csrf_token": "c" * 20, "mode": "all_or_nothing"},
        files={"file": ("p.csv", b"email,agency\na@moi.go.th,moi\nb@moi.go.th,moi\n")},
        follow_redirects=False,
    )
    page = r.headers["location"]
    job = {
        "job_id": "j-1",
        "status": "running",
        "dry_run": False,
        "mode": "all_or_nothing",
        "phase": "write",
        "done": 1,
        "total": 2,
        "stale": False,
        "error": None,
        "created_at": "2026-12-07T00:00:00Z",
        "updated_at": "2026-12-07T00:00:00Z",
        "result": None,
    }
    stand.on("POST", "/imports", 202, job)
    r = client.post(page + "/apply", data={"csrf_token": "c" * 20}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == page
    assert stand.sent("POST", "/imports")[-1].url.params["background"] == "true"
    stand.on("GET", "/imports/j-1", 200, job)
    for _ in range(2):  # a reload shows the same job's progress
        r = client.get(page, headers={"Accept-Language": "en"})
        assert '<progress id="progress-bar" max="2" value="1">' in r.text
        assert 'data-running="1"' in r.text and 'src="/import-progress.js"' in r.text
        assert 'id="apply"' not in r.text  # no second apply while it runs
    js = client.get("/import-progress.js")
    assert js.headers["content-type"].startswith("text/javascript") and "reload" in js.text
    done = {**job, "status": "done", "done": 2}
    done["result"] = {**dry, "dry_run": False, "created": 2, "activation_tokens": [
        {"email": "a@moi.go.th", "token": "tok-a"}, {"email": "b@moi.go.th", "token": "tok-b"}
    ]}  # fmt: skip
    stand.on("GET", "/imports/j-1", 200, done)
    r = client.get(page)
    assert "tok-a" in r.text and r.headers["cache-control"] == "no-store"  # once
    r = client.get(page, headers={"Accept-Language": "en"})
    assert 'id="created-count">2<' in r.text and "tok-a" not in r.text


def test_an_auditor_gets_no_app_forms_an_agency_admin_does(ui):
    client, stand, _ = ui
    stand.on("GET", "/clients/leave-app", 200, APP, etag='"2"')
    stand.on("GET", "/role-grants", 200, {"items": [{"role": "auditor"}], "next_cursor": None})
    r = client.get("/apps/leave-app")
    assert r.status_code == 200 and 'id="save-app"' not in r.text
    assert 'id="rotate-secret"' not in r.text and 'id="disable-app"' not in r.text
    stand.on("GET", "/role-grants", 200, {"items": [{"role": "agency_admin"}], "next_cursor": None})
    r = client.get("/apps/leave-app")
    assert 'id="save-app"' in r.text and 'id="rotate-secret"' in r.text


API = {
    "id": "33333333-3333-3333-3333-333333333333",
    "identifier": "https://api.moi.go.th/population/",
    "agency": {"id": AGENCY["id"], "code": "moi"},
    "name_th": "ทะเบียนราษฎร",
    "name_en": "Population registry",
    "scopes": ["moi.population:read"],
    "shared_with": "agency",
    "introspection": True,
    "introspection_client_id": "api-population",
    "status": "active",
    "version": 1,
    "created_at": "2026-12-07T00:00:00Z",
    "updated_at": "2026-12-07T00:00:00Z",
}


def test_an_api_is_registered_with_its_secret_shown_once_and_changed_with_if_match(ui):
    client, stand, _ = ui
    stand.on("POST", "/apis", 201, {**API, "introspection_client_secret": "intro-s3cret"})
    r = client.post(
        "/apis",
        data={
            "csrf_token": "c" * 20,
            "idempotency_key": "k-api",
            "agency": "moi",
            "identifier": API["identifier"],
            "name_th": API["name_th"],
            "name_en": API["name_en"],
            "scopes": "moi.population:read  moi.population:write",
            "shared_with": "all",
            "introspection": "1",
        },
        follow_redirects=False,
    )
    assert r.status_code == 201 and "intro-s3cret" in r.text
    assert r.headers["cache-control"] == "no-store"
    body = json.loads(stand.sent("POST", "/apis")[-1].content)
    assert body["scopes"] == ["moi.population:read", "moi.population:write"]
    assert body["shared_with"] == "all" and body["introspection"] is True
    operator(stand)
    stand.on("GET", f"/apis/{API['id']}", 200, API, etag='"1"')
    r = client.get(f"/apis/{API['id']}")
    assert "intro-s3cret" not in r.text and 'id="save-api"' in r.text
    stand.on(
        "PATCH",
        f"/apis/{API['id']}",
        422,
        {
            "type": P + "invalid-input",
            "status": 422,
            "errors": [{"field": "scopes.0", "code": "string_pattern_mismatch", "message": "x"}],
        },
    )
    r = client.post(
        f"/apis/{API['id']}/edit",
        data={
            "csrf_token": "c" * 20,
            "etag": '"1"',
            "name_th": "ก",
            "name_en": "A",
            "scopes": "a b",
        },
        headers={"Accept-Language": "th"},
    )
    assert r.status_code == 422 and 'id="scopes-error">มีตัวอักษรที่ใช้ไม่ได้' in r.text
    assert stand.sent("PATCH", f"/apis/{API['id']}")[-1].headers["if-match"] == '"1"'
    # An auditor reads it without forms; another ministry's API is 404.
    stand.on("GET", "/role-grants", 200, {"items": [{"role": "auditor"}], "next_cursor": None})
    assert 'id="save-api"' not in client.get(f"/apis/{API['id']}").text
    assert client.get("/apis/44444444-4444-4444-4444-444444444444").status_code == 404


def test_the_dry_run_is_a_job_too_and_its_report_appears_when_done(ui):
    client, stand, _ = ui
    job = {
        "job_id": "d-1",
        "status": "running",
        "dry_run": True,
        "mode": "per_row",
        "phase": "validate",
        "done": 1000,
        "total": 240000,
        "stale": False,
        "error": None,
        "created_at": "2026-12-07T00:00:00Z",
        "updated_at": "2026-12-07T00:00:00Z",
        "result": None,
    }
    stand.on("POST", "/imports", 202, job)
    r = client.post(
        "/import",
        data={"csrf_token": "c" * 20, "mode": "per_row"},
        files={"file": ("big.csv", b"email,agency\na@moi.go.th,moi\n")},
        follow_redirects=False,
    )
    page = r.headers["location"]
    sent = stand.sent("POST", "/imports")[-1].url.params
    assert sent["dry_run"] == "true" and sent["background"] == "true"
    stand.on("GET", "/imports/d-1", 200, job)
    r = client.get(page, headers={"Accept-Language": "en"})
    assert '<progress id="progress-bar" max="240000" value="1000">' in r.text
    assert "Checking rows" in r.text and 'id="apply"' not in r.text
    report = {
        "import_id": "d-1",
        "dry_run": True,
        "mode": "per_row",
        "rows": 1,
        "valid": 1,
        "created": 0,
        "failed": 0,
        "errors": [],
        "activation_tokens": [],
    }
    stand.on("GET", "/imports/d-1", 200, {**job, "status": "done", "result": report})
    r = client.get(page)
    assert 'id="valid-count">1<' in r.text and 'id="apply"' in r.text
    assert 'id="import-progress"' not in r.text


def test_federation_is_turned_off_with_a_delete(ui):
    client, stand, _ = ui
    operator(stand)
    stand.on("GET", f"/agencies/{AGENCY['id']}", 200, AGENCY, etag='"3"')
    stand.on("GET", f"/agencies/{AGENCY['id']}/federation", 200, FEDERATION)
    assert 'id="fed-disable"' in client.get(f"/agencies/{AGENCY['id']}").text
    stand.on("DELETE", f"/agencies/{AGENCY['id']}/federation", 200, FEDERATION)
    r = client.post(
        f"/agencies/{AGENCY['id']}/federation/disable",
        data={"csrf_token": "c" * 20, "idempotency_key": "k-off"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    sent = stand.sent("DELETE", f"/agencies/{AGENCY['id']}/federation")[-1]
    assert sent.headers["idempotency-key"] == "k-off"
    r = client.post(f"/agencies/{AGENCY['id']}/federation/disable", data={"csrf_token": "x"})
    assert (
        r.status_code == 403
        and len(stand.sent("DELETE", f"/agencies/{AGENCY['id']}/federation")) == 1
    )
