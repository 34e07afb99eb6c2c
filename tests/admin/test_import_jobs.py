"""Background imports (issue 20: the console's progress view), on both databases, in a
real app on committed data (the import runs in a thread with its own transaction, so the
test's rolled-back world would be invisible to it): 202 with a job at once; its progress
(phase, rows done of total) and then the report from GET /imports/{job_id}, from any
request; activation links in the first finished answer only; the same Idempotency-Key is
the same job; another caller's job is 404."""

from __future__ import annotations

import datetime as dt

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from idp import migrate
from idp.accounts.importing.models import ImportJob
from idp.accounts.models import Account
from idp.clients import service as clients
from idp.main import create_app
from idp.services import Services
from tests import factories
from tests.admin.conftest import World
from tests.conftest import make_settings
from tests.waiting import wait_until

A = "/admin/v1/imports"


@pytest.fixture(scope="module")
def _jobs_services(backend, request, tmp_path_factory):
    if backend == "postgresql":
        url = request.getfixturevalue("pg_server").create_database("govid_jobs")
    else:
        url = f"sqlite:///{tmp_path_factory.mktemp('jobs') / 'jobs.db'}"
    migrate.upgrade(url)
    s = Services(make_settings(url))
    s.keys.jwks()
    yield s
    s.close()


@pytest.fixture
def services(_jobs_services):
    """A database of this module's own: the jobs commit for real, and their accounts and
    directory changes must not reach the shared test database (the LDAP worker's tests
    count every outbox row there)."""
    return _jobs_services


@pytest.fixture
def live(services, unique):
    """Committed: ministry M with a department, an agency admin of each, an operator."""
    with services.sessions.begin() as s:
        w = World(s, services, unique)
        w.agencies["M"] = factories.agency(s, f"jm-{unique}", domains=[f"{unique}.go.th"])
        w.agencies["A"] = factories.agency(s, f"ja-{unique}", parent=f"jm-{unique}")
        app, _ = clients.create(
            s,
            clients.NewClient(
                agency_code=f"jm-{unique}",
                name_th="admin ui",
                name_en="admin ui",
                redirect_uris=("https://admin.example.go.th/cb",),
                client_id=f"admin-ui-{unique}",
            ),
        )
        w.apps["admin_ui"] = app
        w.person("admin_m", "M", "agency_admin")
        w.person("admin_a", "A", "agency_admin")
    application = create_app(services.settings, services, start_workers=False)
    with TestClient(application) as client:
        yield w, client


def _csv(w, n: int, prefix: str, agency: str) -> bytes:
    rows = ["email,agency,given_name_en,family_name_en"]
    rows += [f"{prefix}{i}@{w.u}.go.th,{agency},P{i},Q" for i in range(n)]
    return ("\n".join(rows) + "\n").encode()


def _wait(client, url, headers, timeout=120) -> list[dict]:
    seen = []

    def finished() -> bool:
        r = client.get(url, headers=headers)
        assert r.status_code == 200, r.text
        seen.append(r.json())
        return r.json()["status"] in ("done", "failed")

    wait_until(finished, timeout, lambda: f"the import to finish, last seen {seen[-1]}")
    return seen


def test_a_background_import_reports_progress_then_its_result(live, services):
    w, client = live
    h = w.headers("admin_m", **{"Idempotency-Key": f"job-{w.u}", "Content-Type": "text/csv"})
    body = _csv(w, 3000, "bg", f"ja-{w.u}")
    r = client.post(f"{A}?background=true", content=body, headers=h)
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["status"] in ("queued", "running", "done") and job["total"] == 3000
    assert r.headers["location"].endswith(f"/imports/{job['job_id']}")
    # The same key is the same job (a double click starts one import).
    again = client.post(f"{A}?background=true", content=body, headers=h)
    assert again.json()["job_id"] == job["job_id"]

    seen = _wait(client, f"{A}/{job['job_id']}", w.headers("admin_m"))
    final = seen[-1]
    assert final["status"] == "done", final
    assert final["result"]["created"] == 3000 and final["result"]["errors"] == []
    assert len(final["result"]["activation_tokens"]) == 3000  # no passwords: links, once
    for s in seen:
        assert s["phase"] in ("validate", "write") and 0 <= s["done"] <= s["total"] == 3000
    with services.sessions() as s:
        n = s.scalar(
            select(func.count()).select_from(Account).where(Account.email.like(f"bg%@{w.u}%"))
        )
        assert n == 3000
        stored = s.get(ImportJob, job["job_id"])
        assert "bg0@" not in (stored.result_enc or "")  # encrypted at rest
    # Read again: the report stays, the links are gone.
    r = client.get(f"{A}/{job['job_id']}", headers=w.headers("admin_m"))
    assert r.json()["result"]["created"] == 3000
    assert r.json()["result"]["activation_tokens"] == []


def test_a_dry_run_job_writes_nothing_and_another_caller_gets_404(live, services):
    w, client = live
    h = w.headers("admin_a", **{"Content-Type": "text/csv"})
    body = _csv(w, 50, "dry", f"jm-{w.u}")  # the ministry: outside admin_a's department
    r = client.post(f"{A}?background=true&dry_run=true", content=body, headers=h)
    assert r.status_code == 202
    final = _wait(client, f"{A}/{r.json()['job_id']}", w.headers("admin_a"))[-1]
    assert final["status"] == "done" and final["dry_run"] is True
    assert final["result"]["failed"] == 50 and final["result"]["created"] == 0
    assert final["result"]["errors"][0]["field"] == "agency"
    with services.sessions() as s:
        assert not s.scalar(select(func.count()).select_from(Account).where(
            Account.email.like(f"dry%@{w.u}%")
        ))  # fmt: skip
    # Not yours: 404 like a missing one (the admin above in the tree included).
    r = client.get(f"{A}/{final['job_id']}", headers=w.headers("admin_m"))
    assert r.status_code == 404
    assert client.get(f"{A}/{'0' * 8}-0000-0000-0000-{'0' * 12}", headers=h).status_code == 404


def test_housekeeping_removes_finished_jobs_a_day_after_they_ended(services, unique):
    from idp import maintenance
    from idp.db import utcnow

    old = utcnow() - dt.timedelta(days=3)
    rows = {
        "old-done": ("done", old),
        "old-failed": ("failed", old),
        "old-running": ("running", old),  # never removed while it may still run
        "new-done": ("done", utcnow()),
    }
    with services.sessions.begin() as s:
        for name, (status, at) in rows.items():
            s.add(
                ImportJob(
                    id=f"{unique}-{name}"[:36],
                    caller="test",
                    mode="per_row",
                    status=status,
                    created_at=at,
                    updated_at=at,
                )
            )
    result = maintenance.run(services)
    assert result.purged["import_job"] >= 2
    with services.sessions() as s:
        left = set(s.scalars(select(ImportJob.id).where(ImportJob.id.like(f"{unique}-%"))))
    assert left == {f"{unique}-old-running", f"{unique}-new-done"}
