"""/admin/v1/audit (issue 8 endpoints) on a committed database: events listed and
exported within the caller's subtree; exports audited with a signed manifest."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

from idp import migrate
from idp.main import create_app
from idp.services import Services
from tests import factories
from tests.admin.conftest import World
from tests.conftest import make_settings


@pytest.fixture
def committed(tmp_path):
    url = f"sqlite:///{tmp_path / 'audit.db'}"
    migrate.upgrade(url)
    services = Services(make_settings(url))
    services.keys.jwks()
    with services.sessions() as db, db.begin():
        w = World(db, services, "aud")
        w.agencies["M"] = factories.agency(db, "m-aud", domains=["aud.go.th"])
        w.agencies["A"] = factories.agency(db, "a-aud", parent="m-aud")
        w.agencies["B"] = factories.agency(db, "b-aud", parent="m-aud")
        from idp.clients import service as clients

        w.apps["admin_ui"], _ = clients.create(
            db,
            clients.NewClient(
                agency_code="m-aud", name_th="ui", name_en="ui",
                redirect_uris=("https://ui.example.go.th/cb",), client_id="ui-aud",
            ),
        )  # fmt: skip
        w.person("auditor_a", "A", "auditor")
        w.person("operator", "M", "operator")
        w.person("user_b", "B")
        w.machine("bot_audit", "A", ("admin:audit",))
        w.machine("bot_accounts", "A", ("admin:accounts",))
    app = create_app(services.settings, services, start_workers=False)
    with TestClient(app) as client:
        yield client, w
    services.close()


def test_events_are_scoped_and_exports_are_audited(committed):
    client, w = committed
    r = client.get("/admin/v1/audit/events?limit=500", headers=w.headers("auditor_a"))
    assert r.status_code == 200, r.text
    agencies = {e["agency_id"] for e in r.json()["items"]}
    assert agencies == {str(w.agencies["A"].id)}
    r = client.get("/admin/v1/audit/events?agency=b-aud", headers=w.headers("auditor_a"))
    assert r.status_code == 404
    r = client.get("/admin/v1/audit/events", headers=w.headers("bot_accounts"))
    assert r.status_code == 403
    everything = client.get("/admin/v1/audit/events?limit=500", headers=w.headers("operator"))
    assert len(everything.json()["items"]) > len(r.json().get("items", []))
    r = client.post(
        "/admin/v1/audit/exports", json={"format": "ndjson"}, headers=w.headers("bot_audit")
    )
    assert r.status_code == 200, r.text
    rows = [json.loads(line) for line in r.text.splitlines() if line.strip()]
    assert rows and all(x["agency_id"] == str(w.agencies["A"].id) for x in rows)
    export_id = r.headers["x-export-id"]
    m = client.get(f"/admin/v1/audit/exports/{export_id}/manifest", headers=w.headers("auditor_a"))
    assert m.status_code == 200, m.text
    assert m.json()["manifest"]["count"] == len(rows) and m.json()["jws"].count(".") == 2
    r = client.post(
        "/admin/v1/audit/exports",
        json={"format": "csv", "bom": True},
        headers=w.headers("auditor_a"),
    )
    assert r.status_code == 200 and r.content.startswith(b"\xef\xbb\xbf")
