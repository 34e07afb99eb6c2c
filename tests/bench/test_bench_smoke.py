"""`make bench` keeps working (issue 22): every scenario of bench/oidc_bench.py, S1-S6,
runs for about a second against a real `idp serve` on PostgreSQL and a real
node-oidc-provider 9 (bench/node-oidc-provider, its argon2id sign-in included), with no
error, and the table the lead reads has a figure in every row. The figures themselves
are not judged here: a smoke run on a shared machine measures nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from tests.conftest import service_missing
from tests.npm import npm_ci

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench"
NODE_OP = BENCH / "node-oidc-provider"
PG = os.environ.get("GOVID_BENCH_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
ROWS = (
    "S1 discovery",
    "S1 JWKS",
    "S2 client_credentials (ES256 JWT)",
    "S3 code-flow sign-in with PKCE",
    "S4 refresh with rotation",
    "S5 userinfo",
    "S5 introspection",
    "S6 mixed soak (GovID only)",
)

pytestmark = pytest.mark.postgres


def _wrk() -> str:
    wrk = shutil.which("wrk")
    if wrk is None and shutil.which("apt-get") and os.geteuid() == 0:
        from tests.interop.apache import _apt_install  # the project installs what it needs

        _apt_install(["wrk"])
        wrk = shutil.which("wrk")
    if wrk is None:
        service_missing("wrk not installed (`make bench-tools`, or apt-get install -y wrk)")
    return wrk


def _node_provider() -> None:
    if shutil.which("node") is None:
        service_missing("node (Node.js >= 20.19) is not on PATH; bench's baseline needs it")
    npm_ci(NODE_OP)


def _postgres() -> None:
    try:
        psycopg.connect(PG, connect_timeout=3).close()
    except psycopg.OperationalError as exc:
        service_missing(f"PostgreSQL at {PG}: {exc}")


def test_every_scenario_runs_without_errors_and_the_table_has_every_row(tmp_path):
    _wrk()
    _node_provider()
    _postgres()
    out = tmp_path / "bench.json"
    argv = [sys.executable, str(BENCH / "oidc_bench.py"), "--one-server", "--runs", "1"]
    argv += ["--duration", "1", "--warmup", "0", "--connections", "8", "--s3-accounts", "2"]
    argv += ["--s3-concurrency", "2", "--s4-chains", "2", "--only", "S1,S2ES,S3,S4,S5,S6"]
    argv += ["--s6-duration", "2", "--s6-warmup", "0.5", "--s6-workers", "3"]
    argv += ["--floor-seconds", "0.2", "--json", str(out)]
    env = {k: v for k, v in os.environ.items() if not k.startswith("IDP_")}
    r = subprocess.run(argv, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]

    table = r.stdout[r.stdout.index("Issue 22 table") :]
    for row in ROWS:
        line = next((ln for ln in table.splitlines() if ln.startswith(row)), None)
        assert line is not None, f"no row {row!r} in\n{table}"
        assert "not run" not in line, line
    assert "S3 argon2id floor" in table and "S6 " in table, table

    results = json.loads(out.read_text())["results"]
    sides = [
        f"{s} {side}"
        for s in ("S1D", "S1J", "S3", "S4", "S5U", "S5I")
        for side in ("GovID", "node")
    ]
    expected = {*sides, "S2 GovID ES256", "S2 node ES256", "S6 GovID"}
    assert expected <= set(results), sorted(results)
    assert all(results[k]["requests"] for k in expected), {
        k: results[k]["requests"] for k in expected
    }
    errors = {k: v["errors"] for k, v in results.items() if v["errors"]}
    assert errors == {}, (errors, r.stderr[-3000:])
