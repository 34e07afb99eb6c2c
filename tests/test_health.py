"""/healthz and /readyz as a load balancer sees them."""

from fastapi.testclient import TestClient

from idp.main import create_app
from tests.conftest import make_settings


def client_for(url):
    return TestClient(create_app(make_settings(url)))


def test_ready_when_migrated(database_url):
    with client_for(database_url) as c:
        assert c.get("/healthz").json() == {"status": "ok"}
        r = c.get("/readyz")
        assert r.status_code == 200
        assert r.json()["status"] == "ready"


def test_not_ready_before_migrations(sqlite_fresh_url):
    with client_for(sqlite_fresh_url) as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert "idp db upgrade" in r.json()["reason"]


def test_not_ready_when_database_unreachable():
    # Nothing listens on port 1; the probe must answer 503 quickly, not hang or 500.
    with client_for("postgresql://postgres@127.0.0.1:1/none?connect_timeout=2") as c:
        assert c.get("/healthz").status_code == 200
        r = c.get("/readyz")
        assert r.status_code == 503
        assert r.json()["reason"].startswith("database unreachable")
