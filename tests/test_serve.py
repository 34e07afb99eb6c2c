"""What `make run` does, end to end: migrate, bootstrap once, serve, answer /readyz."""

import json

import httpx

from tests.server import base_env, run_cli, serve


def test_first_run_serves_ready_and_second_bootstrap_adds_nothing(tmp_path):
    # Development defaults (IDP_ENV unset = dev) exactly as `make run` uses them,
    # only with the database in a temporary directory.
    env = base_env(IDP_DATABASE_URL=f"sqlite:///{tmp_path / 'var' / 'idp.db'}")
    assert run_cli(env, "db", "upgrade").returncode == 0
    first = run_cli(env, "bootstrap", "--json")
    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["created"] is True
    second = run_cli(env, "bootstrap", "--json")
    assert json.loads(second.stdout) == {
        "created": False,
        "agencies": [],
        "accounts": [],
        "client": None,
        "console": None,
    }
    listed = json.loads(run_cli(env, "accounts", "list", "--json").stdout)
    assert listed["count"] == 3

    with serve(env) as base:
        r = httpx.get(f"{base}/readyz")
        assert r.status_code == 200 and r.json()["status"] == "ready"


def test_serve_on_postgres_before_migration_is_not_ready(pg_fresh_url):
    env = base_env(IDP_DATABASE_URL=pg_fresh_url)
    with serve(env) as base:
        assert httpx.get(f"{base}/healthz").status_code == 200
        r = httpx.get(f"{base}/readyz")
        assert r.status_code == 503
    assert run_cli(env, "db", "upgrade").returncode == 0
    with serve(env) as base:
        assert httpx.get(f"{base}/readyz").status_code == 200
