"""Regression tests for the black-box audit of /admin/v1 and /scim/v2 (D1-D8): scope
escalation through client registration, 500s on bad query values and SCIM bodies,
unaudited SCIM changes, RFC 6750 insufficient_scope, and problems without a code."""

from __future__ import annotations

import base64
import json

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.db import utcnow
from idp.tokens import service as tokens

A = "/admin/v1"
S = "/scim/v2"
PROBLEM = "application/problem+json"
SCIM_ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENT = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"


def b64(obj) -> str:
    return base64.urlsafe_b64encode(json.dumps(obj).encode()).decode().rstrip("=")


def machine_token(world, name: str, scope: str) -> dict[str, str]:
    """A token of an existing machine client asking for ``scope`` (what /token would issue
    if the client were registered for it; the API intersects with the registration)."""
    tok, _ = tokens.issue_access_token(
        world.services.keys,
        issuer=world.services.settings.issuer,
        client=world.apps[name],
        ctx=tokens.TokenContext(scope=scope),
        lifetime=600,
        now=utcnow(),
    )
    return {"Authorization": f"Bearer {tok}"}


def assert_problem(r, status: int, type_: str, code: str) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == PROBLEM
    body = r.json()
    assert body["type"] == f"urn:govid:problem:{type_}"
    assert body["code"] == code
    return body


# ------------------------------------------------------------------ D1 scope escalation


@pytest.fixture
def clients_bot(world):
    world.machine("clients_bot", "A", ("admin:clients",))
    return world


def new_machine_client(world, scopes: list[str]) -> dict:
    return {
        "agency": world.agencies["A"].code,
        "name_th": "e",
        "name_en": "e",
        "auth_method": "client_secret_basic",
        "grant_types": ["client_credentials"],
        "scopes": scopes,
    }


def test_d1_machine_cannot_register_a_client_with_scopes_it_lacks(client, db, clients_bot):
    w = clients_bot
    h = w.headers("clients_bot")
    body = new_machine_client(w, ["admin:accounts", "admin:audit", "scim"])
    r = client.post(f"{A}/clients", json=body, headers=h)
    problem = assert_problem(r, 403, "scope-not-held", "scope_not_held")
    assert problem["scopes"] == ["admin:accounts", "admin:audit", "scim"]
    assert "admin:accounts" in problem["detail"]
    # The refusal is audited (and committed, although the request was refused).
    denied = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "admin.client.created",
            AuditEvent.outcome == "denied",
            AuditEvent.actor == w.apps["clients_bot"].client_id,
        )
    ).all()
    assert len(denied) == 1
    # What it holds itself it may give.
    r = client.post(f"{A}/clients", json=new_machine_client(w, ["admin:clients"]), headers=h)
    assert r.status_code == 201, r.text


def test_d1_machine_cannot_patch_scopes_it_lacks_onto_itself(client, db, clients_bot):
    w = clients_bot
    h = w.headers("clients_bot")
    me = w.apps["clients_bot"].client_id
    etag = client.get(f"{A}/clients/{me}", headers=h).headers["etag"]
    r = client.patch(
        f"{A}/clients/{me}",
        json={"scopes": ["admin:clients", "admin:accounts"]},
        headers={**h, "If-Match": etag},
    )
    problem = assert_problem(r, 403, "scope-not-held", "scope_not_held")
    assert problem["scopes"] == ["admin:accounts"]
    got = client.get(f"{A}/clients/{me}", headers=h)
    assert got.json()["scopes"] == ["admin:clients"] and got.headers["etag"] == etag
    assert db.scalar(
        select(AuditEvent.seq).where(
            AuditEvent.type == "admin.client.updated",
            AuditEvent.outcome == "denied",
            AuditEvent.client_id == me,
        )
    )
    # Even a token that asks for admin:accounts cannot read accounts.
    r = client.get(f"{A}/accounts", headers=machine_token(w, "clients_bot", "admin:accounts"))
    assert r.status_code == 403


def test_d1_machine_cannot_manage_a_more_powerful_client(client, clients_bot):
    """Rotating the secret of (or re-pointing) a client with admin:accounts would hand
    over admin:accounts just the same."""
    w = clients_bot
    h = w.headers("clients_bot")
    other = w.apps["bot_a"].client_id  # admin:accounts admin:clients admin:audit, agency A
    etag = client.get(f"{A}/clients/{other}", headers=h).headers["etag"]
    r = client.post(f"{A}/clients/{other}/secret", headers={**h, "If-Match": etag})
    assert_problem(r, 403, "scope-not-held", "scope_not_held")
    r = client.patch(f"{A}/clients/{other}", json={"name_en": "x"}, headers={**h, "If-Match": etag})
    assert_problem(r, 403, "scope-not-held", "scope_not_held")
    r = client.delete(f"{A}/clients/{other}", headers={**h, "If-Match": etag})
    assert_problem(r, 403, "scope-not-held", "scope_not_held")


def test_d1_what_people_may_grant(client, world):
    # An agency admin (with the admin UI's token) may give any admin scope in the subtree.
    body = new_machine_client(world, ["admin:accounts", "admin:clients", "admin:audit", "scim"])
    r = client.post(f"{A}/clients", json=body, headers=world.headers("admin_a"))
    assert r.status_code == 201, r.text
    # An app holding the admin's token with admin:clients only may not give more.
    tok = world.person_token(world.accounts["admin_a"], scope="openid admin:clients")
    r = client.post(
        f"{A}/clients",
        json=new_machine_client(world, ["admin:clients", "admin:accounts"]),
        headers={"Authorization": f"Bearer {tok}"},
    )
    assert assert_problem(r, 403, "scope-not-held", "scope_not_held")["scopes"] == [
        "admin:accounts"
    ]
    # A machine holding what it gives may give it.
    r = client.post(
        f"{A}/clients",
        json=new_machine_client(world, ["admin:accounts", "admin:audit"]),
        headers=world.headers("bot_a"),
    )
    assert r.status_code == 201, r.text


# ------------------------------------------------------------- D2 / D8 bad query values

BAD_CURSORS = [
    {"s": "email", "v": "a", "i": "nothex"},
    {"s": "email", "v": [1, 2], "i": {"u": "00" * 16}},
    {"s": "email", "v": {"x": 1}, "i": {"u": "00" * 16}},
    {"s": "email", "v": "a", "i": 12345678901234567890123},
    {"s": "email", "v": "a\u0000", "i": {"u": "00" * 16}},
    {"s": "email", "v": "a", "i": {"u": 5}},
    [1],
]


@pytest.mark.parametrize("cursor", [b64(c) for c in BAD_CURSORS] + ["abc", "!!!", "a" * 2000])
def test_d2_d8_unusable_cursor_is_400(client, world, cursor):
    r = client.get(f"{A}/accounts", params={"cursor": cursor}, headers=world.headers("operator"))
    problem = assert_problem(r, 400, "invalid-cursor", "invalid_cursor")
    assert problem["errors"][0]["field"] == "cursor"


@pytest.mark.parametrize(
    "url,sort",
    [
        ("/accounts", "created_at"),
        ("/clients", "created_at"),
        ("/role-grants", "created_at"),
        ("/agencies", "updated_at"),
    ],
)
def test_d2_cursor_of_wrong_types_on_time_sorts_is_400(client, world, url, sort):
    h = world.headers("operator")
    for bad in (
        {"s": sort, "v": "x", "i": {"u": "00" * 16}},
        {"s": sort, "v": {"t": "0001-01-01T00:00:00+01:00"}, "i": {"u": "00" * 16}},
        {"s": sort, "v": {"t": "2024-01-01T00:00:00"}, "i": {"u": "00" * 16}},
        {"s": sort, "v": {"t": "2024-01-01T00:00:00+00:00"}, "i": {"u": "0" * 31 + "g"}},
    ):
        r = client.get(f"{A}{url}", params={"sort": sort, "cursor": b64(bad)}, headers=h)
        assert_problem(r, 400, "invalid-cursor", "invalid_cursor")
    # A real cursor still works.
    page = client.get(f"{A}{url}", params={"sort": sort, "limit": 1}, headers=h).json()
    if page["next_cursor"]:
        r = client.get(
            f"{A}{url}", params={"sort": sort, "limit": 1, "cursor": page["next_cursor"]}, headers=h
        )
        assert r.status_code == 200


def test_d8_cursor_of_another_sort_and_audit_cursors_are_400(client, world):
    h = world.headers("operator")
    page = client.get(f"{A}/accounts?limit=1&sort=email", headers=h).json()
    r = client.get(f"{A}/accounts?limit=1&sort=-email&cursor={page['next_cursor']}", headers=h)
    assert_problem(r, 400, "invalid-cursor", "invalid_cursor")
    for bad in ("abc", b64({"s": 10**30, "o": "desc"}), b64({"s": "x", "o": "desc"}), "!!"):
        r = client.get(f"{A}/audit/events", params={"cursor": bad}, headers=h)
        assert_problem(r, 400, "invalid-cursor", "invalid_cursor")


@pytest.mark.parametrize("when", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-01:00"])
@pytest.mark.parametrize("url,param", [("/accounts", "updated_since"), ("/audit/events", "since")])
def test_d2_times_without_a_utc_form_are_invalid_input(client, world, when, url, param):
    r = client.get(f"{A}{url}", params={param: when}, headers=world.headers("operator"))
    problem = assert_problem(r, 422, "invalid-input", "invalid_input")
    assert [e["field"] for e in problem["errors"]] == [param]


# --------------------------------------------------------------------- D3 SCIM parsing


@pytest.fixture
def hr(world):
    world.machine("hr_a", "A", ("scim",))
    return world


def assert_scim_error(r, status: int, scim_type: str | None) -> dict:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/scim+json")
    body = r.json()
    assert body["schemas"] == [SCIM_ERROR] and body["status"] == str(status)
    assert body.get("scimType") == scim_type
    return body


def test_d3_scim_bodies_of_wrong_types_are_400(client, hr):
    h = hr.headers("hr_a")
    email = f"s1@{hr.u}.go.th"
    for body in (
        {"userName": email, "password": 12345678901234567},
        {"emails": ["x"]},
        {"userName": email, "name": "bob"},
        {"userName": email, ENT: "x"},
        {"userName": 5},
        {"userName": email, "active": "false"},
        {"userName": email, "name": {"givenName": ["a"]}},
        {"userName": email, "externalId": {"a": 1}},
    ):
        assert_scim_error(client.post(f"{S}/Users", json=body, headers=h), 400, "invalidValue")
    r = client.post(
        f"{S}/Users",
        content=b"[" * 100_000 + b"]" * 100_000,
        headers={**h, "Content-Type": "application/scim+json"},
    )
    assert_scim_error(r, 400, "invalidSyntax")


def test_d3_scim_patch_and_filter_of_wrong_types_are_400(client, hr):
    h = hr.headers("hr_a")
    uid = hr.accounts["user_a"].id
    ops = {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {ENT: "x"}}]}
    assert_scim_error(client.patch(f"{S}/Users/{uid}", json=ops, headers=h), 400, "invalidValue")
    for f in (
        'meta.lastModified gt "0001-01-01T00:00:00+01:00"',
        'meta.lastModified lt "9999-12-31T23:59:59-01:00"',
        'userName eq "a\\u0000b"',  # NUL: PostgreSQL refuses it in text (was a 500)
    ):
        r = client.get(f"{S}/Users", params={"filter": f}, headers=h)
        assert_scim_error(r, 400, "invalidFilter")


# -------------------------------------------------------- D4 SCIM changes are versioned


def test_d4_scim_external_id_change_bumps_etag_and_is_audited(client, db, hr):
    h = hr.headers("hr_a")
    uid = str(hr.accounts["user_a"].id)
    old = client.get(f"{S}/Users/{uid}", headers=h).headers["etag"]
    ops = {
        "schemas": [PATCH],
        "Operations": [{"op": "replace", "path": "externalId", "value": "E1"}],
    }
    r = client.patch(f"{S}/Users/{uid}", json=ops, headers={**h, "If-Match": old})
    assert r.status_code == 200 and r.json()["externalId"] == "E1"
    assert r.headers["etag"] != old and r.json()["meta"]["version"] == r.headers["etag"]
    events = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "admin.account.updated", AuditEvent.subject == uid
        )
    ).all()
    assert [e.details for e in events] == [{"changed": ["external_id"]}]
    assert events[0].actor == hr.apps["hr_a"].client_id
    # The old tag no longer matches.
    ops["Operations"][0]["value"] = "E2"
    r = client.patch(f"{S}/Users/{uid}", json=ops, headers={**h, "If-Match": old})
    assert_scim_error(r, 412, None)
    # Removing it is a change too; the same value again is none.
    new = client.get(f"{S}/Users/{uid}", headers=h).headers["etag"]
    rm = {"schemas": [PATCH], "Operations": [{"op": "remove", "path": "externalId"}]}
    r = client.patch(f"{S}/Users/{uid}", json=rm, headers={**h, "If-Match": new})
    assert r.status_code == 200 and "externalId" not in r.json() and r.headers["etag"] != new
    again = client.patch(f"{S}/Users/{uid}", json=rm, headers=h)
    assert again.headers["etag"] == r.headers["etag"]


# ----------------------------------------------------------- D5 SCIM PATCH path/values


def test_d5_scim_patch_refuses_unknown_paths_and_bad_values(client, hr):
    h = hr.headers("hr_a")
    uid = hr.accounts["user_a"].id
    before = client.get(f"{S}/Users/{uid}", headers=h).json()

    def patch(path, value, op="replace"):
        body = {"schemas": [PATCH], "Operations": [{"op": op, "path": path, "value": value}]}
        return client.patch(f"{S}/Users/{uid}", json=body, headers=h)

    assert_scim_error(patch("nosuchattr", "x"), 400, "invalidPath")
    assert_scim_error(patch("name.nosuch", "x"), 400, "invalidPath")
    assert_scim_error(patch('emails[type eq "work"].value', "x"), 400, "invalidPath")
    assert_scim_error(patch("name.givenName", {"a": [1]}), 400, "invalidValue")
    assert_scim_error(patch("name.givenName", "A" * 5000), 400, "invalidValue")
    assert_scim_error(patch("name.givenName", "A" * 256), 400, "invalidValue")
    assert_scim_error(patch("name.givenName", "a\u0000b"), 400, "invalidValue")
    assert_scim_error(patch("preferredLanguage", "xx"), 400, "invalidValue")
    assert_scim_error(patch("displayName", "x"), 400, "mutability")
    assert_scim_error(patch("userName", "x"), 400, "invalidValue")
    assert_scim_error(patch("active", None, op="remove"), 400, "mutability")
    assert client.get(f"{S}/Users/{uid}", headers=h).json() == before
    # The limits are the admin API's: 255 characters is fine.
    r = patch("name.givenName", "A" * 255)
    assert r.status_code == 200 and r.json()["name"]["givenName"] == "A" * 255


# ---------------------------------------------------------- D6 insufficient_scope header


def test_d6_missing_scope_has_an_rfc6750_challenge(client, world):
    r = client.get(f"{A}/clients", headers=world.headers("bot_plain"))
    assert_problem(r, 403, "forbidden", "insufficient_scope")
    www = r.headers["www-authenticate"]
    assert www.startswith("Bearer ") and 'error="insufficient_scope"' in www
    assert 'scope="admin:clients"' in www
    r = client.get(f"{S}/Users", headers=world.headers("bot_a"))
    assert_scim_error(r, 403, None)
    assert 'error="insufficient_scope"' in r.headers["www-authenticate"]
    assert 'scope="scim"' in r.headers["www-authenticate"]
    # A missing role is not a scope problem: no challenge.
    r = client.get(f"{A}/accounts", headers=world.headers("nobody"))
    assert r.status_code == 403 and "www-authenticate" not in r.headers


def test_step_up_is_401_with_the_rfc9470_challenge_on_scim_too(client, world):
    tok = world.person_token(world.accounts["admin_a"], acr=world.services.settings.acr_level1)
    r = client.get(f"{S}/Users", headers={"Authorization": f"Bearer {tok}"})
    assert_scim_error(r, 401, None)
    assert 'error="insufficient_user_authentication"' in r.headers["www-authenticate"]


# ------------------------------------------------------------ D7 every problem has code


def test_d7_framework_errors_have_a_code_and_documented_type(client, world):
    h = world.headers("operator")
    r = client.post(
        f"{A}/accounts",
        content=b"[" * 5000 + b"]" * 5000,
        headers={**h, "Content-Type": "application/json"},
    )
    assert_problem(r, 400, "bad-request", "bad_request")
    assert_problem(client.get(f"{A}/nope", headers=h), 404, "not-found", "not_found")
    r = client.put(f"{A}/accounts", headers=h)
    assert_problem(r, 405, "method-not-allowed", "method_not_allowed")
