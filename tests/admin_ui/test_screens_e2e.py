"""The agencies, apps, import and audit screens end to end in Chromium with every page's
CSP in force, against a real `idp serve` and console (tests/admin_ui/conftest.py):

* an operator creates a ministry in the console and grants an agency admin over it
  (through the admin API with the operator's own console token: roles have their screen
  elsewhere);
* an agency admin imports 1,000 accounts: dry run first (an error row shown, nothing
  written), then the corrected file, then apply; the accounts exist;
* an auditor exports the day's events; the file and its signed manifest downloaded from
  the console verify with the project's verification function and GovID's JWKS;
* an agency admin cannot reach another ministry's agency or app by URL (404);
* axe-core finds nothing on these screens in Thai and English."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from idp.accounts.models import Account
from idp.agencies import service as agencies
from idp.auditing.verify_export import jwks_verifier, verify_export
from idp.clients import service as clients
from tests.admin_ui.conftest import _person
from tests.admin_ui.test_console_e2e import _sign_in, _store
from tests.conftest import service_missing


@pytest.fixture(scope="module")
def world(console_world):
    """The console world plus an operator, an auditor of ministry A, two more admins of
    ministry A and an app of ministry B."""
    w = console_world
    code_a = next(a for a in _codes(w) if a.startswith("ma-"))
    code_b = "mb-" + code_a.removeprefix("ma-")
    u = code_a.removeprefix("ma-")
    with w.services.sessions.begin() as db:
        w.users["operator"] = _person(db, w.services, f"op@a{u}.go.th", code_a, "operator")
        w.users["auditor"] = _person(db, w.services, f"aud@a{u}.go.th", code_a, "auditor")
        for name in ("importer", "prober", "axe"):
            w.users[name] = _person(db, w.services, f"{name}@a{u}.go.th", code_a, "agency_admin")
        app, _ = clients.create(
            db,
            clients.NewClient(
                agency_code=code_b,
                name_th="แอปกระทรวงบี",
                name_en="Ministry B app",
                client_id=f"mb-app-{u}",
                redirect_uris=("https://b.example.go.th/cb",),
            ),
        )
        w.users["b_app"] = {"client_id": app.client_id}
        w.users["b_agency"] = {"id": str(agencies.get_by_code(db, code_b).id)}
    w.u, w.code_a = u, code_a
    return w


def _codes(w) -> list[str]:
    with w.services.sessions() as db:
        from idp.agencies.models import Agency

        return list(db.scalars(select(Agency.code)))


@pytest.fixture
def page(browser):
    context = browser.new_context(locale="en", accept_downloads=True)  # CSP in force
    page = context.new_page()
    console: list[str] = []
    page.on("console", lambda m: console.append(m.text))
    yield page
    context.close()
    blocked = [m for m in console if "Content Security Policy" in m]
    assert not blocked, blocked


def _token(w, page) -> str:
    cookie = next(c for c in page.context.cookies() if c["name"] == "govid_admin")
    return _store(w).load(_store(w).unsign(cookie["value"])).data["tokens"]["access_token"]


def test_operator_creates_a_ministry_and_grants_an_agency_admin(page, world):
    w = world
    _sign_in(page, w, "operator", "/agencies")
    page.fill("#code", f"mnew-{w.u}")
    page.fill("#name_th", "กระทรวงใหม่")
    page.fill("#name_en", "New Ministry")
    page.fill("#mail_domains", f"new{w.u}.go.th")
    page.click("#create-ministry")
    page.wait_for_selector("#done")
    assert page.locator("#agency-code").inner_text() == f"mnew-{w.u}"
    assert page.locator("#mailbox-quota").inner_text() == "6 GB"  # the defaults
    assert page.locator("#attachment-limit").inner_text() == "25 MB"
    agency_id = page.url.split("/agencies/")[1].split("?")[0]
    # A department under it, from its page; the tree shows it one level down.
    page.fill("#child-code", f"dnew-{w.u}")
    page.fill("#child-name_th", "กรมใหม่")
    page.fill("#child-name_en", "New Department")
    page.click("#create-child")
    page.wait_for_selector("#done")
    assert "New Ministry" in page.locator("nav.crumbs").inner_text()
    page.goto(f"{w.console}/agencies/{agency_id}")
    assert "New Department" in page.locator("#children").inner_text()
    # A duplicate code: the API's 409 next to the form, in the person's language.
    page.goto(f"{w.console}/agencies")
    page.fill("#code", f"mnew-{w.u}")
    page.fill("#name_th", "ซ้ำ")
    page.fill("#name_en", "Again")
    page.click("#create-ministry")
    page.wait_for_selector("#create-error")
    assert "already has this code" in page.locator("#create-error").inner_text()
    # Search by a Thai name finds it.
    page.fill("#q", "กระทรวงใหม่")
    page.click("form[role=search] button[type=submit]")
    page.wait_for_selector("#agency-tree")
    assert f"mnew-{w.u}" in page.locator("#agency-tree").inner_text()
    # LDAP federation: saved, then the test button: GovID binds with the stored timeout
    # and says what failed (nothing listens there; loopback is an allowed host in tests).
    page.goto(f"{w.console}/agencies/{agency_id}")
    page.fill("#servers", "ldaps://127.0.0.1:1")
    page.fill("#search_base", "ou=people,dc=new,dc=go,dc=th")
    page.fill("#timeout_seconds", "2")
    page.click("#fed-save")
    page.wait_for_selector("#federation-summary")
    assert "ldaps://127.0.0.1:1" in page.locator("#federation-summary").inner_text()
    page.click("#fed-test")
    page.wait_for_selector("#fed-test-result")
    result = page.locator("#fed-test-result")
    assert result.get_attribute("data-reason") == "unreachable"
    assert "no server answered within the timeout" in result.inner_text()
    from tests.e2e.test_accessibility import AXE, violations

    if AXE.exists():  # the operator's agency page (every form on it) in both languages
        for lang in ("th", "en"):
            page.goto(f"{w.console}/lang/{lang}?next=/agencies/{agency_id}")
            page.wait_for_selector("#fed-test")
            assert not violations(page), lang
    # Grant through the admin API with the operator's own token (roles: another screen).
    r = httpx.post(
        f"{w.govid}/admin/v1/role-grants",
        json={
            "account_id": w.users["target"]["id"],
            "role": "agency_admin",
            "agency_id": agency_id,
        },
        headers={"Authorization": f"Bearer {_token(w, page)}", "Idempotency-Key": "grant-1"},
    )
    assert r.status_code == 201, r.text
    assert r.json()["agency"]["code"] == f"mnew-{w.u}"


def _people_csv(w, n: int, bad_row: int | None = None) -> bytes:
    lines = ["email,agency,given_name_th,family_name_th,given_name_en,family_name_en"]
    for i in range(1, n + 1):
        agency = "no-such-agency" if i == bad_row else w.code_a
        lines.append(f"bulk{i:04d}@a{w.u}.go.th,{agency},สมชาย,ใจดี,Somchai{i},Jaidee")
    return ("\n".join(lines) + "\n").encode()


def _count_imported(w) -> int:
    with w.services.sessions() as db:
        return db.scalar(
            select(func.count())
            .select_from(Account)
            .where(Account.email.like(f"bulk%@a{w.u}.go.th"))
        )


def test_agency_admin_imports_a_thousand_accounts_dry_run_first(page, world):
    w = world
    _sign_in(page, w, "importer", "/import")
    page.set_input_files(
        "#file",
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": _people_csv(w, 1000, 7)}],
    )
    page.click("#dry-run")  # a job: the page follows it, then shows the report
    page.wait_for_selector("#dry-summary", timeout=60000)
    assert page.locator("#rows-count").inner_text() == "1000"
    assert page.locator("#failed-count").inner_text() == "1"
    row = page.locator("#row-errors tbody tr").first.inner_text()
    assert row.startswith("7") and "agency" in row
    assert page.locator("#cannot-apply").is_visible()  # all or nothing: fix first
    assert _count_imported(w) == 0  # a dry run writes nothing
    with page.expect_download() as dl:
        page.click("#errors-csv")
    assert "7,agency," in Path(dl.value.path()).read_text(encoding="utf-8-sig")

    # The corrected file: checked, reloaded (the report survives), then applied.
    page.goto(f"{w.console}/import")
    page.set_input_files(
        "#file",
        files=[{"name": "people.csv", "mimeType": "text/csv", "buffer": _people_csv(w, 1000)}],
    )
    page.click("#dry-run")
    page.wait_for_selector("#apply", timeout=60000)
    assert page.locator("#valid-count").inner_text() == "1000"
    page.reload()
    page.wait_for_selector("#apply")
    page.click("#apply")
    # GovID imports in its background; the report page shows the job's progress and
    # reloads itself (its one script) until the job is done.
    page.wait_for_selector("#tokens", timeout=90000)
    assert page.locator("#created-count").inner_text() == "1000"
    assert page.locator("#tokens").input_value().count("\n") >= 1000  # shown once
    from tests.e2e.test_accessibility import AXE, violations

    if AXE.exists():
        assert not violations(page)
    assert _count_imported(w) == 1000
    # The tokens page is not kept: going back to the report has no secret and no apply.
    page.click("text=I have copied it: continue")
    page.wait_for_selector("#import-applied")
    assert page.locator("#apply").count() == 0 and page.locator("#tokens").count() == 0


def test_auditor_exports_the_days_events_and_the_manifest_verifies(page, world, tmp_path):
    w = world
    _sign_in(page, w, "auditor", "/audit")
    today = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).strftime("%Y-%m-%dT00:00")
    page.fill("#since", today)
    page.click("#filter-events")
    page.wait_for_selector("#events")
    assert page.locator("#events tbody tr").count() > 0
    page.click("#export")
    page.wait_for_selector("#verify-status")
    assert page.locator("#verify-status").get_attribute("data-status") == "verified"
    assert int(page.locator("#export-count").inner_text()) > 0
    from tests.e2e.test_accessibility import AXE, violations

    if AXE.exists():
        assert not violations(page)
    with page.expect_download() as dl:
        page.click("#download-file")
    data = tmp_path / "events.csv"
    dl.value.save_as(data)
    with page.expect_download() as dl:
        page.click("#download-manifest")
    manifest = json.loads(Path(dl.value.path()).read_text(encoding="utf-8"))
    # The project's own verification, with GovID's published keys.
    jwks = httpx.get(f"{w.govid}/jwks").json()
    check = verify_export(data, manifest, jwks_verifier(jwks))
    assert check.ok, check
    assert check.count == manifest["manifest"]["count"] > 0
    # An auditor gets no write forms on the apps screen, and the API refuses a write.
    page.goto(f"{w.console}/agencies")
    assert page.locator("#create-ministry").count() == 0


def test_an_agency_admin_cannot_reach_another_ministrys_agency_or_app(page, world):
    w = world
    _sign_in(page, w, "prober", "/agencies")
    assert w.code_a in page.locator("#agency-tree").inner_text()
    assert "mb-" not in page.locator("#agency-tree").inner_text()
    for path in (
        f"/agencies/{w.users['b_agency']['id']}",
        f"/apps/{w.users['b_app']['client_id']}",
    ):
        r = page.goto(f"{w.console}{path}")
        assert r.status == 404, path
        assert "Not found" in page.locator("[role=alert]").inner_text()
    # Searching for it finds nothing either.
    page.goto(f"{w.console}/agencies?q=mb-")
    assert page.locator("#no-agencies").is_visible()


def test_these_screens_pass_axe_in_both_languages(page, world):
    from tests.e2e.test_accessibility import AXE, violations

    if not AXE.exists():
        service_missing(f"axe-core is not installed ({AXE}); run `make test`")
    w = world
    _sign_in(page, w, "axe", "/agencies")
    with w.services.sessions() as db:
        a_id = str(agencies.get_by_code(db, w.code_a).id)
    screens = [
        "/agencies",
        "/agencies?q=zzz-nothing",
        f"/agencies/{a_id}",
        "/apps",
        "/apps/new",
        "/apis",
        "/apis/new",
        f"/apps/{w.app.state.settings.client_id}",
        "/import",
        "/audit",
    ]
    found = {}
    for lang in ("en", "th"):
        page.goto(f"{w.console}/lang/{lang}?next=/")
        for path in screens:
            page.goto(f"{w.console}{path}")
            assert page.locator("html").get_attribute("lang") == lang
            bad = violations(page)
            if bad:
                found[f"{lang} {path}"] = bad
        # A form with problems next to its fields, and a dry-run report.
        page.goto(f"{w.console}/apps/new")
        page.fill("#agency", w.code_a)
        page.fill("#name_th", "ทดสอบ")
        page.fill("#name_en", "Test")
        page.fill("#redirect_uris", "http://not-loopback.example/cb")
        page.click("#register-app")
        page.wait_for_selector("#redirect_uris-error")
        if bad := violations(page):
            found[f"{lang} /apps (422)"] = bad
        page.fill("#redirect_uris", f"https://app-{lang}.example.go.th/cb")
        page.click("#register-app")
        page.wait_for_selector("#client-secret")  # the secret, once
        if bad := violations(page):
            found[f"{lang} /apps (secret)"] = bad
        page.goto(f"{w.console}/import")
        page.set_input_files(
            "#file",
            files=[{"name": "x.csv", "mimeType": "text/csv", "buffer": _people_csv(w, 3, 2)}],
        )
        page.click("#dry-run")
        page.wait_for_selector("#row-errors")
        if bad := violations(page):
            found[f"{lang} /import report"] = bad
    assert not found, found
