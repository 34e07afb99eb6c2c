"""The restore drill of docs/operations.md "Backup and restore" (issue 21), as an operator
runs it each month: `pg_dump -Fc` of a GovID database in use, `pg_restore` into a new
database, then on the restored copy `idp db current`, `idp audit verify` (the whole chain
and every checkpoint), the head compared with the newest checkpoint kept off the host,
and `/readyz` ready. A copy restored from a dump taken before the newest checkpoint the
auditor kept is found short by that comparison; a row edited in the restored copy fails
the verification."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update
from typer.testing import CliRunner

from idp import migrate
from idp.audit import service as audit
from idp.audit.models import AuditEvent
from idp.auditing import checkpoints
from idp.cli import app as cli
from idp.main import create_app
from idp.services import Services
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY, make_settings, service_missing

runner = CliRunner()


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        service_missing(f"{name} is not installed (postgresql-client)")
    return path


def _cli(monkeypatch, url: str, *args: str):
    for k, v in {
        "IDP_DATABASE_URL": url,
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": TEST_DATA_KEY,
    }.items():
        monkeypatch.setenv(k, v)
    r = runner.invoke(cli, [*args, "--json"])
    return r.exit_code, json.loads(r.stdout.strip().splitlines()[-1])


@pytest.mark.postgres
def test_dump_restore_verify_and_serve(pg_server, tmp_path, monkeypatch):
    source = pg_server.create_database("govid_drill_src")
    migrate.upgrade(source)
    services = Services(make_settings(source))
    try:
        with services.sessions.begin() as db:
            for i in range(20):
                audit.record(db, "system.bootstrap.completed", details={"agencies": i})
        with services.sessions.begin() as db:
            kept_off_host = checkpoints.create(db, services.keys, reason="manual")
        early_dump = tmp_path / "early.dump"
        subprocess.run([_tool("pg_dump"), "-Fc", "-f", str(early_dump), _libpq(source)], check=True)
        with services.sessions.begin() as db:  # the day goes on after the first dump
            for i in range(5):
                audit.record(db, "system.bootstrap.completed", details={"agencies": 100 + i})
        with services.sessions.begin() as db:
            latest = checkpoints.create(db, services.keys, reason="manual")  # off the host
        dump = tmp_path / "govid.dump"
        subprocess.run([_tool("pg_dump"), "-Fc", "-f", str(dump), _libpq(source)], check=True)
    finally:
        services.close()
    assert kept_off_host.seq < latest.seq

    # The drill: a new database, the dump restored, GovID pointed at it (same data key).
    restored = pg_server.create_database("govid_drill_restore")
    subprocess.run(
        [_tool("pg_restore"), "--no-owner", "-d", _libpq(restored), str(dump)], check=True
    )
    code, current = _cli(monkeypatch, restored, "db", "current")
    assert code == 0 and current["up_to_date"] is True
    code, report = _cli(monkeypatch, restored, "audit", "verify", "--no-record")
    assert code == 0 and report["ok"], report
    assert report["latest_checkpoint_seq"] == latest.seq  # the checkpoint kept off the host
    restored_services = Services(make_settings(restored))
    try:
        with restored_services.sessions() as db:
            head = db.scalar(select(func.max(AuditEvent.seq)))
            at_checkpoint = db.scalar(select(AuditEvent.hash).where(AuditEvent.seq == latest.seq))
        assert head >= latest.seq and at_checkpoint == latest.hash
        with TestClient(create_app(restored_services.settings, start_workers=False)) as c:
            r = c.get("/readyz")
        assert r.status_code == 200 and r.json()["status"] == "ready", r.text
    finally:
        restored_services.close()

    # An older dump restored verifies on its own, but ends before the checkpoint the
    # auditor kept: the comparison the runbook asks for finds it short.
    older = pg_server.create_database("govid_drill_older")
    subprocess.run(
        [_tool("pg_restore"), "--no-owner", "-d", _libpq(older), str(early_dump)], check=True
    )
    code, report = _cli(monkeypatch, older, "audit", "verify", "--no-record")
    assert code == 0 and report["head_seq"] < latest.seq

    # An event edited in the restored copy: the verification names it (exit 65).
    edited = Services(make_settings(restored))
    try:
        with edited.sessions.begin() as db:
            db.execute(update(AuditEvent).where(AuditEvent.seq == 5).values(outcome="failure"))
    finally:
        edited.close()
    code, report = _cli(monkeypatch, restored, "audit", "verify", "--no-record")
    assert code == 65 and report["first_bad_seq"] == 5
