"""The isolation matrix: every endpoint and method, as an admin of agency A against objects
of A, its child A1, its sibling B, its parent M and another ministry O; as an auditor; as
machines with and without the scope; as an operator and as a person without a role.
Expected: allowed exactly where role and subtree allow; elsewhere 404 (outside the
subtree: the same as missing) or 403 (the role or scope does not allow it)."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from idp.accounts import roles
from idp.accounts import service as accounts
from idp.clients import service as clients
from tests.admin.conftest import later

CALLERS = ("admin_a", "auditor_a", "operator", "bot_a", "bot_plain", "nobody")
TARGETS = ("A", "A1", "B", "M", "O")
OK = "ok"


def expected(caller: str, target: str, kind: str):
    if caller in ("bot_plain", "nobody"):
        return 403
    if caller == "operator":
        return OK
    if kind == "operator":
        return 403
    if caller == "auditor_a" and kind != "read":
        return 403
    if caller == "bot_a" and kind == "roles_write":
        return 403
    return OK if target in ("A", "A1") else 404


def call(client, db: Session, world, caller, method, path, body=None, headers=None):
    sp = db.begin_nested()  # each call on the same starting state
    try:
        h = world.headers(caller, **(headers or {}))
        return client.request(method, path, json=body, headers=h)
    finally:
        sp.rollback()


def check(client, db, world, method, path_of, kind, body_of=None, headers=None):
    failures = []
    for caller in CALLERS:
        for target in TARGETS:
            path = path_of(target)
            body = body_of(target) if body_of else None
            r = call(client, db, world, caller, method, path, body, headers)
            want = expected(caller, target, kind)
            got_ok = r.status_code < 300 or (
                r.status_code == 409 and r.json()["type"].endswith("agency-not-empty")
            )
            if (want == OK and not got_ok) or (want != OK and r.status_code != want):
                failures.append(f"{caller}→{target}: {r.status_code} (want {want}) {r.text[:120]}")
            if r.status_code >= 400:
                assert r.headers["content-type"].startswith("application/problem+json")
    assert not failures, "\n".join(failures)


def user(world, t):
    return world.accounts[f"user_{t.lower()}"].id


ACCOUNT_ENDPOINTS = [
    ("GET", "/accounts/{id}", "read", None),
    ("GET", "/accounts/{id}/sessions", "read", None),
    ("PATCH", "/accounts/{id}", "write", {"given_name_en": "Changed"}),
    ("DELETE", "/accounts/{id}", "write", None),
    ("POST", "/accounts/{id}/suspend", "write", {"reason": "test"}),
    ("POST", "/accounts/{id}/resume", "write", None),
    ("POST", "/accounts/{id}/password-reset", "write", {"password": "another long password!"}),
    ("POST", "/accounts/{id}/password-reset", "write", None),
    ("POST", "/accounts/{id}/mfa/reset", "write", None),
    ("POST", "/accounts/{id}/sessions/end", "write", None),
]


@pytest.mark.parametrize(("method", "path", "kind", "body"), ACCOUNT_ENDPOINTS)
def test_account_endpoints(client, db, world, method, path, kind, body):
    check(
        client,
        db,
        world,
        method,
        lambda t: "/admin/v1" + path.format(id=user(world, t)),
        kind,
        (lambda t: body) if body else None,
        headers={"If-Match": "*"},
    )


def test_account_collection(client, db, world):
    check(
        client,
        db,
        world,
        "GET",
        lambda t: f"/admin/v1/accounts?agency={world.agencies[t].code}",
        "read",
    )
    check(
        client,
        db,
        world,
        "POST",
        lambda t: "/admin/v1/accounts",
        "write",
        lambda t: {
            "email": f"new.{t.lower()}@{world.domain(t)}",
            "agency": world.agencies[t].code,
            "given_name_en": "New",
        },
    )


def test_agency_endpoints(client, db, world):
    a = world.agencies
    check(client, db, world, "GET", lambda t: f"/admin/v1/agencies/{a[t].id}", "read")
    for method, suffix, body in (
        ("PATCH", "", {"name_en": "Renamed"}),
        ("DELETE", "", None),
        ("POST", "/move", {"parent_id": None}),
    ):
        check(
            client,
            db,
            world,
            method,
            lambda t, s=suffix: f"/admin/v1/agencies/{a[t].id}{s}",
            "operator",
            (lambda t, b=body: b) if body else None,
            headers={"If-Match": "*"},
        )
    check(
        client,
        db,
        world,
        "POST",
        lambda t: "/admin/v1/agencies",
        "operator",
        lambda t: {
            "code": f"new-{t}-{world.u}",
            "name_th": "ใหม่",
            "name_en": "New",
            "parent": a[t].code,
        },
    )


def test_role_grant_endpoints(client, db, world):
    grants = {}
    for t in TARGETS:
        grants[t] = roles.grant_role(
            world.db, world.accounts[f"user_{t.lower()}"], "auditor", world.agencies[t]
        )
    check(client, db, world, "GET", lambda t: f"/admin/v1/role-grants/{grants[t].id}", "read")
    check(
        client,
        db,
        world,
        "DELETE",
        lambda t: f"/admin/v1/role-grants/{grants[t].id}",
        "roles_write",
        headers={"If-Match": "*"},
    )
    check(
        client,
        db,
        world,
        "POST",
        lambda t: "/admin/v1/role-grants",
        "roles_write",
        lambda t: {
            "account_id": str(user(world, t)),
            "role": "agency_admin",
            "agency_id": str(world.agencies[t].id),
            "expires_at": later(),
        },
    )


def test_client_endpoints(client, db, world):
    apps = {}
    for t in TARGETS:
        apps[t], _ = clients.create(
            world.db,
            clients.NewClient(
                agency_code=world.agencies[t].code,
                name_th="แอป",
                name_en="App",
                redirect_uris=("https://app.example.go.th/cb",),
                client_id=f"app-{t}-{world.u}",
            ),
        )
    base = "/admin/v1/clients/"
    check(client, db, world, "GET", lambda t: base + apps[t].client_id, "read")
    for method, suffix, body in (
        ("PATCH", "", {"name_en": "Renamed"}),
        ("POST", "/secret", None),
        ("DELETE", "", None),
    ):
        check(
            client,
            db,
            world,
            method,
            lambda t, s=suffix: base + apps[t].client_id + s,
            "write",
            (lambda t, b=body: b) if body else None,
            headers={"If-Match": "*"},
        )
    check(
        client,
        db,
        world,
        "POST",
        lambda t: "/admin/v1/clients",
        "write",
        lambda t: {
            "agency": world.agencies[t].code,
            "name_th": "แอปใหม่",
            "name_en": "New app",
            "redirect_uris": ["https://new.example.go.th/cb"],
        },
    )


def test_lists_only_show_the_subtree(client, world):
    for path, key in (
        ("/admin/v1/accounts?limit=500", "email"),
        ("/admin/v1/agencies?limit=500", "code"),
    ):
        r = client.get(path, headers=world.headers("admin_a"))
        assert r.status_code == 200
        seen = {item[key] for item in r.json()["items"]}
        if key == "email":
            assert f"user_a1@{world.u}.go.th" in seen
            assert not {f"user_b@{world.u}.go.th", f"user_m@{world.u}.go.th"} & seen
            assert all(e.endswith(f"@{world.u}.go.th") for e in seen)
        else:
            assert seen == {world.agencies["A"].code, world.agencies["A1"].code}


def test_authentication_is_required_and_level_2_for_people(client, world):
    r = client.get("/admin/v1/accounts")
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    r = client.get("/admin/v1/accounts", headers={"Authorization": "Bearer not-a-token"})
    assert r.status_code == 401
    tok = world.person_token(world.accounts["admin_a"], acr=world.services.settings.acr_level1)
    r = client.get("/admin/v1/accounts", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401  # RFC 9470: a step-up challenge the app can act on
    assert r.json()["type"] == "urn:govid:problem:insufficient-assurance"
    challenge = r.headers["www-authenticate"]
    assert 'error="insufficient_user_authentication"' in challenge
    assert f'acr_values="{world.services.settings.acr_level2}"' in challenge
    # A level-2 token the admin gave some app for another purpose does not administer.
    tok = world.person_token(world.accounts["admin_a"], scope="openid profile email")
    r = client.get("/admin/v1/accounts", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 403 and "scopes" in r.json()["detail"]
    tok = world.person_token(world.accounts["admin_a"], scope="openid admin:audit")
    r = client.get("/admin/v1/accounts", headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 403
    assert (
        client.get("/admin/v1/audit/events", headers={"Authorization": f"Bearer {tok}"}).status_code
        == 200
    )


def test_authority_is_read_on_every_request(client, db, world):
    h = world.headers("admin_a")
    assert client.get("/admin/v1/accounts", headers=h).status_code == 200
    from idp.accounts.models import RoleGrant

    db.query(RoleGrant).filter_by(account_id=world.accounts["admin_a"].id).delete()
    db.flush()
    assert client.get("/admin/v1/accounts", headers=h).status_code == 403
    # Suspension kills the token at once.
    accounts.suspend(db, world.accounts["operator"], actor="test")
    assert client.get("/admin/v1/accounts", headers=world.headers("operator")).status_code == 401


def test_agency_admin_cannot_touch_an_operator_in_their_subtree(client, db, world):
    target = world.accounts["user_a"]
    roles.grant_role(db, target, "operator", world.agencies["M"])
    r = client.post(
        f"/admin/v1/accounts/{target.id}/password-reset", headers=world.headers("admin_a")
    )
    assert r.status_code == 403
    assert r.json()["type"] == "urn:govid:problem:protected-account"
    r = client.post(
        "/admin/v1/role-grants",
        headers=world.headers("admin_a"),
        json={
            "account_id": str(world.accounts["user_a1"].id),
            "role": "operator",
            "agency_id": str(world.agencies["A"].id),
        },
    )
    assert r.status_code == 403


def test_expired_grants_give_no_authority(client, db, world):
    import datetime as dt

    from idp.accounts.models import RoleGrant
    from idp.db import utcnow

    db.add(
        RoleGrant(
            account_id=world.accounts["nobody"].id,
            role="agency_admin",
            agency_id=world.agencies["A"].id,
            expires_at=utcnow() - dt.timedelta(seconds=1),
        )
    )
    db.flush()
    assert client.get("/admin/v1/accounts", headers=world.headers("nobody")).status_code == 403
    r = client.post(
        "/admin/v1/role-grants",
        headers=world.headers("admin_a"),
        json={
            "account_id": str(world.accounts["user_a1"].id),
            "role": "auditor",
            "agency_id": str(world.agencies["A1"].id),
            "expires_at": later(1),
        },
    )
    assert r.status_code == 201, r.text
    tok = world.person_token(world.accounts["user_a1"])
    h = {"Authorization": f"Bearer {tok}"}
    assert client.get("/admin/v1/accounts", headers=h).status_code == 200
    r = client.get(f"/admin/v1/accounts/{world.accounts['user_a'].id}", headers=h)
    assert r.status_code == 404  # an auditor of A1 does not see A
    r = client.post(
        "/admin/v1/role-grants",
        headers=world.headers("admin_a"),
        json={
            "account_id": str(world.accounts["user_a1"].id),
            "role": "auditor",
            "agency_id": str(world.agencies["A1"].id),
            "expires_at": "2001-01-01T00:00:00Z",
        },
    )
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "expires_at"
