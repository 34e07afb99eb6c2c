"""Refused token requests (issue 16, item 6): one invalid_client answer whoever asks, a
logged and audited trace of every refusal without a credential in it, and a bound on how
many of them reach the audit chain (idp/oidc/refusals.py)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from idp import migrate
from idp.agencies import service as agencies
from idp.audit.models import AuditEvent
from idp.clients import service as clients
from idp.main import create_app
from idp.oidc import refusals
from idp.oidc import server as oidc_server
from idp.services import Services
from tests.conftest import make_settings

CB = "https://app.example.go.th/cb"


class App:
    def __init__(self, http: TestClient, services: Services) -> None:
        self.http, self.services = http, services
        self.ids: dict[str, str] = {}
        self.secrets: dict[str, str] = {}

    def refused(self) -> list[AuditEvent]:
        with self.services.sessions() as db:
            rows = list(
                db.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.type == "oidc.token.refused")
                    .order_by(AuditEvent.seq)
                )
            )
            db.expunge_all()
            return rows

    def everything_audited(self) -> str:
        with self.services.sessions() as db:
            return json.dumps(
                [
                    [e.actor, e.client_id, e.subject, e.details]
                    for e in db.scalars(select(AuditEvent))
                ],
                ensure_ascii=False,
            )


@pytest.fixture
def app(tmp_path, monkeypatch) -> Iterator[App]:
    url = f"sqlite:///{tmp_path / 'refusals.db'}"
    migrate.upgrade(url)
    settings = make_settings(url)
    services = Services(settings)
    with services.sessions.begin() as db:
        agencies.create(db, agencies.NewAgency(code="ref", name_th="ก", name_en="Ref"))
    made = {}
    with services.sessions.begin() as db:
        for name, kw in {
            "machine": {"grant_types": ("client_credentials",), "scopes": ("govid",)},
            "post": {"redirect_uris": (CB,), "auth_method": "client_secret_post"},
        }.items():
            c, secret = clients.create(
                db, clients.NewClient(agency_code="ref", name_th="แอป", name_en=name, **kw)
            )
            made[name] = (c.client_id, secret, c.agency_id)
    # A fresh Authlib server (and so a fresh refusal gate) for this test.
    monkeypatch.setattr(oidc_server, "_SERVER", None)
    with TestClient(create_app(settings, services, start_workers=False)) as http:
        a = App(http, services)
        for name, (cid, secret, _agency) in made.items():
            a.ids[name], a.secrets[name] = cid, secret
        a.agency_id = made["machine"][2]
        yield a
    services.close()


def token(app: App, data: dict, auth=None):
    return app.http.post("/token", data=data, auth=auth)


def test_every_invalid_client_answer_is_the_same(app):
    cc = {"grant_type": "client_credentials"}
    post_id, post_secret = app.ids["post"], app.secrets["post"]
    answers = [
        token(app, cc, auth=("no-such-client", "whatever")),  # unknown id, Basic
        token(app, cc, auth=(app.ids["machine"], "wrong")),  # wrong secret, Basic
        token(app, {**cc, "client_id": "no-such-client", "client_secret": "x"}),  # unknown, post
        token(  # wrong secret, post
            app,
            {
                "grant_type": "refresh_token",
                "refresh_token": "r",
                "client_id": post_id,
                "client_secret": "wrong",
            },
        ),
        token(  # the right secret by a method the client is not registered for
            app,
            {"grant_type": "refresh_token", "refresh_token": "r"},
            auth=(post_id, post_secret),
        ),
        token(app, cc),  # no authentication at all
    ]
    first = answers[0]
    assert first.status_code == 401 and first.json()["error"] == "invalid_client"
    for r in answers:
        assert (r.status_code, r.json()) == (first.status_code, first.json())
        assert r.headers["www-authenticate"] == first.headers["www-authenticate"]
        assert r.headers["cache-control"] == "no-store"
    description = first.json()["error_description"]
    assert "client_secret" not in description and "exist" not in description
    assert "none" not in description and "private_key_jwt" not in description


def test_refusals_are_logged_and_audited_without_credentials(app, caplog):
    caplog.set_level(logging.INFO, logger="idp.oidc.token")
    machine = app.ids["machine"]
    token(app, {"grant_type": "client_credentials"}, auth=(machine, "s3cr3t-guess-1"))
    token(app, {"grant_type": "client_credentials"}, auth=("probe-client-xyz", "s3cr3t-guess-2"))
    token(
        app,
        {"grant_type": "password", "username": "a@b.go.th", "password": "hunter2-Pass"},
        auth=(machine, app.secrets["machine"]),
    )
    token(
        app,
        {
            "grant_type": "refresh_token",
            "refresh_token": "stolen-refresh-value",
            "client_id": app.ids["post"],
            "client_secret": app.secrets["post"],
        },
    )
    events = app.refused()
    assert [(e.outcome, e.details["error"]) for e in events] == [
        ("refused", "invalid_client"),
        ("refused", "invalid_client"),
        ("refused", "unsupported_grant_type"),
        ("refused", "invalid_grant"),
    ]
    wrong_secret, unknown, grant_type, bad_refresh = events
    # A registered client is named, with its agency (whose auditors then see it).
    assert wrong_secret.client_id == machine and wrong_secret.agency_id == app.agency_id
    assert wrong_secret.details["reason"].startswith("authentication_failed")
    assert wrong_secret.details["grant_type"] == "client_credentials"
    # An id that names no client is not written anywhere (it is the caller's string).
    assert unknown.client_id is None and unknown.details["reason"] == "unknown_client"
    assert grant_type.client_id == machine and grant_type.details["grant_type"] == "password"
    assert bad_refresh.client_id == app.ids["post"]
    trail = app.everything_audited()
    for secret in (
        "s3cr3t-guess-1",
        "s3cr3t-guess-2",
        "hunter2-Pass",
        "stolen-refresh-value",
        "probe-client-xyz",
        app.secrets["machine"],
        app.secrets["post"],
    ):
        assert secret not in trail
        assert secret not in caplog.text or secret == "probe-client-xyz"
    logged = [r for r in caplog.records if r.getMessage().startswith("token request refused")]
    assert len(logged) == 4 and "error=invalid_grant" in logged[-1].getMessage()


def test_an_issued_token_writes_no_refusal(app):
    r = token(
        app, {"grant_type": "client_credentials"}, auth=(app.ids["machine"], app.secrets["machine"])
    )
    assert r.status_code == 200, r.text
    assert app.refused() == []


def test_a_flood_of_refusals_reaches_the_audit_chain_only_boundedly(app, caplog):
    caplog.set_level(logging.INFO, logger="idp.oidc.token")
    gate = refusals.RefusalGate(per_key=3, per_process=5)
    oidc_server.server_for(None).refusal_gate = gate  # the process's server
    for n in range(8):  # one address, one client
        r = token(app, {"grant_type": "client_credentials"}, auth=(app.ids["machine"], f"g{n}"))
        assert r.status_code == 401
    for n in range(8):  # unknown ids: another key, until the process bound
        token(app, {"grant_type": "client_credentials"}, auth=(f"nobody-{n}", "x"))
    events = app.refused()
    assert [e.client_id for e in events] == [app.ids["machine"]] * 3 + [None] * 2
    # ...but every one of them is in the log.
    assert len([r for r in caplog.records if "refused" in r.getMessage()]) >= 16


def test_the_next_recorded_refusal_says_how_many_were_not():
    now = [0.0]
    gate = refusals.RefusalGate(per_key=2, per_process=3, window=60, clock=lambda: now[0])
    a, b = ("192.0.2.1", "app"), ("192.0.2.2", None)
    assert [gate.admit(a) for _ in range(4)] == [0, 0, None, None]
    # The next one recorded (another key) carries the two not recorded before it.
    assert [gate.admit(b) for _ in range(3)] == [2, None, None]  # 3 in all this window
    now[0] = 61.0  # a new window
    assert gate.admit(a) == 2 and gate.admit(a) == 0
    small = refusals.RefusalGate(max_keys=1, clock=lambda: 0.0)
    assert small.admit(a) == 0 and small.admit(b) is None  # memory is bounded too
