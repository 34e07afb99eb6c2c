"""413 for chunked bodies from authenticated callers, on the surfaces that check the
caller before reading (imports, SCIM); the real-server tests (tests/test_body_limit.py)
show the refusal comes before the body is sent."""

from __future__ import annotations

from fastapi.testclient import TestClient

from idp.deps import get_db
from idp.main import create_app

KIB = 1024


def _chunks(total: int):
    piece = b"x" * (16 * KIB)
    for _ in range(total // len(piece) + 1):
        yield piece


def test_chunked_import_and_scim_bodies_over_the_limit_are_413(services, db, world):
    settings = services.settings.model_copy(
        update={"max_import_body_bytes": 128 * KIB, "max_admin_body_bytes": 64 * KIB}
    )
    app = create_app(settings, services, start_workers=False)

    def test_db():
        with db.begin_nested():
            yield db

    for route in app.routes:
        sub = getattr(route, "app", None)
        if hasattr(sub, "dependency_overrides"):
            sub.dependency_overrides[get_db] = test_db
    app.dependency_overrides[get_db] = test_db
    world.machine("hr_a", "A", ("scim",))
    with TestClient(app) as client:
        r = client.post(
            "/admin/v1/imports?dry_run=true",
            content=_chunks(200 * KIB),
            headers={**world.headers("admin_a"), "content-type": "text/csv"},
        )
        assert r.status_code == 413, r.text
        assert r.json()["type"] == "urn:govid:problem:body-too-large"
        assert r.json()["limit"] == 128 * KIB
        r = client.post(
            "/scim/v2/Users",
            content=_chunks(100 * KIB),
            headers={**world.headers("hr_a"), "content-type": "application/scim+json"},
        )
        assert r.status_code == 413, r.text
        assert r.json()["status"] == "413"
        # within the limit the import runs as before
        r = client.post(
            "/admin/v1/imports?dry_run=true",
            content=b"email,agency\n",
            headers={**world.headers("admin_a"), "content-type": "text/csv"},
        )
        assert r.status_code == 200, r.text
