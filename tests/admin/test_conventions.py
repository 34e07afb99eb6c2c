"""Idempotency-Key, cursor pagination stable under concurrent inserts, problem types."""

from __future__ import annotations

import datetime as dt

from idp.clock import FakeClock
from idp.idempotency.service import TTL, fingerprint
from idp.tokens import service as tokens
from tests import factories

A = "/admin/v1"


def test_idempotency_key_same_body_same_result_different_body_422(client, world):
    h = {**world.headers("admin_a"), "Idempotency-Key": "create-1"}
    body = {"email": f"idem@{world.u}.go.th", "agency": world.agencies["A"].code}
    first = client.post(f"{A}/accounts", json=body, headers=h)
    assert first.status_code == 201
    again = client.post(f"{A}/accounts", json=body, headers=h)
    assert again.status_code == 201
    assert again.json() == first.json()  # incl. the activation token shown once
    assert again.headers["idempotent-replayed"] == "true"
    assert again.headers["etag"] == first.headers["etag"]
    other = client.post(f"{A}/accounts", json={**body, "given_name_en": "X"}, headers=h)
    assert other.status_code == 422
    assert other.json()["type"] == "urn:govid:problem:idempotency-key-reused"
    # Keys are per caller: another caller's same key is a new request (here a duplicate).
    h2 = {**world.headers("bot_a"), "Idempotency-Key": "create-1"}
    assert client.post(f"{A}/accounts", json=body, headers=h2).status_code == 409
    # Without a key the second create is a duplicate.
    r = client.post(f"{A}/accounts", json=body, headers=world.headers("admin_a"))
    assert r.status_code == 409 and r.json()["type"] == "urn:govid:problem:duplicate-email"


def test_an_idempotency_key_is_forgotten_a_day_later(client, world, services, monkeypatch):
    """Counted on the server's Clock (DESIGN rule 4): a retry within the day gets the
    stored answer; a day later the key is forgotten and the request runs again."""
    clock = FakeClock()
    monkeypatch.setattr(services, "clock", clock)

    def headers() -> dict[str, str]:  # a fresh token: the old one expires on this clock
        tok, _ = tokens.issue_access_token(
            services.keys,
            issuer=services.settings.issuer,
            client=world.apps["bot_a"],
            ctx=tokens.TokenContext(scope="admin:accounts"),
            lifetime=600,
            now=clock.now(),
        )
        return {"Authorization": f"Bearer {tok}", "Idempotency-Key": "create-day"}

    body = {"email": f"day@{world.u}.go.th", "agency": world.agencies["A"].code}
    first = client.post(f"{A}/accounts", json=body, headers=headers())
    assert first.status_code == 201
    clock.advance((TTL - dt.timedelta(minutes=1)).total_seconds())
    again = client.post(f"{A}/accounts", json=body, headers=headers())
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true"
    clock.advance(61)
    later = client.post(f"{A}/accounts", json=body, headers=headers())
    # Run again, not replayed: the account exists now.
    assert later.status_code == 409 and "idempotent-replayed" not in later.headers
    assert later.json()["type"] == "urn:govid:problem:duplicate-email"


def test_fingerprint_depends_on_body_and_path():
    assert fingerprint("POST", "/a", {"x": 1}) == fingerprint("post", "/a", {"x": 1})
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("POST", "/b", {"x": 1})
    assert fingerprint("POST", "/a", {"x": 1}) != fingerprint("POST", "/a", {"x": 2})


def _pages(client, h, url):
    seen, cursor = [], None
    while True:
        r = client.get(url + (f"&cursor={cursor}" if cursor else ""), headers=h)
        assert r.status_code == 200, r.text
        yield r.json()["items"]
        cursor = r.json()["next_cursor"]
        if not cursor:
            return
    return seen


def test_pagination_is_stable_under_concurrent_inserts(client, db, world):
    h = world.headers("operator")
    for i in range(12):
        factories.account(
            db, f"p{i:02d}@{world.u}.go.th", world.agencies["A"].code,
            hasher=world.services.hasher, cipher=world.services.cipher,
        )  # fmt: skip
    for k, sort in enumerate(("email", "-email", "created_at", "-updated_at")):
        url = f"{A}/accounts?agency={world.agencies['M'].code}&limit=3&sort={sort}"
        before = [
            a["id"]
            for a in client.get(url.replace("limit=3", "limit=500"), headers=h).json()["items"]
        ]
        got = []
        for n, items in enumerate(_pages(client, h, url), start=1):
            got += [a["id"] for a in items]
            # Somebody inserts rows that sort before and after the cursor meanwhile.
            for prefix in ("a", "z"):
                factories.account(
                    db, f"{prefix}{k}x{n}@{world.u}.go.th", world.agencies["A"].code,
                    hasher=world.services.hasher, cipher=world.services.cipher,
                )  # fmt: skip
        assert len(got) == len(set(got)), "a row appeared twice"
        assert set(before) <= set(got), "a row that existed throughout was skipped"


def test_paging_rules(client, world):
    h = world.headers("operator")
    assert client.get(f"{A}/accounts?limit=501", headers=h).status_code == 422
    assert client.get(f"{A}/accounts?sort=password_hash", headers=h).status_code == 422
    page = client.get(f"{A}/accounts?limit=1&sort=email", headers=h).json()
    r = client.get(f"{A}/accounts?limit=1&sort=-email&cursor={page['next_cursor']}", headers=h)
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cursor"
    r = client.get(f"{A}/accounts?cursor=!!!", headers=h)
    assert r.status_code == 400 and r.json()["type"] == "urn:govid:problem:invalid-cursor"


def test_problem_types_are_stable(client, world):
    r = client.get(
        f"{A}/accounts/00000000-0000-4000-8000-000000000000", headers=world.headers("admin_a")
    )
    assert r.status_code == 404
    assert r.json()["type"] == "urn:govid:problem:not-found"
    assert r.headers["content-type"] == "application/problem+json"
    r = client.get(f"{A}/nowhere", headers=world.headers("admin_a"))
    assert r.status_code == 404 and r.json()["type"] == "urn:govid:problem:not-found"


def test_openapi_document(client):
    doc = client.get(f"{A}/openapi.json").json()
    assert doc["openapi"].startswith("3.1")
    assert "/accounts" in doc["paths"] and "/audit/events" in doc["paths"]
    assert "Problem" in doc["components"]["schemas"]
    create = doc["paths"]["/accounts"]["post"]
    assert create["requestBody"]["content"]["application/json"]["schema"]
    assert "examples" in doc["components"]["schemas"]["AccountCreate"]
