"""/metrics (issue 21): protected, never on the public port by default; requests by route
template and status, tokens by grant, refusals, outbox and pool gauges."""

from __future__ import annotations

import socket
import urllib.request
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from idp import migrate
from idp.agencies import service as agencies
from idp.clients import service as clients
from idp.main import create_app
from idp.oidc import server as oidc_server
from idp.services import Services
from tests.conftest import make_settings

TOKEN = "m" * 40


@pytest.fixture
def world(tmp_path, monkeypatch) -> Iterator[tuple[TestClient, tuple[str, str]]]:
    url = f"sqlite:///{tmp_path / 'metrics.db'}"
    migrate.upgrade(url)
    settings = make_settings(url, metrics_token=TOKEN)
    services = Services(settings)
    with services.sessions.begin() as db:
        agencies.create(db, agencies.NewAgency(code="met", name_th="ก", name_en="Met"))
    with services.sessions.begin() as db:
        c, secret = clients.create(
            db,
            clients.NewClient(
                agency_code="met",
                name_th="แอป",
                name_en="machine",
                grant_types=("client_credentials",),
                scopes=("govid",),
            ),
        )
        machine = (c.client_id, secret)
    monkeypatch.setattr(oidc_server, "_SERVER", None)
    with TestClient(create_app(settings, services, start_workers=False)) as http:
        yield http, machine
    services.close()


def _scrape(http: TestClient) -> dict[str, float]:
    r = http.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    out = {}
    for line in r.text.splitlines():
        if line and not line.startswith("#"):
            name, value = line.rsplit(" ", 1)
            out[name] = float(value)
    return out


def test_metrics_need_the_token(world):
    http, _ = world
    assert http.get("/metrics").status_code == 401
    assert http.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401


def test_not_on_the_public_port_by_default(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    migrate.upgrade(url)
    with TestClient(create_app(make_settings(url), start_workers=False)) as http:
        assert http.get("/metrics").status_code == 404


def test_requests_tokens_and_gauges_are_counted(world):
    http, (client_id, secret) = world
    before = _scrape(http)
    for _ in range(3):
        r = http.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret))
        assert r.status_code == 200, r.text
    http.post("/token", data={"grant_type": "client_credentials"}, auth=(client_id, "wrong"))
    http.get("/admin/v1/accounts/3f2b")  # a template, not one series per id
    after = _scrape(http)

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    assert delta('govid_http_requests_total{method="POST",route="/token",status="200"}') == 3
    assert delta('govid_tokens_issued_total{grant_type="client_credentials"}') == 3
    assert delta('govid_token_refusals_total{error="invalid_client"}') == 1
    assert any('route="/admin/v1/accounts/{' in k for k in after)
    assert not any("3f2b" in k for k in after)
    assert delta('govid_http_request_duration_seconds_count{route="/token"}') >= 4
    assert 'govid_outbox_rows{state="parked"}' in after
    assert 'govid_db_pool_connections{state="in_use"}' in after
    assert any(k.startswith("govid_audit_batch_events") for k in after)


def test_separate_port(tmp_path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"sqlite:///{tmp_path / 'p.db'}"
    migrate.upgrade(url)
    settings = make_settings(url, metrics_port=port)
    with TestClient(create_app(settings, start_workers=False)) as http:
        http.get("/healthz")
        body = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read()
        assert b'govid_http_requests_total{method="GET",route="/healthz",status="200"}' in body
        assert http.get("/metrics").status_code == 404  # and not on the public port
