"""`idp audit ...` as an operator and an auditor use it: one JSON object with --json,
exit 0 when intact, 65 when the log or an export does not verify, 2/3 for bad input."""

import json

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from idp.audit.models import AuditEvent
from idp.cli import app
from idp.db import make_engine
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY

runner = CliRunner()


@pytest.fixture(params=["sqlite", "postgresql"])
def env(request, tmp_path, monkeypatch):
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_fresh_url")
    else:
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
    assert runner.invoke(app, ["db", "upgrade"]).exit_code == 0
    assert runner.invoke(app, ["bootstrap", "--json"]).exit_code == 0
    return url


def run_json(*args):
    r = runner.invoke(app, [*args, "--json"])
    lines = r.stdout.strip().splitlines()
    assert len(lines) == 1, r.stdout  # exactly one JSON object
    return r.exit_code, json.loads(lines[0])


def test_checkpoint_verify_export_and_verify_export(env, tmp_path):
    code, report = run_json("audit", "verify")
    assert code == 0 and report["ok"] and report["warnings"]  # no checkpoint yet
    code, cp = run_json("audit", "checkpoint")
    assert code == 0 and cp["seq"] >= 1 and cp["jws"].count(".") == 2
    code, report = run_json("audit", "verify")
    assert code == 0 and report["latest_checkpoint_seq"] == cp["seq"] and not report["warnings"]

    out = tmp_path / "audit.csv"
    code, m = run_json(
        "audit", "export", "--agency", "demo-ministry", "--since", "2020-01-01",
        "--format", "csv", "--bom", "-o", str(out),
    )  # fmt: skip
    assert code == 0 and m["count"] > 0 and m["filters"]["agency"] == "demo-ministry"
    assert out.read_bytes().startswith(b"\xef\xbb\xbf")
    manifest = tmp_path / "audit.csv.manifest.json"
    assert m["manifest_file"] == str(manifest)
    code, checked = run_json("audit", "verify-export", str(out), str(manifest))
    assert code == 0 and checked["ok"] and checked["count"] == m["count"]

    out.write_bytes(out.read_bytes().replace(b"demo", b"dem0", 1))
    code, checked = run_json("audit", "verify-export", str(out), str(manifest))
    assert code == 65 and checked["error"] == "audit_export_mismatch"
    assert checked["problem"] == "file_altered"

    nd = tmp_path / "audit.ndjson"
    code, m2 = run_json("audit", "export", "--format", "ndjson", "-o", str(nd), "--no-progress")
    assert code == 0 and m2["count"] == len(nd.read_text().splitlines())
    code, listed = run_json("audit", "events", "--type", "audit.*", "--limit", "5")
    assert code == 0 and {e["type"] for e in listed["items"]} >= {"audit.export.created"}


def test_verify_reports_the_first_broken_seq(env):
    run_json("audit", "checkpoint")
    engine = make_engine(env)
    with engine.begin() as conn:
        conn.execute(update(AuditEvent).where(AuditEvent.seq == 3).values(actor="mallory"))
    engine.dispose()
    code, report = run_json("audit", "verify")
    assert code == 65 and report["error"] == "audit_chain_broken"
    assert (report["first_bad_seq"], report["problem"]) == (3, "hash_mismatch")
    human = runner.invoke(app, ["audit", "verify"])
    assert human.exit_code == 65 and "BROKEN at seq 3" in human.stderr
    code, later = run_json("audit", "verify", "--from", "4")
    assert code == 0 and later["first_seq"] == 4


def test_purge_and_dry_run(env):
    code, plan = run_json("audit", "purge", "--dry-run")
    assert code == 0 and plan["dry_run"] and plan["count"] == 0 and plan["retention_days"] == 90
    code, done = run_json("audit", "purge")
    assert code == 0 and done["count"] == 0  # nothing is 90 days old yet


@pytest.mark.parametrize(
    "args, code, error",
    [
        (["audit", "export", "-o", "x.csv", "--format", "xml"], 2, "invalid_input"),
        (["audit", "export", "-o", "x.csv", "--since", "yesterday"], 2, "invalid_input"),
        (["audit", "export", "-o", "x.csv", "--agency", "nope"], 3, "unknown_agency"),
        (["audit", "export", "-o", "x.csv", "--type", "made.up.type"], 2, "invalid_input"),
        (["audit", "events", "--cursor", "!!"], 2, "invalid_input"),
        (["audit", "verify-export", "missing.csv", "missing.json"], 2, "invalid_input"),
    ],
)
def test_errors_are_one_json_object_and_an_exit_code(env, args, code, error):
    got, payload = run_json(*args)
    assert (got, payload["error"]) == (code, error) and payload["message"]
