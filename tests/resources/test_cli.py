"""`idp apis`: register, inspect, change and retire an agency's API from the command line,
with readable output, --json and exit codes; apps are then given its scopes."""

import pytest

from tests.test_cli import env, migrated, run, run_json  # noqa: F401 - fixtures


@pytest.fixture
def ready(migrated):  # noqa: F811 - the fixture imported above
    r, _ = run_json(
        "agencies", "create", "--code", "moi", "--name-en", "Interior", "--name-th", "มหาดไทย"
    )
    assert r.exit_code == 0, r.output
    r, _ = run_json(
        "agencies",
        "create",
        "--code",
        "dopa",
        "--name-en",
        "DOPA",
        "--name-th",
        "ปค",
        "--parent",
        "moi",
    )
    assert r.exit_code == 0, r.output
    r, _ = run_json(
        "agencies", "create", "--code", "other", "--name-en", "Other", "--name-th", "อื่น"
    )
    assert r.exit_code == 0, r.output
    return migrated


API = "https://api.dopa.go.th/population/"


def create(*extra):
    return run_json(
        "apis", "create", "--agency", "dopa", "--identifier", API,
        "--name-en", "Population", "--name-th", "ทะเบียนราษฎร",
        "--scope", "dopa.pop:read", "--scope", "dopa.pop:write", *extra,
    )  # fmt: skip


def test_create_shows_the_secret_once_and_the_next_step(ready):
    r = run(
        "apis", "create", "--agency", "dopa", "--identifier", API, "--name-en", "Population",
        "--scope", "dopa.pop:read",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "introspection secret (shown only now):" in r.output
    assert "resource=" + API in r.output and "--scope dopa.pop:read" in r.output
    r = run("apis", "show", API)
    assert r.exit_code == 0 and "secret" not in r.output and "dopa.pop:read" in r.output


def test_json_lifecycle(ready):
    r, api = create()
    assert r.exit_code == 0, r.output
    assert api["identifier"] == API and api["agency"] == "dopa"
    assert api["scopes"] == ["dopa.pop:read", "dopa.pop:write"]
    assert api["introspection_client_secret"] and api["introspection_client_id"]
    _, listed = run_json("apis", "list", "--agency", "moi")
    assert [a["identifier"] for a in listed["apis"]] == [API]
    r, changed = run_json(
        "apis", "update", api["id"], "--shared-with", "subtree", "--add-scope", "dopa.pop:admin"
    )
    assert r.exit_code == 0 and changed["changed"] == ["scopes", "shared_with"]
    r, rotated = run_json("apis", "rotate-secret", API)
    assert rotated["introspection_client_secret"] != api["introspection_client_secret"]
    r, off = run_json("apis", "disable", API)
    assert r.exit_code == 0 and off["status"] == "disabled" and off["changed"]
    r, on = run_json("apis", "enable", API)
    assert on["status"] == "active"
    r, _ = run_json("audit", "verify")
    assert r.exit_code == 0


def test_errors_have_exit_codes(ready):
    r, err = run_json(
        "apis", "create", "--agency", "dopa", "--identifier", "https://x/#f",
        "--name-en", "X", "--scope", "x:read",
    )  # fmt: skip
    assert r.exit_code == 2 and err["field"] == "identifier"
    create()
    r, err = create()
    assert r.exit_code == 4 and err["error"] == "conflict"
    r, err = run_json("apis", "show", "https://nope/")
    assert r.exit_code == 3
    r, err = run_json("apis", "update", API, "--shared-with", "everyone")
    assert r.exit_code == 2


def test_apps_are_given_api_scopes_where_shared(ready):
    create()
    r, app = run_json(
        "clients", "create", "--agency", "dopa", "--name-en", "App",
        "--grant-type", "client_credentials", "--scope", "dopa.pop:read",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    r, err = run_json(
        "clients", "create", "--agency", "other", "--name-en", "App",
        "--grant-type", "client_credentials", "--scope", "dopa.pop:read",
    )  # fmt: skip
    assert r.exit_code == 2 and err["error"] == "invalid_scope"
    assert "dopa.pop:read" in err["message"]
    r, err = run_json(
        "clients", "create", "--agency", "dopa", "--name-en", "App",
        "--grant-type", "client_credentials", "--scope", "api:read",
    )  # fmt: skip
    assert r.exit_code == 2 and err["error"] == "invalid_scope"
    # A scope apps hold stays with its API.
    r, err = run_json("apis", "update", API, "--remove-scope", "dopa.pop:read")
    assert r.exit_code == 4 and "held by 1 app" in err["message"]
