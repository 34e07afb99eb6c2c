"""`idp clients show | update | rotate-secret | disable | enable`: what an operator sees
and what the database and the audit trail then hold (issue 16, item 4)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.cli import app
from idp.clients.models import Client
from idp.config import Settings
from idp.crypto import sha256_hex
from idp.services import Services
from tests.oidc.test_headers_and_cli import cli_env  # noqa: F401 (fixture)

CB = "https://hr.a.go.th:8443/cb"


def invoke(runner, *args):
    return runner.invoke(app, [str(a) for a in args])


def as_json(runner, *args) -> tuple[int, dict]:
    r = invoke(runner, *args, "--json")
    return r.exit_code, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def hr(cli_env):  # noqa: F811
    code, out = as_json(
        cli_env, "clients", "create", "--agency", "a", "--name-en", "HR", "--redirect-uri", CB
    )
    assert code == 0, out
    return cli_env, out


def stored(client_id: str) -> tuple[Client, list[AuditEvent]]:
    services = Services(Settings())
    try:
        with services.sessions() as db:
            row = db.scalar(select(Client).where(Client.client_id == client_id))
            events = list(
                db.scalars(
                    select(AuditEvent)
                    .where(AuditEvent.client_id == client_id)
                    .order_by(AuditEvent.seq)
                )
            )
            db.expunge_all()
            return row, events
    finally:
        services.close()


def test_a_wrong_redirect_port_is_fixed_in_place_and_audited_with_before_and_after(hr):
    runner, made = hr
    cid = made["client_id"]
    fixed = "https://hr.a.go.th/cb"
    code, out = as_json(runner, "clients", "update", cid, "--redirect-uri", fixed)
    assert code == 0, out
    assert out["client_id"] == cid and out["redirect_uris"] == [fixed]
    assert out["changed"] == ["redirect_uris"] and out["version"] == made["version"] + 1
    row, events = stored(cid)
    assert row.redirect_uris == [fixed]
    ev = events[-1]
    assert ev.type == "admin.client.updated" and ev.actor == "cli"
    assert ev.details["redirect_uris"] == {"before": [CB], "after": [fixed]}
    # Human output says what changed, old and new.
    r = invoke(runner, "clients", "update", cid, "--add-redirect-uri", CB)
    assert r.exit_code == 0 and "updated" in r.stdout and CB in r.stdout and fixed in r.stdout
    r = invoke(runner, "clients", "update", cid, "--add-redirect-uri", CB)
    assert r.exit_code == 0 and "nothing changed" in r.stdout
    assert len(stored(cid)[1]) == len(events) + 1  # the no-op wrote nothing


def test_show_prints_the_registration_never_the_secret(hr):
    runner, made = hr
    r = invoke(runner, "clients", "show", made["client_id"])
    assert r.exit_code == 0, r.output
    assert CB in r.stdout and "RS256" in r.stdout and "server default (28800 s)" in r.stdout
    assert made["client_secret"] not in r.stdout
    code, out = as_json(runner, "clients", "show", made["client_id"])
    assert code == 0 and out["agency_code"] == "a" and out["refresh_token_ttl"] is None
    assert "client_secret" not in out and made["client_secret"] not in json.dumps(out)


def test_id_token_algorithm_and_lifetimes_within_the_server_maximum(hr):
    runner, made = hr
    cid = made["client_id"]
    code, out = as_json(
        runner,
        "clients",
        "update",
        cid,
        "--id-token-alg",
        "ES256",
        "--refresh-token-ttl",
        3600,
        "--access-token-ttl",
        300,
    )
    assert code == 0, out
    assert out["id_token_signed_response_alg"] == "ES256"
    assert (out["refresh_token_ttl"], out["access_token_ttl"]) == (3600, 300)
    # Above the server's maximum (IDP_REFRESH_TOKEN_TTL, 8 h): refused, by name.
    code, out = as_json(runner, "clients", "update", cid, "--refresh-token-ttl", 9 * 3600)
    assert code == 2
    assert out["error"] == "lifetime_above_maximum" and out["field"] == "refresh_token_ttl"
    assert "28800" in out["message"]
    code, out = as_json(runner, "clients", "update", cid, "--id-token-alg", "HS256")
    assert code == 2 and out["field"] == "id_token_signed_response_alg"
    row, _ = stored(cid)
    assert (row.id_token_signed_response_alg, row.refresh_token_ttl) == ("ES256", 3600)
    code, out = as_json(runner, "clients", "update", cid, "--default-refresh-token-ttl")
    assert code == 0 and out["refresh_token_ttl"] is None
    # create takes the same options and the same limits.
    code, out = as_json(
        runner,
        "clients",
        "create",
        "--agency",
        "a",
        "--name-en",
        "Long",
        "--redirect-uri",
        CB,
        "--refresh-token-ttl",
        10**6,
    )
    assert code == 2 and out["error"] == "lifetime_above_maximum"


@pytest.mark.parametrize(
    "args, field, message",
    [
        (["--redirect-uri", "http://hr.a.go.th/cb"], "redirect_uris", "https"),
        (["--remove-redirect-uri", CB], "redirect_uris", "needs a redirect URI"),
        (["--min-acr", "urn:other"], "min_acr", "urn:govid:acr:1"),
        (["--scope", "api:read"], "scopes", "unknown scope"),
        (["--grant-type", "password"], "grant_types", "unsupported grant type"),
        (["--name-en", " "], "name_en", "must not be empty"),
        # as the admin API (422): an empty URI is no way to remove it
        (["--backchannel-logout-uri", ""], "backchannel_logout_uri", "is empty"),
    ],
)
def test_update_obeys_the_registration_rules(hr, args, field, message):
    runner, made = hr
    code, out = as_json(runner, "clients", "update", made["client_id"], *args)
    assert code == 2, out
    assert out["field"] == field and message in out["message"]
    row, _ = stored(made["client_id"])
    assert row.redirect_uris == [CB] and row.version == made["version"]


def test_rotate_secret_shows_the_new_one_once_and_the_old_one_stops(hr):
    runner, made = hr
    cid = made["client_id"]
    code, out = as_json(runner, "clients", "rotate-secret", cid)
    assert code == 0 and len(out["client_secret"]) >= 43
    row, events = stored(cid)
    assert row.secret_hash == sha256_hex(out["client_secret"]) != sha256_hex(made["client_secret"])
    assert events[-1].type == "admin.client.secret_rotated"
    assert out["client_secret"] not in json.dumps([e.details for e in events])
    r = invoke(runner, "clients", "rotate-secret", cid)
    assert r.exit_code == 0 and "shown only now" in r.stdout
    code, pub = as_json(
        runner,
        "clients",
        "create",
        "--agency",
        "a",
        "--name-en",
        "SPA",
        "--auth-method",
        "none",
        "--redirect-uri",
        "http://127.0.0.1:5000/cb",
    )
    code, out = as_json(runner, "clients", "rotate-secret", pub["client_id"])
    assert code == 4 and out["error"] == "conflict"


def test_disable_and_enable(hr):
    runner, made = hr
    cid = made["client_id"]
    code, out = as_json(runner, "clients", "disable", cid)
    assert code == 0 and out["status"] == "disabled" and out["changed"] is True
    code, out = as_json(runner, "clients", "disable", cid)
    assert code == 0 and out["changed"] is False
    code, out = as_json(runner, "clients", "update", cid, "--name-en", "HR 2")
    assert code == 4 and out["error"] == "conflict" and "enable it first" in out["message"]
    code, out = as_json(runner, "clients", "rotate-secret", cid)
    assert code == 4
    r = invoke(runner, "clients", "enable", cid)
    assert r.exit_code == 0 and f"{cid} enabled" in r.stdout
    row, events = stored(cid)
    assert row.status == "active"
    assert [e.type for e in events][-2:] == ["admin.client.disabled", "admin.client.enabled"]


def test_unknown_client_and_empty_update(hr):
    runner, made = hr
    for cmd in (["show"], ["update", "--name-en", "X"], ["rotate-secret"], ["disable"]):
        code, out = as_json(runner, "clients", cmd[0], "no-such-app", *cmd[1:])
        assert code == 3 and out["error"] == "not_found", cmd
    r = invoke(runner, "clients", "update", made["client_id"])
    assert r.exit_code == 2 and "nothing to change" in r.stderr


def test_every_client_id_works_as_a_command_line_argument(cli_env, monkeypatch):  # noqa: F811
    """A generated id starting with '-' read as an option: `idp clients rotate-secret
    -Xy…` failed as a usage error for one client in 64. Generated ids never start with
    '-'; an operator's own choice is RFC 6749's printable ASCII, not starting with '-'."""
    import secrets

    drawn = iter(["-starts-with-a-dash", "Zm9vYmFyYmF6cXV4"])
    real = secrets.token_urlsafe
    # client ids are drawn from 16 bytes; secrets (32 bytes) stay random
    monkeypatch.setattr(secrets, "token_urlsafe", lambda n=32: next(drawn) if n == 16 else real(n))
    code, made = as_json(
        cli_env, "clients", "create", "--agency", "a", "--name-en", "HR", "--redirect-uri", CB
    )
    assert code == 0 and made["client_id"] == "Zm9vYmFyYmF6cXV4", made
    monkeypatch.setattr(secrets, "token_urlsafe", real)
    code, out = as_json(cli_env, "clients", "show", made["client_id"])
    assert code == 0 and out["client_id"] == made["client_id"]
    for bad in ("-dash-first", " padded", "tab\there", "ไทย", "x" * 129):
        code, out = as_json(
            cli_env, "clients", "create", "--agency", "a", "--name-en", "HR",
            "--redirect-uri", CB, f"--client-id={bad}",
        )  # fmt: skip
        assert code == 2 and out["error"] == "invalid_input", (bad, out)
        assert out.get("field") == "client_id", out
        assert stored(bad)[0] is None
    code, out = as_json(
        cli_env, "clients", "create", "--agency", "a", "--name-en", "HR",
        "--redirect-uri", CB, "--client-id=urn:go.th:hr portal/v2",
    )  # fmt: skip
    assert code == 0 and out["client_id"] == "urn:go.th:hr portal/v2", out


def test_an_apps_privacy_notice_from_the_cli(hr):
    runner, made = hr
    cid = made["client_id"]
    notice = "https://hr.a.go.th/privacy"
    code, out = as_json(runner, "clients", "update", cid, "--policy-uri", "http://hr.a.go.th/p")
    assert code == 2 and "https" in json.dumps(out), out
    code, out = as_json(runner, "clients", "update", cid, "--policy-uri", notice)
    assert code == 0 and out["policy_uri"] == notice and out["changed"] == ["policy_uri"], out
    r = invoke(runner, "clients", "show", cid)
    assert r.exit_code == 0 and notice in r.stdout and "privacy notice" in r.stdout
    r = invoke(runner, "clients", "update", cid, "--policy-uri", notice, "--no-policy-uri")
    assert r.exit_code == 2
    code, out = as_json(runner, "clients", "update", cid, "--no-policy-uri")
    assert code == 0 and out["policy_uri"] is None, out
    row, events = stored(cid)
    assert row.policy_uri is None
    assert [e.details.get("policy_uri") for e in events if e.type == "admin.client.updated"] == [
        {"before": None, "after": notice},
        {"before": notice, "after": None},
    ]
