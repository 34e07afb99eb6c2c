"""SCIM 2.0 Users and Groups with the same scoping and audit as the admin API."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent

S = "/scim/v2"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


@pytest.fixture
def scim_world(world):
    world.machine("hr_a", "A", ("scim",))
    return world


def test_scope_scim_is_required(client, scim_world):
    r = client.get(f"{S}/Users", headers=scim_world.headers("bot_a"))
    assert r.status_code == 403
    assert r.headers["content-type"].startswith("application/scim+json")
    assert r.json()["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert client.get(f"{S}/Users").status_code == 401


def test_discovery(client, scim_world):
    h = scim_world.headers("hr_a")
    assert client.get(f"{S}/ServiceProviderConfig", headers=h).json()["patch"]["supported"]
    types = client.get(f"{S}/ResourceTypes", headers=h).json()
    assert {t["id"] for t in types["Resources"]} == {"User", "Group"}
    schemas = client.get(f"{S}/Schemas", headers=h).json()
    assert ENT in {s["id"] for s in schemas["Resources"]}


def test_user_lifecycle_and_scoping(client, db, scim_world):
    w = scim_world
    h = w.headers("hr_a")
    body = {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", ENT],
        "userName": f"hr.new@{w.u}.go.th",
        "externalId": "EMP-0001",
        "name": {"givenName": "Hr", "familyName": "New"},
        ENT: {"department": w.agencies["A1"].code},
    }
    r = client.post(f"{S}/Users", json=body, headers=h)
    assert r.status_code == 201, r.text
    user = r.json()
    assert user["externalId"] == "EMP-0001" and user[ENT]["department"] == w.agencies["A1"].code
    uid = user["id"]
    etag = r.headers["etag"]
    # Filter by externalId, userName (case-insensitive) and lastModified.
    for f in ('externalId eq "EMP-0001"', f'userName eq "HR.NEW@{w.u}.GO.TH"', 'userName sw "hr."'):
        found = client.get(f"{S}/Users", params={"filter": f}, headers=h).json()
        assert [x["id"] for x in found["Resources"]] == [uid], f
    r = client.get(f"{S}/Users", params={"filter": "userName zz 1"}, headers=h)
    assert r.status_code == 400 and r.json()["scimType"] == "invalidFilter"
    # PATCH: deactivate (suspends, ends sessions) with If-Match.
    ops = {"schemas": [PATCH], "Operations": [{"op": "replace", "path": "active", "value": False}]}
    r = client.patch(f"{S}/Users/{uid}", json=ops, headers={**h, "If-Match": 'W/"999"'})
    assert r.status_code == 412
    r = client.patch(f"{S}/Users/{uid}", json=ops, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["active"] is False
    ops = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "replace", "value": {"active": True, "name": {"familyName": "Renamed"}}}
        ],
    }
    r = client.patch(f"{S}/Users/{uid}", json=ops, headers=h)
    assert r.json()["active"] is True and r.json()["name"]["familyName"] == "Renamed"
    # Department cannot change (no mass assignment).
    ops = {
        "schemas": [PATCH],
        "Operations": [
            {"op": "replace", "path": f"{ENT}:department", "value": w.agencies["B"].code}
        ],
    }
    assert client.patch(f"{S}/Users/{uid}", json=ops, headers=h).status_code == 400
    # Out of scope: B's user is not found; creating in B is not found either.
    other = w.accounts["user_b"].id
    assert client.get(f"{S}/Users/{other}", headers=h).status_code == 404
    body2 = {**body, "userName": f"x@{w.u}.go.th", ENT: {"department": w.agencies["B"].code}}
    assert client.post(f"{S}/Users", json=body2, headers=h).status_code == 404
    listed = client.get(f"{S}/Users", params={"count": 500}, headers=h).json()
    assert all(
        x[ENT]["department"] in (w.agencies["A"].code, w.agencies["A1"].code)
        for x in listed["Resources"]
    )
    assert client.delete(f"{S}/Users/{uid}", headers=h).status_code == 204
    assert client.get(f"{S}/Users/{uid}", headers=h).status_code == 404
    types = set(db.scalars(select(AuditEvent.type).where(AuditEvent.subject == uid)))
    assert {
        "admin.account.created",
        "admin.account.suspended",
        "admin.account.resumed",
        "admin.account.deleted",
        "admin.account.updated",
    } <= types


def test_pagination_and_groups(client, scim_world):
    w = scim_world
    h = w.headers("hr_a")
    page1 = client.get(f"{S}/Users", params={"startIndex": 1, "count": 2}, headers=h).json()
    page2 = client.get(f"{S}/Users", params={"startIndex": 3, "count": 2}, headers=h).json()
    assert page1["totalResults"] == page2["totalResults"] >= 4
    assert not {x["id"] for x in page1["Resources"]} & {x["id"] for x in page2["Resources"]}
    groups = client.get(f"{S}/Groups", headers=h).json()
    names = {g["displayName"] for g in groups["Resources"]}
    assert f"{w.agencies['A'].code} agency_admin" in names
    assert not any(n.startswith(w.agencies["M"].code + " ") for n in names)
    g = next(x for x in groups["Resources"] if x["displayName"].endswith("agency_admin"))
    assert (
        client.get(f"{S}/Groups/{g['id']}", headers=h)
        .json()["members"][0]["display"]
        .startswith("admin_a@")
    )


GOVID = "urn:govid:params:scim:schemas:extension:2.0:User"


def test_a_protected_user_says_so_as_the_admin_api_does(client, db, scim_world):
    """An HR system syncing by SCIM sees which people it may not change (an operator in
    its subtree), the same `protected` reason the admin API gives, before it tries."""
    from idp.accounts import roles

    w = scim_world
    h = w.headers("hr_a")
    target, plain = w.accounts["user_a"], w.accounts["user_a1"]
    roles.grant_role(db, target, "operator", w.agencies["M"])
    api = client.get(f"/admin/v1/accounts/{target.id}", headers=w.headers("admin_a")).json()
    assert api["protected"] == "operator"
    one = client.get(f"{S}/Users/{target.id}", headers=h).json()
    assert one[GOVID]["protected"] == "operator"
    listed = client.get(
        f"{S}/Users", params={"filter": f'userName eq "{target.email}"'}, headers=h
    ).json()
    assert listed["Resources"][0][GOVID]["protected"] == "operator"
    assert "protected" not in client.get(f"{S}/Users/{plain.id}", headers=h).json()[GOVID]
    # ...and a change is refused as the admin API refuses it.
    r = client.patch(
        f"{S}/Users/{target.id}",
        json={
            "schemas": [PATCH],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
        headers=h,
    )
    assert r.status_code == 403, r.text
    schemas = client.get(f"{S}/Schemas", headers=h).json()["Resources"]
    ext = next(s for s in schemas if s["id"] == GOVID)
    attr = next(a for a in ext["attributes"] if a["name"] == "protected")
    assert attr["mutability"] == "readOnly"
