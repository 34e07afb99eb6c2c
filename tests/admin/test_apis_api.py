"""``/admin/v1/apis``: an agency's APIs (RFC 8707) within the caller's subtree, with the
admin API's conventions, and apps given API scopes through ``/admin/v1/clients``."""

from __future__ import annotations

from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import utcnow
from idp.resources import registration
from idp.tokens import service as tokens

BASE = "/admin/v1/apis"


def body(w, agency="A", name="pop", **kw):
    return {
        "agency": w.agencies[agency].code,
        "identifier": f"https://{name}-{w.u}.example.go.th/",
        "name_th": f"ระบบ {name}",
        "name_en": f"API {name}",
        "scopes": [f"{name}-{w.u}:read"],
        **kw,
    }


def create(client, world, who="admin_a", **kw):
    return client.post(BASE, json=body(world, **kw), headers=world.headers(who))


def test_register_read_and_list_within_the_subtree(client, world):
    r = create(client, world)
    assert r.status_code == 201, r.text
    api = r.json()
    assert r.headers["etag"] == '"1"' and r.headers["location"].endswith(f"/apis/{api['id']}")
    assert api["scopes"] == [f"pop-{world.u}:read"] and api["shared_with"] == "agency"
    assert api["introspection"] and api["introspection_client_id"].startswith("api-")
    assert len(api["introspection_client_secret"]) >= 43
    got = client.get(f"{BASE}/{api['id']}", headers=world.headers("auditor_a"))
    assert got.status_code == 200 and "introspection_client_secret" not in got.json()
    # Another ministry's API is invisible (404, like a missing one) and absent from lists.
    other = create(client, world, who="operator", agency="O", name="far").json()
    assert client.get(f"{BASE}/{other['id']}", headers=world.headers("admin_a")).status_code == 404
    listed = client.get(BASE, headers=world.headers("admin_a")).json()["items"]
    assert [a["identifier"] for a in listed] == [api["identifier"]]
    listed = client.get(BASE, params={"limit": 1}, headers=world.headers("operator")).json()
    assert len(listed["items"]) == 1 and listed["next_cursor"]
    ev = world.db.scalars(select(AuditEvent).where(AuditEvent.type == "admin.api.created")).all()
    mine = [e for e in ev if e.subject == api["id"]]
    assert mine[0].actor == str(world.accounts["admin_a"].id)
    assert api["introspection_client_secret"] not in str(mine[0].details)


def test_who_may_register(client, world):
    assert create(client, world, agency="O").status_code == 404  # outside the subtree
    assert create(client, world, who="auditor_a").status_code == 403
    assert create(client, world, who="bot_plain").status_code == 403
    assert create(client, world, who="bot_a", name="bot").status_code == 201
    r = create(client, world, name="bad", identifier="https://x.example/#frag")
    assert r.status_code == 422 and "identifier" in str(r.json()), r.text
    r = create(client, world, name="bad2", scopes=["admin:accounts"])
    assert r.status_code == 422
    assert create(client, world, name="pop").status_code == 201
    r = create(client, world, name="pop")
    assert r.status_code == 409  # the identifier (and its scopes) are taken


def test_change_rotate_disable_enable(client, world):
    api = create(client, world).json()
    url = f"{BASE}/{api['id']}"
    h = world.headers("admin_a")
    assert client.patch(url, json={"shared_with": "all"}, headers=h).status_code == 428
    r = client.patch(url, json={"shared_with": "all"}, headers={**h, "If-Match": '"9"'})
    assert r.status_code == 412
    r = client.patch(
        url,
        json={"shared_with": "all", "scopes": [f"pop-{world.u}:read", f"pop-{world.u}:write"]},
        headers={**h, "If-Match": '"1"'},
    )
    assert r.status_code == 200 and r.json()["shared_with"] == "all"
    assert r.json()["scopes"] == [f"pop-{world.u}:read", f"pop-{world.u}:write"]
    tag = r.headers["etag"]
    r = client.patch(url, json={"identifier": "https://x/"}, headers={**h, "If-Match": tag})
    assert r.status_code == 422  # the identifier never changes (no mass assignment)
    key = {"Idempotency-Key": f"rot-{world.u}", "If-Match": tag}
    first = client.post(f"{url}/secret", headers={**h, **key})
    again = client.post(f"{url}/secret", headers={**h, **key})
    assert first.status_code == 200 and again.headers.get("idempotent-replayed") == "true"
    assert (
        first.json()["introspection_client_secret"] == again.json()["introspection_client_secret"]
    )
    r = client.delete(url, headers={**h, "If-Match": "*"})
    assert r.status_code == 200 and r.json()["status"] == "disabled"
    r = client.patch(url, json={"name_en": "x"}, headers={**h, "If-Match": "*"})
    assert r.status_code == 409
    r = client.post(f"{url}/enable", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "active"
    types = [
        e.type
        for e in world.db.scalars(
            select(AuditEvent).where(AuditEvent.subject == api["id"]).order_by(AuditEvent.seq)
        )
    ]
    assert types == [
        "admin.api.created",
        "admin.api.updated",
        "admin.api.secret_rotated",
        "admin.api.disabled",
        "admin.api.enabled",
    ]


def app_body(w, agency, scopes):
    return {
        "agency": w.agencies[agency].code,
        "name_th": "แอป",
        "name_en": "App",
        "grant_types": ["client_credentials"],
        "scopes": scopes,
    }


def test_apps_get_api_scopes_only_where_the_api_is_shared(client, world):
    """Decision 0011: the API's owner decides (shared_with), not the app's admin."""
    create(client, world, who="operator", agency="O", name="far")
    own = create(client, world).json()
    scope, far = f"pop-{world.u}:read", f"far-{world.u}:read"
    h = world.headers("admin_a")
    r = client.post("/admin/v1/clients", json=app_body(world, "A1", [scope]), headers=h)
    assert r.status_code == 422 and r.json()["code"] == "invalid_scope"  # agency only
    r = client.post("/admin/v1/clients", json=app_body(world, "A", [scope]), headers=h)
    assert r.status_code == 201, r.text
    r = client.post("/admin/v1/clients", json=app_body(world, "A", [far]), headers=h)
    assert r.status_code == 422 and r.json()["code"] == "invalid_scope"
    assert far in r.json()["detail"]
    r = client.post("/admin/v1/clients", json=app_body(world, "A", ["api:read"]), headers=h)
    assert r.status_code == 422 and "api:read" in r.json()["detail"]
    # Shared with the subtree: A1's apps may be given it now.
    r = client.patch(
        f"{BASE}/{own['id']}", json={"shared_with": "subtree"}, headers={**h, "If-Match": "*"}
    )
    assert r.status_code == 200
    r = client.post("/admin/v1/clients", json=app_body(world, "A1", [scope]), headers=h)
    assert r.status_code == 201, r.text


def test_a_token_for_an_api_is_not_accepted_by_the_admin_api(client, world):
    api, _ = registration.create(
        world.db,
        registration.NewApi(
            agency_code=world.agencies["A"].code,
            identifier=f"https://aud-{world.u}.example.go.th/",
            name_th="x",
            name_en="x",
            scopes=(f"aud-{world.u}:read",),
        ),
        issuer=world.services.settings.issuer,
    )
    bot = world.apps["bot_a"]
    tok, _ = tokens.issue_access_token(
        world.services.keys,
        issuer=world.services.settings.issuer,
        client=bot,
        ctx=tokens.TokenContext(scope="admin:clients", audience=api.identifier),
        lifetime=600,
        now=utcnow(),
    )
    r = client.get(BASE, headers={"Authorization": f"Bearer {tok}"})
    assert r.status_code == 401


def test_an_apis_own_client_cannot_be_turned_into_a_token_client(client, world):
    """Decision 0011: an API's introspection client can obtain no token. Found by an
    independent check: PATCH /clients/<it> with grant_types and scopes made it one."""
    api = create(client, world).json()
    cid = api["introspection_client_id"]
    h = {**world.headers("admin_a"), "If-Match": "*"}
    for change in (
        {"grant_types": ["client_credentials"], "scopes": [f"pop-{world.u}:read"]},
        {"grant_types": ["client_credentials"]},
        {"redirect_uris": ["https://pop.example.go.th/cb"]},
    ):
        r = client.patch(f"/admin/v1/clients/{cid}", json=change, headers=h)
        assert r.status_code == 422, (change, r.text)
        assert "introspection" in r.json()["detail"]
    got = client.get(f"/admin/v1/clients/{cid}", headers=world.headers("admin_a")).json()
    assert "client_credentials" not in (got["grant_types"] or [])
