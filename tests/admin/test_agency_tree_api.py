"""What the admin console's agency tree needs of the API (issue 20), on both databases:
the tree starts where the caller's subtree starts (``top``) and is searchable by name or
code (``q``), within the caller's subtree only."""

from __future__ import annotations

A = "/admin/v1"


def _codes(r) -> list[str]:
    assert r.status_code == 200, r.text
    return [a["code"] for a in r.json()["items"]]


def test_the_tree_starts_at_the_callers_roots(client, world):
    u = world.u
    admin = _codes(client.get(f"{A}/agencies?top=true", headers=world.headers("admin_a")))
    assert admin == [f"a-{u}"]  # their department, not the ministry above it
    op = _codes(client.get(f"{A}/agencies?top=true&limit=500", headers=world.headers("operator")))
    assert f"m-{u}" in op and f"o-{u}" in op  # ministries
    assert f"a-{u}" not in op and f"a1-{u}" not in op
    # Children one level at a time: what the tree loads when a node is opened.
    kids = client.get(
        f"{A}/agencies?parent_id={world.agencies['M'].id}", headers=world.headers("operator")
    )
    assert sorted(_codes(kids)) == [f"a-{u}", f"b-{u}"]


def test_agencies_are_searched_by_name_or_code_within_the_subtree(client, world):
    u = world.u
    op = world.headers("operator")
    # factories name agencies "Agency <code>" / "หน่วยงาน <code>"
    assert _codes(client.get(f"{A}/agencies", params={"q": f"AGENCY A1-{u}"}, headers=op)) == [
        f"a1-{u}"
    ]
    assert _codes(client.get(f"{A}/agencies", params={"q": f"หน่วยงาน o-{u}"}, headers=op)) == [
        f"o-{u}"
    ]
    assert _codes(client.get(f"{A}/agencies", params={"q": f"b-{u}"}, headers=op)) == [f"b-{u}"]
    # A name outside the caller's subtree is simply not found.
    admin = world.headers("admin_a")
    assert _codes(client.get(f"{A}/agencies", params={"q": f"o-{u}"}, headers=admin)) == []
    assert sorted(_codes(client.get(f"{A}/agencies", params={"q": u}, headers=admin))) == [
        f"a-{u}",
        f"a1-{u}",
    ]
    # LIKE wildcards are text, not patterns.
    assert _codes(client.get(f"{A}/agencies", params={"q": "%"}, headers=op)) == []
    r = client.get(f"{A}/agencies", params={"q": "x" * 101}, headers=op)
    assert r.status_code == 422


def test_redirect_uri_problems_name_the_rule(client, world):
    """The console shows a redirect URI problem in the person's language by its code."""
    body = {
        "agency": world.agencies["A"].code,
        "name_th": "แอป",
        "name_en": "App",
        "redirect_uris": ["http://app.example.go.th/cb"],
    }
    h = world.headers("admin_a", **{"Idempotency-Key": "k-redirect-1"})
    r = client.post(f"{A}/clients", json=body, headers=h)
    assert r.status_code == 422
    assert r.json()["errors"] == [
        {
            "field": "redirect_uris",
            "code": "redirect_uri_not_https",
            "message": "redirect URI must use https (http only for loopback): "
            "'http://app.example.go.th/cb'",
        }
    ]
    body["redirect_uris"] = ["https://app.example.go.th/cb#x"]
    r = client.post(f"{A}/clients", json=body, headers=world.headers("admin_a"))
    assert r.json()["errors"][0]["code"] == "redirect_uri_fragment"
