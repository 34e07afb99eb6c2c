"""HSTS under https, and the client/key commands an operator runs."""

import json

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from idp.cli import app
from idp.crypto import sha256_hex
from idp.main import create_app
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings


def test_https_issuer_gets_hsts_and_host_prefixed_cookies(sqlite_url):
    settings = make_settings(sqlite_url, issuer="https://id.mail.go.th")
    with TestClient(
        create_app(settings, start_workers=False), base_url="https://id.mail.go.th"
    ) as c:
        r = c.get("/.well-known/openid-configuration")
        assert r.headers["strict-transport-security"].startswith("max-age=31536000")
        assert r.json()["issuer"] == "https://id.mail.go.th"
        assert app_state_cookie(c) == "__Host-govid_session"


def app_state_cookie(client) -> str:
    return client.app.state.pages.session_cookie


def test_plain_http_has_no_hsts(sqlite_url):
    with TestClient(create_app(make_settings(sqlite_url), start_workers=False)) as c:
        assert "strict-transport-security" not in c.get("/jwks").headers


@pytest.fixture
def cli_env(tmp_path, monkeypatch):
    for k, v in {
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'c.db'}",
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": TEST_DATA_KEY,
    }.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert (
        runner.invoke(
            app, ["agencies", "create", "--code", "a", "--name-th", "ก", "--name-en", "A"]
        ).exit_code
        == 0
    )
    return runner


def test_clients_create_shows_secret_once_and_stores_its_hash(cli_env):
    r = cli_env.invoke(
        app,
        [
            "clients",
            "create",
            "--agency",
            "a",
            "--name-en",
            "HR",
            "--redirect-uri",
            "https://hr.a.go.th/cb",
            "--json",
        ],
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert len(out["client_secret"]) >= 43  # 256 bits
    from idp.clients.models import Client
    from idp.config import Settings
    from idp.services import Services

    services = Services(Settings())
    with services.sessions() as db:
        row = db.query(Client).filter_by(client_id=out["client_id"]).one()
        assert row.secret_hash == sha256_hex(out["client_secret"])
    services.close()
    listed = json.loads(cli_env.invoke(app, ["clients", "list", "--json"]).stdout)
    assert out["client_secret"] not in json.dumps(listed)
    assert "client_secret" not in listed["clients"][0]


@pytest.mark.parametrize(
    "args, message",
    [
        (["--redirect-uri", "http://hr.a.go.th/cb"], "https"),
        (["--redirect-uri", "https://hr.a.go.th/cb#frag"], "fragment"),
        (["--auth-method", "magic", "--redirect-uri", "https://x.go.th/cb"], "auth method"),
        (["--auth-method", "private_key_jwt", "--redirect-uri", "https://x.go.th/cb"], "JWKS"),
    ],
)
def test_clients_create_rejects_bad_registrations(cli_env, args, message):
    r = cli_env.invoke(app, ["clients", "create", "--agency", "a", "--name-en", "X", *args])
    assert r.exit_code == 2 and message in r.stderr


def test_keys_rotate_moves_next_to_active(cli_env):
    before = {
        k["state"]: k["kid"]
        for k in json.loads(cli_env.invoke(app, ["keys", "list", "--json"]).stdout)["keys"]
        if k["alg"] == "RS256"
    }
    r = cli_env.invoke(app, ["keys", "rotate", "--alg", "RS256", "--json"])
    assert r.exit_code == 0, r.output
    result = json.loads(r.stdout)
    assert result == {"activated": [before["next"]], "retired": [before["active"]]}
    keys = json.loads(cli_env.invoke(app, ["keys", "list", "--json"]).stdout)["keys"]
    retired = next(k for k in keys if k["kid"] == before["active"])
    assert retired["state"] == "retired" and retired["published"] is True
    bad = cli_env.invoke(app, ["keys", "rotate", "--alg", "HS256"])
    assert bad.exit_code == 2 and "alg must be" in bad.stderr
