"""/admin/v1/clients with the registration rules shared with the CLI (issue 16, item 4):
a client's ID token algorithm and token lifetimes, refused above the server's maximum,
and redirect-URI changes audited with their values before and after."""

from __future__ import annotations

from sqlalchemy import select

from idp.audit.models import AuditEvent

A = "/admin/v1"


def register(client, world, **extra) -> dict:
    body = {
        "agency": world.agencies["A"].code,
        "name_th": "ระบบลา",
        "name_en": "Leave",
        "redirect_uris": ["https://leave.a.go.th/cb"],
        **extra,
    }
    r = client.post(f"{A}/clients", json=body, headers=world.headers("admin_a"))
    assert r.status_code == 201, r.text
    return r.json()


def test_id_token_algorithm_and_lifetimes_are_registered_and_shown(client, world):
    made = register(client, world, id_token_signed_response_alg="ES256", refresh_token_ttl=3600)
    assert made["id_token_signed_response_alg"] == "ES256"
    assert made["refresh_token_ttl"] == 3600 and made["access_token_ttl"] is None
    h = world.headers("admin_a")
    got = client.get(f"{A}/clients/{made['client_id']}", headers=h)
    r = client.patch(
        f"{A}/clients/{made['client_id']}",
        json={"id_token_signed_response_alg": "RS256", "refresh_token_ttl": None},
        headers={**h, "If-Match": got.headers["etag"]},
    )
    assert r.status_code == 200, r.text
    assert r.json()["id_token_signed_response_alg"] == "RS256"
    assert r.json()["refresh_token_ttl"] is None  # back to the server's


def test_a_lifetime_above_the_server_maximum_is_refused_by_name(client, world):
    h = world.headers("admin_a")
    limit = world.services.settings.refresh_token_ttl
    r = client.post(
        f"{A}/clients",
        json={
            "agency": world.agencies["A"].code,
            "name_th": "x",
            "name_en": "x",
            "redirect_uris": ["https://x.a.go.th/cb"],
            "refresh_token_ttl": limit + 1,
        },
        headers=h,
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["type"] == "urn:govid:problem:invalid-input"
    assert body["code"] == "lifetime_above_maximum" and str(limit) in body["detail"]
    made = register(client, world)
    etag = client.get(f"{A}/clients/{made['client_id']}", headers=h).headers["etag"]
    r = client.patch(
        f"{A}/clients/{made['client_id']}",
        json={"refresh_token_ttl": limit + 1},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 422 and r.json()["code"] == "lifetime_above_maximum"
    r = client.patch(
        f"{A}/clients/{made['client_id']}",
        json={"id_token_signed_response_alg": "HS256"},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 422


def test_redirect_uri_changes_are_audited_before_and_after(client, db, world):
    made = register(client, world)
    h = world.headers("admin_a")
    etag = client.get(f"{A}/clients/{made['client_id']}", headers=h).headers["etag"]
    r = client.patch(
        f"{A}/clients/{made['client_id']}",
        json={"redirect_uris": ["https://leave.a.go.th:8443/cb"]},
        headers={**h, "If-Match": etag},
    )
    assert r.status_code == 200, r.text
    ev = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "admin.client.updated",
            AuditEvent.client_id == made["client_id"],
        )
    ).one()
    assert ev.details == {
        "changed": ["redirect_uris"],
        "redirect_uris": {
            "before": ["https://leave.a.go.th/cb"],
            "after": ["https://leave.a.go.th:8443/cb"],
        },
    }


def test_an_apps_privacy_notice_is_https_audited_and_removable(client, db, world):
    """policy_uri (OIDC Dynamic Client Registration 1.0 §2): linked from the consent
    page, so https only; set at registration or later, audited before and after, null
    removes it."""
    h = world.headers("admin_a")
    notice = "https://leave.a.go.th/privacy"
    for bad in ("http://leave.a.go.th/privacy", "javascript:alert(1)", "https://u:p@a.go.th/x"):
        r = client.post(
            f"{A}/clients",
            json={
                "agency": world.agencies["A"].code,
                "name_th": "x",
                "name_en": "x",
                "redirect_uris": ["https://x.a.go.th/cb"],
                "policy_uri": bad,
            },
            headers=h,
        )
        assert r.status_code == 422, (bad, r.text)
    made = register(client, world, policy_uri=notice)
    assert made["policy_uri"] == notice
    created = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "admin.client.created", AuditEvent.client_id == made["client_id"]
        )
    ).one()
    assert created.details["policy_uri"] == notice
    url = f"{A}/clients/{made['client_id']}"
    etag = client.get(url, headers=h).headers["etag"]
    r = client.patch(
        url, json={"policy_uri": "http://leave.a.go.th/p"}, headers={**h, "If-Match": etag}
    )
    assert r.status_code == 422 and r.json()["code"] == "invalid_input", r.text
    r = client.patch(url, json={"policy_uri": None}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["policy_uri"] is None, r.text
    assert client.get(url, headers=h).json()["policy_uri"] is None
    ev = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "admin.client.updated", AuditEvent.client_id == made["client_id"]
        )
    ).one()
    assert ev.details == {
        "changed": ["policy_uri"],
        "policy_uri": {"before": notice, "after": None},
    }
