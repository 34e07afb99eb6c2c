"""Per-agency LDAP federation through the admin API (issue 20), on both databases, against
a real slapd (StartTLS, its own CA): operators set, read and test the settings; the test
binds with a timeout and reports success or a specific failure, audited, and is guarded
like back-channel logout (only the stored servers, public addresses unless allowed).
Agency admins read their subtree's settings only; another ministry's agency is 404."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.directory import manage_federation as fedapi
from idp.outbound import OutboundPolicy
from tests.ldap.conftest import (  # noqa: F401 (fixtures)
    AGENCY_PEOPLE,
    AGENCY_USERS,
    SERVICE_DN,
    SERVICE_PASSWORD,
    agency_slapd,
    agency_tls,
    slapd_installed,
)

A = "/admin/v1/agencies"


@pytest.fixture
def loopback_allowed(monkeypatch):
    """The test directory is on loopback: allowed by name, as an operator would."""
    monkeypatch.setattr(
        fedapi,
        "outbound_policy",
        lambda _s: OutboundPolicy(allowed_hosts=frozenset({"127.0.0.1", "localhost"})),
    )


def _settings(slapd, ca, **kw) -> dict:
    body = {
        "servers": [slapd.url],
        "start_tls": True,
        "ca_pem": ca,
        "search_base": AGENCY_PEOPLE,
        "service_bind_dn": SERVICE_DN,
        "service_password": SERVICE_PASSWORD,
        "timeout_seconds": 2,
    }
    body.update(kw)
    return body


def _tests(db) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "admin.agency.federation_tested")
            .order_by(AuditEvent.seq)
        )
    )


def test_operator_sets_and_tests_the_connection(
    client,
    db,
    world,
    agency_slapd,  # noqa: F811
    agency_tls,  # noqa: F811
    loopback_allowed,
):
    op = world.headers("operator")
    a = world.agencies["A"]
    ca = agency_tls["ca"].read_text()
    assert client.get(f"{A}/{a.id}/federation", headers=op).status_code == 404
    r = client.put(f"{A}/{a.id}/federation", json=_settings(agency_slapd, ca), headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["service_password"] == "set" and r.json()["ca_pem"] is True
    assert SERVICE_PASSWORD not in r.text
    got = client.get(f"{A}/{a.id}/federation", headers=world.headers("admin_a"))
    assert got.status_code == 200 and got.json()["servers"] == [agency_slapd.url]

    # The service account binds.
    r = client.post(f"{A}/{a.id}/federation/test", headers=op)
    assert r.status_code == 200, r.text
    assert r.json()["ok"] is True and r.json()["reason"] == "ok"
    assert r.json()["server"] == agency_slapd.url
    # A person's sign-in as the login page makes it; a wrong password says so.
    password, _mail = AGENCY_USERS["somchai"]
    r = client.post(
        f"{A}/{a.id}/federation/test",
        json={"login": "somchai@agency.go.th", "password": password},
        headers=op,
    )
    assert r.json()["ok"] is True
    r = client.post(
        f"{A}/{a.id}/federation/test",
        json={"login": "somchai@agency.go.th", "password": "wrong password here"},
        headers=op,
    )
    assert r.json() == {**r.json(), "ok": False, "reason": "invalid_credentials"}
    # A wrong service password: a specific failure, not "unreachable".
    client.put(
        f"{A}/{a.id}/federation",
        json=_settings(agency_slapd, ca, service_password="not the password"),
        headers=op,
    )
    r = client.post(f"{A}/{a.id}/federation/test", headers=op)
    assert r.json()["ok"] is False and r.json()["reason"] == "service_bind_refused"
    # Without the CA: null keeps the stored bundle (the console does not show it again).
    body = _settings(agency_slapd, ca)
    del body["ca_pem"]
    r = client.put(f"{A}/{a.id}/federation", json=body, headers=op)
    assert r.json()["ca_pem"] is True
    assert client.post(f"{A}/{a.id}/federation/test", headers=op).json()["reason"] == "ok"
    # Audited, with the outcome and the reason; never a password.
    events = _tests(db)[-5:]
    assert [e.outcome for e in events] == ["success", "success", "failure", "failure", "success"]
    assert events[-2].details["reason"] == "service_bind_refused"
    assert events[-1].agency_id == a.id and events[-1].actor == str(world.accounts["operator"].id)
    assert password not in str([e.details for e in events])


def test_a_server_that_does_not_answer_is_unreachable_within_the_timeout(
    client,
    db,
    world,
    agency_tls,  # noqa: F811
    loopback_allowed,
):
    import socket

    s = socket.socket()  # a port that accepts nothing: bound, never listening
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    op = world.headers("operator")
    a = world.agencies["B"]
    body = {
        "servers": [f"ldap://127.0.0.1:{port}"],
        "ca_pem": agency_tls["ca"].read_text(),
        "search_base": AGENCY_PEOPLE,
        "timeout_seconds": 1,
    }
    assert client.put(f"{A}/{a.id}/federation", json=body, headers=op).status_code == 200
    r = client.post(f"{A}/{a.id}/federation/test", headers=op)
    assert r.json()["ok"] is False and r.json()["reason"] == "unreachable"


def test_private_addresses_are_refused_unless_allowed(
    client,
    db,
    world,
    agency_tls,  # noqa: F811
    monkeypatch,
):
    """IDP_ENV is not dev here: a directory on loopback or a private network is reached
    only when its host is in IDP_OUTBOUND_ALLOWED_HOSTS; nothing is connected to."""
    op = world.headers("operator")
    a = world.agencies["A1"]
    body = {
        "servers": ["ldaps://10.1.2.3:636", "ldaps://127.0.0.1:1"],
        "search_base": AGENCY_PEOPLE,
    }
    assert client.put(f"{A}/{a.id}/federation", json=body, headers=op).status_code == 200
    tried = []
    monkeypatch.setattr(fedapi, "connect", lambda *a, **k: tried.append(a))
    r = client.post(f"{A}/{a.id}/federation/test", headers=op)
    assert r.json()["ok"] is False and r.json()["reason"] == "refused_by_outbound_policy"
    assert {x["reason"] for x in r.json()["refused_servers"]} == {"non_public_address"}
    assert tried == []
    assert _tests(db)[-1].details["refused_servers"] == body["servers"]


def test_only_operators_test_or_set_and_other_ministries_are_404(
    client,
    world,
    agency_slapd,  # noqa: F811
    agency_tls,  # noqa: F811
    loopback_allowed,
):
    op = world.headers("operator")
    a, o = world.agencies["A"], world.agencies["O"]
    ca = agency_tls["ca"].read_text()
    for agency in (a, o):
        assert (
            client.put(
                f"{A}/{agency.id}/federation", json=_settings(agency_slapd, ca), headers=op
            ).status_code
            == 200
        )
    admin = world.headers("admin_a")
    assert client.post(f"{A}/{a.id}/federation/test", headers=admin).status_code == 403
    r = client.put(f"{A}/{a.id}/federation", json=_settings(agency_slapd, ca), headers=admin)
    assert r.status_code == 403
    assert client.get(f"{A}/{o.id}/federation", headers=admin).status_code == 404
    assert client.post(f"{A}/{o.id}/federation/test", headers=admin).status_code in (403, 404)
    auditor = world.headers("auditor_a")
    assert client.post(f"{A}/{a.id}/federation/test", headers=auditor).status_code == 403
    # Unknown fields and a password as a server are refused before anything else.
    r = client.put(f"{A}/{a.id}/federation", json={"servers": [], "x": 1}, headers=op)
    assert r.status_code == 422
