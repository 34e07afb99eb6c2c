"""The audit chain's verification status, as an auditor sees it on the console's dashboard
and audit screen (issue 20): `idp audit verify` and housekeeping record each
verification in the chain (`audit.chain.verified`), and `idp.auditing.verification.status`
reports the newest, the newest full one, and a break that no full verification has
cleared since (a break stays shown while cheaper new-events checks keep passing)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select, update

from idp import maintenance
from idp.audit import service as audit
from idp.audit.models import AuditEvent
from idp.auditing import verification
from idp.cli import app
from tests.audit.test_cli import env, run_json, runner  # noqa: F401 (the fixture)


def _verified(db) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent).where(AuditEvent.type == verification.EVENT).order_by(AuditEvent.seq)
        )
    )


def _services(url):
    from idp.services import Services
    from tests.conftest import make_settings

    return Services(make_settings(url))


def test_the_cli_records_each_verification_and_status_shows_a_break_until_cleared(env):  # noqa: F811
    services = _services(env)
    try:
        with services.sessions() as db:
            assert verification.status(db)["last_verification"] is None  # never verified
        code, report = run_json("audit", "verify")
        assert code == 0
        with services.sessions() as db:
            (ev,) = _verified(db)
            assert ev.outcome == "success" and ev.actor == "cli"
            assert ev.details["kind"] == "full"
            assert ev.details["last_seq"] == report["last_seq"] > 0
            st = verification.status(db)
        assert st["last_verification"]["ok"] and st["last_verification"]["kind"] == "full"
        assert st["last_full_verification"]["seq"] == ev.seq
        assert st["unresolved_failure"] is None

        # --no-record leaves the log as it was (a read-only replica).
        assert run_json("audit", "verify", "--no-record")[0] == 0
        with services.sessions() as db:
            assert len(_verified(db)) == 1

        # Someone edits an event: the full verification fails and says so in the log.
        with services.sessions.begin() as db:
            was = db.scalar(select(AuditEvent.actor).where(AuditEvent.seq == 2))
            db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="mallory"))
        code, broken = run_json("audit", "verify")
        assert code == 65 and broken["first_bad_seq"] == 2
        # A range verification and a housekeeping run after it pass (new events only)...
        assert run_json("audit", "verify", "--from", str(broken["head_seq"]))[0] == 0
        assert maintenance.run(services).verified["ok"]
        with services.sessions() as db:
            st = verification.status(db)
        assert st["last_verification"]["ok"] and st["last_verification"]["kind"] == "new_events"
        # ...but the break stays shown: only a full verification clears it.
        bad = st["unresolved_failure"]
        assert bad["first_bad_seq"] == 2 and bad["problem"] == "hash_mismatch"
        assert not bad["ok"] and bad["kind"] == "full" and bad["by"] == "cli"
        assert st["last_full_verification"]["ok"] is False

        with services.sessions.begin() as db:  # restored from the backup
            db.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor=was))
        code, report = run_json("audit", "verify")
        assert code == 0, report
        with services.sessions() as db:
            st = verification.status(db)
        assert st["unresolved_failure"] is None and st["last_full_verification"]["ok"]
    finally:
        services.close()


def test_housekeeping_verifies_what_was_written_since_and_finds_a_new_break(env):  # noqa: F811
    services = _services(env)
    try:
        first = maintenance.run(services)
        assert first.verified == {"ok": True, "events": first.verified["events"]}
        assert first.verified["events"] > 0
        with services.sessions.begin() as db:
            for i in range(5):
                audit.record(db, "system.bootstrap.completed", details={"agencies": i})
            head = db.scalar(select(func.max(AuditEvent.seq)))
        second = maintenance.run(services)
        # Only what came after the first run's check: its own two events and these five.
        assert second.verified["ok"] and 5 <= second.verified["events"] <= 8
        with services.sessions() as db:
            ev = _verified(db)[-1]
        assert ev.actor == "system" and ev.details["kind"] == "new_events"
        assert ev.details["last_seq"] >= head

        # An edit among the new events: the next run records a failure, and keeps finding
        # it on every run after (it starts again from the last good verification).
        with services.sessions.begin() as db:
            for i in range(3):
                audit.record(db, "system.bootstrap.completed", details={"agencies": 10 + i})
            target = db.scalar(select(func.max(AuditEvent.seq))) - 1
            db.execute(update(AuditEvent).where(AuditEvent.seq == target).values(outcome="failure"))
        for _ in range(2):
            run = maintenance.run(services)
            assert run.verified["ok"] is False
            with services.sessions() as db:
                st = verification.status(db)
            assert st["unresolved_failure"]["first_bad_seq"] == target
            assert st["last_verification"]["ok"] is False
    finally:
        services.close()


@pytest.mark.parametrize("kind", ["full", "range", "new_events"])
def test_record_refuses_nothing_it_documents(kind, sqlite_fresh_url):
    from idp import migrate
    from idp.auditing.verify import VerifyReport

    migrate.upgrade(sqlite_fresh_url)
    services = _services(sqlite_fresh_url)
    try:
        with services.sessions.begin() as db:
            verification.record(db, VerifyReport(), kind=kind, actor="cli")
        with pytest.raises(ValueError), services.sessions.begin() as db:
            verification.record(db, VerifyReport(), kind="partial", actor="cli")
    finally:
        services.close()


def test_cli_help_names_no_record():
    r = runner.invoke(app, ["audit", "verify", "--help"])
    assert "--no-record" in r.stdout
