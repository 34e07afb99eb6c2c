"""The `idp` command as an operator uses it: readable output, --json, clear errors."""

import json
import os
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from idp import migrate
from idp.cli import app
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY

runner = CliRunner()


@pytest.fixture
def env(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    for k, v in {
        "IDP_DATABASE_URL": url,
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": TEST_DATA_KEY,
        "IDP_ARGON2_MEMORY_KIB": "8192",
        "IDP_ARGON2_TIME_COST": "1",
    }.items():
        monkeypatch.setenv(k, v)
    return url


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def run_json(*args, input=None):
    r = run(*args, "--json", input=input)
    return r, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def migrated(env):
    r = run("db", "upgrade")
    assert r.exit_code == 0, r.output
    return env


def test_bootstrap_is_idempotent_and_shows_credentials_once(migrated):
    r, first = run_json("bootstrap")
    assert r.exit_code == 0
    assert first["created"] is True
    assert [a["role"] for a in first["accounts"]] == ["operator", "agency_admin", "auditor"]
    assert all(len(a["password"]) >= 20 for a in first["accounts"])
    # Each demo role can sign in at level 2 (issue 20): an authenticator app's secret.
    assert all(a["otpauth_uri"].startswith("otpauth://totp/") for a in first["accounts"])
    assert first["client"]["client_id"] == "demo-app" and first["client"]["client_secret"]
    assert first["console"]["client_id"] == "govid-admin-console"
    assert first["console"]["client_secret"]
    r, second = run_json("bootstrap")
    assert r.exit_code == 0 and second["created"] is False and second["accounts"] == []
    assert second["console"] is None
    _, listed = run_json("agencies", "list")
    assert [a["code"] for a in listed["agencies"]] == [
        "demo-ministry",
        "demo-department",
        "demo-office",
    ]
    _, accounts = run_json("accounts", "list")
    assert accounts["count"] == 3
    human = run("bootstrap")
    assert "already present" in human.stdout


def test_agencies_and_accounts_round_trip(migrated):
    r, ministry = run_json(
        "agencies",
        "create",
        "--code",
        "moi",
        "--name-th",
        "กระทรวงมหาดไทย",
        "--name-en",
        "Ministry of Interior",
        "--domain",
        "moi.go.th",
    )
    assert r.exit_code == 0 and ministry["mail_domains"] == ["moi.go.th"]
    r, dept = run_json(
        "agencies",
        "create",
        "--code",
        "dopa",
        "--name-th",
        "กรมการปกครอง",
        "--name-en",
        "Department of Provincial Administration",
        "--parent",
        "moi",
    )
    assert dept["parent_id"] == ministry["id"] and dept["depth"] == 1
    r, acc = run_json(
        "accounts",
        "create",
        "--email",
        "Somchai@MOI.go.th",
        "--agency",
        "dopa",
        "--given-name-en",
        "Somchai",
        "--citizen-id",
        "1-1037-02345-67-9",
        "--generate-password",
    )
    assert r.exit_code == 0
    assert acc["email"] == "somchai@moi.go.th" and acc["agency"] == "dopa"
    assert acc["citizen_id_last4"] == "5679" and len(acc["password"]) >= 20
    r = run("accounts", "list", "--agency", "moi")
    assert "somchai@moi.go.th" in r.stdout and "dopa" in r.stdout
    r = run("agencies", "list")
    assert "กระทรวงมหาดไทย" in r.stdout and "  dopa" in r.stdout  # indented under moi


DOMAIN = ("--domain", "x.go.th")  # an agency without mail domains gets no address


def test_password_from_stdin(migrated):
    run("agencies", "create", "--code", "a1", "--name-th", "ก", "--name-en", "A", *DOMAIN)
    r, acc = run_json(
        "accounts",
        "create",
        "--email",
        "p@x.go.th",
        "--agency",
        "a1",
        "--password-stdin",
        input="a long enough passphrase\n",
    )
    assert r.exit_code == 0 and acc["has_password"] is True and "password" not in acc


@pytest.mark.parametrize(
    "args, code, message",
    [
        (
            ["accounts", "create", "--email", "a@x.go.th", "--agency", "nope"],
            "unknown_agency",
            "unknown agency 'nope'",
        ),
        (
            [
                "accounts",
                "create",
                "--email",
                "a@x.go.th",
                "--agency",
                "base",
                "--citizen-id",
                "1103702345670",
            ],
            "invalid_citizen_id",
            "check digit",
        ),
        (
            [
                "accounts",
                "create",
                "--email",
                "a@x.go.th",
                "--agency",
                "base",
                "--citizen-id",
                "12345",
            ],
            "invalid_citizen_id",
            "13 digits, got 5",
        ),
        (
            ["accounts", "create", "--email", "not-an-email", "--agency", "base"],
            "invalid_input",
            "not a valid email",
        ),
        (
            ["accounts", "create", "--email", "DUP@x.go.th", "--agency", "base"],
            "duplicate_email",
            "already exists",
        ),
        (
            ["agencies", "create", "--code", "base", "--name-th", "ก", "--name-en", "B"],
            "duplicate_agency_code",
            "already exists",
        ),
        (
            [
                "agencies",
                "create",
                "--code",
                "c",
                "--name-th",
                "ก",
                "--name-en",
                "C",
                "--parent",
                "ghost",
            ],
            "unknown_agency",
            "ghost",
        ),
        (["accounts", "list", "--status", "zombie"], "invalid_input", "status must be one of"),
    ],
)
def test_bad_input_gives_clear_errors(migrated, args, code, message):
    run("agencies", "create", "--code", "base", "--name-th", "ก", "--name-en", "Base", *DOMAIN)
    run("accounts", "create", "--email", "dup@x.go.th", "--agency", "base")
    human = run(*args)
    assert human.exit_code not in (0, 1), human.output  # specific, non-zero
    assert message in human.stderr
    assert "Traceback" not in human.output
    r, payload = run_json(*args)
    assert r.exit_code == human.exit_code
    assert payload["error"] == code and message in payload["message"]


def test_unmigrated_database_says_what_to_do(env):
    r = run("agencies", "list")
    assert r.exit_code == 69
    assert "idp db upgrade" in r.stderr and "Traceback" not in r.output


def test_insecure_settings_refused_with_message(env, monkeypatch):
    monkeypatch.setenv("IDP_ENV", "prod")
    monkeypatch.delenv("IDP_SECRET_KEY")
    r, payload = run_json("agencies", "list")
    assert r.exit_code == 78
    assert payload["error"] == "invalid_settings" and "IDP_SECRET_KEY" in payload["message"]


def test_console_script_runs_without_traceback(env):
    """The installed `idp` entry point, in a real subprocess."""
    idp = os.path.join(os.path.dirname(sys.executable), "idp")
    r = subprocess.run(
        [idp, "db", "current", "--json"],
        capture_output=True,
        text=True,
        env=os.environ.copy(),
        timeout=60,
    )
    assert r.returncode == 0, r.stderr
    head = migrate.describe(migrate.head_revisions())
    assert json.loads(r.stdout) == {"revision": None, "head": head, "up_to_date": False}


@pytest.mark.parametrize(
    "url, message",
    [
        ("bogus://x", "not a usable database URL"),
        ("mysql://u@127.0.0.1/x", "driver is not installed"),
        ("postgresql://postgres@127.0.0.1:notaport/x", "not a usable database URL"),
        ("not a url: s3cret-db-password", "not a usable database URL"),
    ],
)
def test_malformed_database_url_is_bad_configuration(env, monkeypatch, url, message):
    """Defect 6: was a traceback (exit 1)."""
    monkeypatch.setenv("IDP_DATABASE_URL", url)
    for args in (["db", "current"], ["audit", "verify"], ["agencies", "list"]):
        human = run(*args)
        assert human.exit_code == 78 and "Traceback" not in human.output, human.output
        assert "IDP_DATABASE_URL" in human.stderr and message in human.stderr
        r, payload = run_json(*args)
        assert r.exit_code == 78 and payload["error"] == "invalid_settings"
        assert "s3cret" not in human.output + r.output  # never the URL's secrets


@pytest.mark.parametrize(
    "args, field, message",
    [
        (["audit", "export"], "output", "Missing option"),
        (["audit", "events", "--limit", "0"], "limit", "--limit"),
        (["audit", "verify", "--bogus"], None, "No such option: --bogus"),
        (["audit", "verify-export", "x.csv"], "manifest", "Missing argument"),
        (["agencies", "create", "--code", "x"], "name_th", "Missing option"),
    ],
)
def test_usage_errors_with_json_are_one_json_object(env, args, field, message):
    """Defect 7: click's usage errors printed nothing on stdout with --json."""
    r = run(*args, "--json")
    assert r.exit_code == 2
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout
    payload = json.loads(lines[0])
    assert payload["error"] == "invalid_input" and message in payload["message"]
    assert payload.get("field") == field
    human = run(*args)  # without --json: click's usage message on stderr, as before
    assert human.exit_code == 2 and not human.stdout and message.split()[0] in human.stderr


def test_exit_codes_are_the_clis_not_the_domains():
    """Domain errors carry no exit code; the CLI decides it per kind, the most specific
    kind first (an error outside the caller's scope looks missing: 3, like any other)."""
    from idp.auditing.errors import AuditChainBroken
    from idp.cli.common import exit_code_for
    from idp.errors import (
        DomainError,
        DuplicateEmail,
        InsufficientScope,
        InvalidCitizenId,
        OutsideScope,
        ProtectedAccount,
        UnknownAgency,
    )
    from idp.resources.service import InvalidTarget

    assert not hasattr(DomainError("x"), "exit_code")
    cases = {
        DomainError("x"): 1,
        InvalidCitizenId("x"): 2,
        InvalidTarget("x"): 2,
        UnknownAgency("x"): 3,
        OutsideScope("x"): 3,
        DuplicateEmail("x"): 4,
        InsufficientScope("x"): 5,
        ProtectedAccount("x", "operator"): 5,
        AuditChainBroken("x"): 65,
    }
    assert {type(e).__name__: exit_code_for(e) for e in cases} == {
        type(e).__name__: code for e, code in cases.items()
    }


def test_a_wrong_setting_is_named_by_its_own_variable_in_directory_commands(env, monkeypatch):
    """The directory commands name a wrong IDP_LDAP_* setting as such, and any other
    wrong setting by its own name (not as an IDP_LDAP_ one)."""
    assert run("db", "upgrade").exit_code == 0
    monkeypatch.setenv("IDP_ACCESS_TOKEN_TTL", "5")
    r, out = run_json("outbox", "list")
    assert r.exit_code == 78 and out["error"] == "invalid_settings"
    assert out["message"].startswith("IDP_ACCESS_TOKEN_TTL:"), out
    monkeypatch.delenv("IDP_ACCESS_TOKEN_TTL")
    monkeypatch.setenv("IDP_LDAP_URLS", "http://ldap.go.th")
    r, out = run_json("outbox", "run", "--once")
    assert r.exit_code == 78 and out["message"].startswith("IDP_LDAP_URLS:"), out
