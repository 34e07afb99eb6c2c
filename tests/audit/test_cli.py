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


def forge_purge(url, cut):
    """forge_purge.py of the review, portable: a key of one's own, a purge checkpoint
    signed with it, the beginning of the log deleted."""
    import datetime as dt

    from joserfc import jwt
    from joserfc.jwk import RSAKey
    from sqlalchemy import delete, select
    from sqlalchemy.orm import Session

    from idp.audit.chain import format_at
    from idp.audit.models import AuditCheckpoint
    from idp.keys.models import SigningKey

    kid, now = "rs256-20260101-deadbeef", dt.datetime.now(dt.UTC)
    key = RSAKey.generate_key(2048, parameters={"kid": kid})
    engine = make_engine(url)
    with Session(engine) as s, s.begin():
        old = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
        s.add(SigningKey(kid=kid, alg="RS256", state="retired", private_key_enc="x",
                         public_jwk=key.as_dict(private=False), created_at=old,
                         retired_at=old, not_after=old))  # fmt: skip
        h = s.scalar(select(AuditEvent.hash).where(AuditEvent.seq == cut))
        claims = {"seq": cut, "hash": h, "at": format_at(now), "reason": "purge"}
        header = {"alg": "RS256", "kid": kid, "typ": "govid-audit-checkpoint+jwt"}
        s.add(AuditCheckpoint(seq=cut, hash=h, at=now, kid=kid, reason="purge",
                              jws=jwt.encode(header, claims, key)))  # fmt: skip
        s.execute(delete(AuditEvent).where(AuditEvent.seq <= cut))
    engine.dispose()


def test_verify_says_whose_keys_and_catches_a_forged_purge(env, tmp_path):
    """Defect 1: a purge checkpoint signed with a key added to the database."""
    run_json("audit", "checkpoint")
    anchor = tmp_path / "anchor.json"
    code, saved = run_json("audit", "trust-anchor", "-o", str(anchor))
    assert code == 0 and saved["keys"] >= 2 and saved["added"]
    code, report = run_json("audit", "verify")
    assert code == 0 and report["keys_source"] == "database"
    assert report["keys_independent"] is False and "forge" in report["trust"]
    human = runner.invoke(app, ["audit", "verify"])
    assert human.exit_code == 0 and "note: checkpoint signatures were checked" in human.stdout
    assert "read from the database being verified" in human.stdout
    code, report = run_json("audit", "verify", "--jwks", str(anchor))
    assert code == 0 and report["keys_independent"] is True

    forge_purge(env, 5)
    code, report = run_json("audit", "verify")
    assert code == 65 and report["error"] == "audit_chain_broken"
    assert (report["first_bad_seq"], report["problem"]) == (1, "purge_unrecorded")
    code, report = run_json("audit", "verify", "--jwks", str(anchor))
    assert code == 65 and report["first_bad_seq"] == 1 and report["keys_independent"]
    code, again = run_json("audit", "trust-anchor", "-o", str(anchor))
    assert code == 0 and again["added"] == ["rs256-20260101-deadbeef"]  # shows the new key
    code, bad = run_json("audit", "verify", "--jwks", str(tmp_path / "none.json"))
    assert code == 2 and bad["error"] == "invalid_input" and "--jwks" in bad["message"]


@pytest.mark.parametrize("from_", ["2099-01-01", "40"])
def test_verify_a_range_past_the_newest_event_is_empty_not_broken(env, from_):
    """Defect 3: was BROKEN at seq 9223372036854775806 (missing)."""
    run_json("audit", "checkpoint")
    code, report = run_json("audit", "verify", "--from", from_)
    assert code == 0 and report["ok"] and report["checked_events"] == 0
    assert "no events in the range" in report["message"]
    human = runner.invoke(app, ["audit", "verify", "--from", from_])
    assert human.exit_code == 0 and "OK: 0 events verified" in human.stdout


@pytest.mark.parametrize(
    "range_", [("500", "400"), ("2026-02-01", "2026-01-01")], ids=["seq", "date"]
)
def test_verify_a_reversed_range_is_invalid_input(env, range_):
    """Defect 8: was exit 0, ok: true."""
    code, payload = run_json("audit", "verify", "--from", range_[0], "--to", range_[1])
    assert code == 2 and payload["error"] == "invalid_input" and "reversed" in payload["message"]


def test_verify_export_of_an_incomplete_download_fails(env, tmp_path):
    """Defect 2: a manifest signed with complete: false (the client went away)."""
    from idp.auditing import export as ex
    from idp.auditing import query
    from idp.config import Settings
    from idp.services import Services

    services = Services(Settings())
    try:
        services.keys.jwks()  # keys first (creating them writes; SQLite has one writer)
        job = ex.Export(query.EventFilter(), "ndjson", actor="test")
        gen = ex.stream_and_record(services.sessions, services.keys, job)
        out = tmp_path / "part.ndjson"
        with out.open("wb") as f:
            f.write(next(gen))
        gen.close()
        with services.sessions() as session:
            doc = ex.manifest_for(session, services.keys, job.export_id)
    finally:
        services.close()
    assert doc["manifest"]["complete"] is False
    manifest = tmp_path / "part.ndjson.manifest.json"
    manifest.write_text(json.dumps(doc))
    code, checked = run_json("audit", "verify-export", str(out), str(manifest))
    assert code == 65 and checked["error"] == "audit_export_mismatch"
    assert checked["problem"] == "incomplete_export" and "incomplete" in checked["message"]
    human = runner.invoke(app, ["audit", "verify-export", str(out), str(manifest)])
    assert human.exit_code == 65 and "OK" not in human.output
    assert "MISMATCH (incomplete_export)" in human.stderr


def test_verify_export_without_a_usable_database_is_69(env, tmp_path, monkeypatch):
    """Defect 4: was 65 audit_export_mismatch "manifest_signature" (OperationalError)."""
    out = tmp_path / "all.csv"
    code, m = run_json("audit", "export", "-o", str(out), "--no-progress")
    assert code == 0
    monkeypatch.setenv("IDP_DATABASE_URL", f"sqlite:///{tmp_path / 'unmigrated.db'}")
    code, payload = run_json("audit", "verify-export", str(out), m["manifest_file"])
    assert code == 69 and payload["error"] == "database_unavailable"
    assert "idp db upgrade" in payload["message"]


def _exports():
    code, page = run_json("audit", "events", "--type", "audit.export.created")
    assert code == 0
    return len(page["items"])


@pytest.mark.parametrize(
    "where, message",
    [
        (["-o", "/nonexistent/dir/x.csv"], "does not exist"),
        (["-o", "{tmp}"], "is a directory"),
        (["-o", "{tmp}/x.csv", "--manifest", "/nonexistent/m.json"], "does not exist"),
    ],
    ids=["no-dir", "a-dir", "manifest-no-dir"],
)
def test_export_to_an_unwritable_path_is_refused_before_anything(env, tmp_path, where, message):
    """Defect 5: was a traceback (exit 1) and a misleading audit.export.created event."""
    args = [w.replace("{tmp}", str(tmp_path)) for w in where]
    before = _exports()
    code, payload = run_json("audit", "export", *args)
    assert code == 2 and payload["error"] == "invalid_input" and message in payload["message"]
    human = runner.invoke(app, ["audit", "export", *args])
    assert human.exit_code == 2 and "Traceback" not in human.output
    assert message in human.stderr
    assert _exports() == before  # nothing was exported, so nothing is audited
