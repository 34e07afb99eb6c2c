"""`idp outbox ...` and `idp directory ...` as an operator uses them: --json, clear
errors and exit codes, never a traceback."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from idp.cli import app
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY
from tests.ldap.conftest import AGENCY_PEOPLE, AGENCY_USERS, SERVICE_DN, SERVICE_PASSWORD
from tests.ldap.test_provisioning import ldap_entries

runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, list(args), input=input)


def run_json(*args, input=None):
    r = run(*args, "--json", input=input)
    assert "Traceback" not in r.output
    return r, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.fixture
def env(tmp_path, monkeypatch, mail_slapd, ldap_base):
    values = {
        "IDP_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": TEST_DATA_KEY,
        "IDP_ARGON2_MEMORY_KIB": "8192",
        "IDP_ARGON2_TIME_COST": "1",
        "IDP_LDAP_URLS": mail_slapd.url,
        "IDP_LDAP_START_TLS": "false",
        "IDP_LDAP_ALLOW_PLAIN": "true",
        "IDP_LDAP_BIND_DN": mail_slapd.rootdn,
        "IDP_LDAP_BIND_PASSWORD": mail_slapd.rootpw,
        "IDP_LDAP_PEOPLE_DN": f"ou=people,{ldap_base}",
        "IDP_LDAP_DISABLED_DN": f"ou=disabled,{ldap_base}",
        "IDP_LDAP_RETRY_BASE_SECONDS": "0.05",
        "IDP_LDAP_RETRY_MAX_SECONDS": "0.2",
        "IDP_LDAP_PARK_AFTER": "1",
    }
    for k, v in values.items():
        monkeypatch.setenv(k, v)
    assert run("db", "upgrade").exit_code == 0
    r = run("agencies", "create", "--code", "clim", "--name-th", "ก", "--name-en", "Cli M",
            "--domain", "cli.go.th")  # fmt: skip
    assert r.exit_code == 0, r.output
    return values


def test_outbox_run_list_reconcile(env, mail_slapd, ldap_base):
    for n in ("a", "b"):
        assert (
            run("accounts", "create", "--email", f"{n}@cli.go.th", "--agency", "clim").exit_code
            == 0
        )
    r, listed = run_json("outbox", "list")
    assert r.exit_code == 0 and listed["count"] == 2 and listed["outbox"]["pending"] == 2
    assert {e["op"] for e in listed["entries"]} == {"add"}

    r, ran = run_json("outbox", "run", "--once")
    assert r.exit_code == 0, r.output
    assert ran["done"] == 2 and ran["actions"] == {"added": 2} and ran["outbox"]["pending"] == 0
    assert len(ldap_entries(mail_slapd, ldap_base)) == 2

    r, rec = run_json("directory", "reconcile", "--agency", "clim")
    assert r.exit_code == 0 and rec["in_sync"] and rec["accounts"] == 2
    human = run("directory", "reconcile", "--agency", "clim")
    assert "0 difference(s)" in human.stdout

    conn = mail_slapd.admin()
    conn.delete(f"uid={ldap_entries(mail_slapd, ldap_base).popitem()[0]},ou=people,{ldap_base}")
    conn.unbind()
    r, rec = run_json("directory", "reconcile", "--agency", "clim")
    assert rec["counts"]["missing"] == 1 and not rec["fix"]
    r, rec = run_json("directory", "reconcile", "--agency", "clim", "--fix")
    assert r.exit_code == 0 and rec["differences"][0]["fixed"]
    assert len(ldap_entries(mail_slapd, ldap_base)) == 2


def test_parked_row_listed_and_retried(env, monkeypatch, mail_slapd, ldap_base):
    monkeypatch.setenv("IDP_LDAP_QUOTA_ATTRIBUTE", "noSuchQuotaAttr")
    assert run("accounts", "create", "--email", "p@cli.go.th", "--agency", "clim").exit_code == 0
    r, ran = run_json("outbox", "run", "--once")
    assert r.exit_code == 0 and ran["parked"] == 1
    r, parked = run_json("outbox", "list", "--status", "parked")
    (row,) = parked["entries"]
    assert row["status"] == "parked" and row["last_error"]
    human = run("outbox", "list", "--status", "parked")
    assert "p@cli.go.th" in human.stdout

    monkeypatch.delenv("IDP_LDAP_QUOTA_ATTRIBUTE")  # the operator fixes the mapping
    r, retried = run_json("outbox", "retry", str(row["id"]))
    assert r.exit_code == 0 and retried["entry"]["status"] == "pending"
    r, ran = run_json("outbox", "run", "--once")
    assert ran["done"] == 1 and ran["outbox"]["parked"] == 0
    r, again = run_json("outbox", "retry", str(row["id"]))
    assert r.exit_code == 4 and again["error"] == "conflict"
    r, missing = run_json("outbox", "retry", "999999")
    assert r.exit_code == 3 and missing["error"] == "not_found"
    r, both = run_json("outbox", "retry", "1", "--all-parked")
    assert r.exit_code == 2


def test_clear_errors(env, monkeypatch):
    r, out = run_json("directory", "reconcile", "--agency", "nope")
    assert r.exit_code == 3 and out["error"] == "unknown_agency"
    r, out = run_json("outbox", "list", "--status", "weird")
    assert r.exit_code == 2 and out["error"] == "invalid_input"
    monkeypatch.setenv("IDP_LDAP_URLS", "ldap://127.0.0.1:1")
    r, out = run_json("outbox", "run", "--once")
    assert r.exit_code == 0 and out["done"] == 0  # nothing to do: no connection needed
    assert run("accounts", "create", "--email", "z@cli.go.th", "--agency", "clim").exit_code == 0
    r, out = run_json("outbox", "run", "--once")
    assert r.exit_code == 69 and out["error"] and out["retried"] == 1  # down: retried later
    r, out = run_json("directory", "reconcile", "--agency", "clim")
    assert r.exit_code == 69 and out["error"] == "directory_unavailable"
    monkeypatch.setenv("IDP_LDAP_ALLOW_PLAIN", "false")
    r, out = run_json("outbox", "run", "--once")
    assert r.exit_code == 78 and out["error"] == "invalid_settings"
    assert "IDP_LDAP_ALLOW_PLAIN" in out["message"]
    monkeypatch.delenv("IDP_LDAP_URLS")
    r, out = run_json("outbox", "run", "--once")
    assert r.exit_code == 78 and "IDP_LDAP_URLS" in out["message"]
    human = run("outbox", "run", "--once")
    assert human.exit_code == 78 and "Traceback" not in human.output


def test_federation_commands(env, agency_slapd, agency_tls, tmp_path):
    r, out = run_json(
        "directory", "federation", "set", "--agency", "clim", "--server", agency_slapd.url,
        "--ca-file", str(agency_tls["ca"]), "--search-base", AGENCY_PEOPLE,
        "--service-dn", SERVICE_DN, "--service-password-stdin", "--timeout", "2",
        input=SERVICE_PASSWORD + "\n",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert out["service_password"] == "set" and SERVICE_PASSWORD not in r.output
    r, shown = run_json("directory", "federation", "show", "--agency", "clim")
    assert shown["federated"] and not shown["inherited"] and shown["ca_pem"] is True
    r, ok = run_json(
        "directory", "federation", "test", "--agency", "clim", "--login", "somchai",
        input=AGENCY_USERS["somchai"][0] + "\n",
    )  # fmt: skip
    assert r.exit_code == 0 and ok["outcome"] == "ok"
    r, bad = run_json(
        "directory", "federation", "test", "--agency", "clim", "--login", "somchai",
        input="wrong\n",
    )  # fmt: skip
    assert r.exit_code == 1 and bad["outcome"] == "bad_credentials"
    r, out = run_json(
        "directory", "federation", "set", "--agency", "clim", "--server", agency_slapd.url,
        "--no-start-tls", "--search-base", AGENCY_PEOPLE,
    )  # fmt: skip
    assert r.exit_code == 2 and "allow_plain" in out["message"]
    r, out = run_json("directory", "federation", "disable", "--agency", "clim")
    assert r.exit_code == 0
    r, shown = run_json("directory", "federation", "show", "--agency", "clim")
    assert shown == {"agency": "clim", "federated": False}


def test_out_of_range_input_is_invalid_input_not_a_traceback(env):
    huge = "99999999999999999999999"  # > BIGINT: SQLite cannot even bind it (OverflowError)
    for args in (("outbox", "retry", huge), ("outbox", "list", "--after", huge)):
        r, out = run_json(*args)
        assert r.exit_code == 2 and out["error"] == "invalid_input", (args, r.output)
        assert "Traceback" not in run(*args).output


@pytest.mark.parametrize("port", ["99999", "0", "65536"])
def test_ldap_url_port_out_of_range_is_bad_configuration(env, monkeypatch, port):
    assert run("accounts", "create", "--email", "pp@cli.go.th", "--agency", "clim").exit_code == 0
    monkeypatch.setenv("IDP_LDAP_URLS", f"ldap://127.0.0.1:{port}")
    for args in (("directory", "reconcile", "--agency", "clim"), ("outbox", "run", "--once")):
        r, out = run_json(*args)
        assert r.exit_code == 78 and out["error"] == "invalid_settings", (args, r.output)
        assert "1-65535" in out["message"] and "IDP_LDAP_URLS" in out["message"]
    # Refused before anything was claimed: the row is due now, not leased.
    r, listed = run_json("outbox", "list")
    assert listed["outbox"]["due"] == 1 and listed["entries"][0]["attempts"] == 0


def test_reconcile_fix_repairs_a_duplicate_from_the_cli(env, monkeypatch, mail_slapd, ldap_base):
    monkeypatch.setenv("IDP_LDAP_DISABLE_MODE", "move")
    assert run("accounts", "create", "--email", "d@cli.go.th", "--agency", "clim").exit_code == 0
    assert run("outbox", "run", "--once").exit_code == 0
    (uid, entry) = ldap_entries(mail_slapd, ldap_base).popitem()
    attrs = {k: v for k, v in entry.items() if k not in ("dn", "objectclass")}
    mail_slapd.add_entry(f"uid={uid},ou=disabled,{ldap_base}", entry["objectclass"], attrs)
    r, rec = run_json("directory", "reconcile", "--agency", "clim", "--fix")
    assert r.exit_code == 0, r.output
    assert rec["counts"]["duplicate"] == 1 and rec["failed"] == 0
    assert ldap_entries(mail_slapd, ldap_base)[uid]["dn"] == f"uid={uid},ou=people,{ldap_base}"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        (["--search-filter", "(&(uid={username})(x={x}))"], "search_filter"),
        (["--search-filter", "(&(uid={username})(mail={0}))"], "search_filter"),
        (["--search-filter", "(uid={username}"], "search_filter"),
        (["--server", "ldap://localhost:599730"], "servers"),
        (["--bind-dn-template", "nobody {username}"], "bind_dn_template"),
        (["--ca-file", "NOT-PEM"], "ca_file"),
        (["--no-start-tls", "--allow-plain", "--server", "ldap://ad.agency.go.th"], "servers"),
    ],
)
def test_federation_set_refuses_settings_that_cannot_work(
    env, agency_slapd, tmp_path, extra, field
):
    not_pem = tmp_path / "not.pem"
    not_pem.write_text("hello\n")
    extra = [str(not_pem) if x == "NOT-PEM" else x for x in extra]
    server = [] if "--server" in extra else ["--server", agency_slapd.url]
    args = ("directory", "federation", "set", "--agency", "clim", *server,
            "--search-base", AGENCY_PEOPLE, *extra)  # fmt: skip
    r, out = run_json(*args)
    assert r.exit_code == 2 and out["error"] == "invalid_input", r.output
    assert out["field"] == field and out["message"].startswith(f"federation settings: {field}")
    human = run(*args)
    assert human.exit_code == 2 and "Traceback" not in human.output
    r, shown = run_json("directory", "federation", "show", "--agency", "clim")
    assert shown["federated"] is False
