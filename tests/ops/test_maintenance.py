"""Housekeeping (issue 21): `idp maintenance run` removes expired protocol state in
batches, keeps what is still live, skips while another instance runs, is audited once."""

from __future__ import annotations

import datetime as dt
import json

import psycopg
import pytest
from sqlalchemy import func, select

from idp import maintenance, migrate
from idp.accounts.models import AccountToken
from idp.audit.models import AuditEvent
from idp.clock import FakeClock
from idp.credentials.models import ThrottleEntry
from idp.db import utcnow
from idp.idempotency.models import IdempotencyRecord
from idp.services import Services
from idp.sessions.models import LogoutDelivery, SessionClient, SsoSession
from idp.tokens.models import AuthCode, Grant, RefreshToken, ReplayEntry, RevokedToken
from tests import factories
from tests.conftest import make_settings
from tests.waiting import wait_until

NOW = utcnow()
OLD = NOW - dt.timedelta(days=3)  # expired long ago
LIVE = NOW + dt.timedelta(hours=1)


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request, tmp_path, hasher, cipher):
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_fresh_url")
    else:
        url = f"sqlite:///{tmp_path / 'hk.db'}"
    migrate.upgrade(url)
    s = Services(
        make_settings(url, maintenance_batch_size=2, maintenance_grace_seconds=60),
        # What is old enough to go is decided on it (DESIGN rule 4); it starts at NOW, the
        # time the rows below are dated from, however long the run took to get here.
        clock=FakeClock(NOW),
    )
    with s.sessions.begin() as db:
        factories.agency(db, "hk", domains=["hk.go.th"])
    with s.sessions.begin() as db:
        acct = factories.account(db, "a@hk.go.th", "hk", hasher=hasher, cipher=cipher)
        s.account_id = acct.id
    yield s
    s.close()


def _populate(s: Services, tag: str, expires: dt.datetime, n: int = 3) -> None:
    ended = expires if expires < NOW else None
    with s.sessions.begin() as db:
        for i in range(n):
            k = f"{tag}{i}"
            common = {"client_id": "app", "scope": "openid"}
            db.add(
                AuthCode(
                    code_hash=f"code-{k}",
                    account_id=s.account_id,
                    sid="sid",
                    redirect_uri="https://app/cb",
                    acr="urn:govid:acr:1",
                    auth_time=NOW,
                    expires_at=expires,
                    **common,
                )
            )
            grant = Grant(account_id=s.account_id, expires_at=expires, **common)
            db.add(grant)
            db.flush()
            db.add(
                RefreshToken(token_hash=f"rt-{k}", grant_id=grant.id, expires_at=expires, **common)
            )
            sess = SsoSession(
                sid=f"sid-{k}",
                cookie_hash=f"ck-{k}",
                account_id=s.account_id,
                acr="urn:govid:acr:1",
                auth_time=NOW,
                expires_at=expires if expires < NOW else LIVE,
                ended_at=ended,
            )
            db.add(sess)
            db.flush()
            db.add(SessionClient(session_id=sess.id, client_id="app"))
            db.add(RevokedToken(jti=f"jti-{k}", expires_at=expires))
            db.add(ReplayEntry(key=f"rp-{k}", expires_at=expires))
            db.add(
                IdempotencyRecord(
                    caller="cli",
                    key=f"idem-{k}",
                    fingerprint="f",
                    status_code=201,
                    body_enc="x",
                    expires_at=expires,
                )
            )
            db.add(
                AccountToken(
                    token_hash=f"at-{k}",
                    account_id=s.account_id,
                    purpose="activate",
                    expires_at=expires,
                )
            )
            db.add(
                LogoutDelivery(
                    client_id="app", uri="https://app/bc", logout_token="x", done_at=ended
                )
            )
            db.add(ThrottleEntry(key=f"w:rl:{k}:1", failures=1, locked_until=expires))
            db.add(
                ThrottleEntry(
                    key=f"acct:{k}",
                    failures=2,
                    last_failure_at=(OLD - dt.timedelta(days=2)) if ended else NOW,
                )
            )


def _counts(s: Services) -> dict[str, int]:
    models = {
        "auth_code": AuthCode,
        "refresh_token": RefreshToken,
        "oauth_grant": Grant,
        "sso_session": SsoSession,
        "session_client": SessionClient,
        "revoked_token": RevokedToken,
        "replay_cache": ReplayEntry,
        "idempotency_key": IdempotencyRecord,
        "account_token": AccountToken,
        "logout_delivery": LogoutDelivery,
        "login_throttle": ThrottleEntry,
    }
    with s.sessions() as db:
        return {n: db.scalar(select(func.count()).select_from(m)) for n, m in models.items()}


def test_expired_rows_go_live_ones_stay(services):
    _populate(services, "old", OLD)
    _populate(services, "live", LIVE)
    before = _counts(services)
    result = maintenance.run(services)
    after = _counts(services)
    assert not result.skipped and not result.incomplete
    # Every table lost exactly its expired rows (3 each; throttle: 3 windows + 3 decayed)
    for table in before:
        expired = 6 if table == "login_throttle" else 3
        if table == "logout_delivery":
            expired = 3  # done long ago; the live ones are not done yet
        assert before[table] - after[table] == expired, table
        if table != "session_client":
            assert result.purged[table] == expired, table
    assert result.total == sum(result.purged.values())
    # Batches of 2: several statements per table, and a second run finds nothing.
    again = maintenance.run(services)
    assert again.total == 0
    with services.sessions() as db:
        events = db.scalars(
            select(AuditEvent).where(AuditEvent.type == "system.maintenance.completed")
        ).all()
    assert len(events) == 2  # one per run
    assert events[0].details["total"] == result.total
    assert dict(events[0].details["purged"])["auth_code"] == 3


def test_rows_go_once_the_clock_passes_their_expiry_and_the_grace(services):
    _populate(services, "live", LIVE)
    before = _counts(services)
    assert maintenance.run(services).total == 0  # all of it still live
    services.clock.advance(3601)  # a second past LIVE: expired, but within the grace
    early = maintenance.run(services)
    # only the rate-limit windows, which are over when they are over (no grace)
    assert {t: n for t, n in early.purged.items() if n} == {"login_throttle": 3}
    services.clock.advance(60)  # the 60 s grace is over
    result = maintenance.run(services)
    gone = {t: before[t] - n for t, n in _counts(services).items()}
    # Everything that expired at LIVE; a failure count stays until its decay (a day),
    # a back-channel logout that was never delivered is not expired.
    assert gone == {t: 0 if t == "logout_delivery" else 3 for t in before}, gone
    assert early.total + result.total == sum(n for t, n in gone.items() if t != "session_client")


@pytest.mark.postgres
def test_a_second_instance_skips(pg_fresh_url):
    migrate.upgrade(pg_fresh_url)
    services = Services(make_settings(pg_fresh_url))
    url = pg_fresh_url.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(url, autocommit=True) as other:
            other_pid = other.info.backend_pid
            other.execute("SELECT pg_advisory_lock(%s)", (maintenance.LOCK_KEY,))
            assert maintenance.run(services).skipped  # another instance is at work
        # The server releases a closed session's advisory lock when its backend exits,
        # which happens after the client has gone: wait for that, do not assume it.
        _wait_until_released(url, other_pid)
        assert not maintenance.run(services).skipped
    finally:
        services.close()


def _wait_until_released(url: str, pid: int, deadline_s: float = 10.0) -> None:
    with psycopg.connect(url, autocommit=True) as conn:
        wait_until(
            lambda: (
                not conn.execute(
                    "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s", (pid,)
                ).fetchone()[0]
            ),
            deadline_s,
            f"backend {pid} to release its advisory lock",
            every=0.02,
        )


def test_cli_json(sqlite_fresh_url, monkeypatch):
    from typer.testing import CliRunner

    from idp.cli import app

    migrate.upgrade(sqlite_fresh_url)
    monkeypatch.setenv("IDP_DATABASE_URL", sqlite_fresh_url)
    r = CliRunner().invoke(app, ["maintenance", "run", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["skipped"] is False and out["total"] == 0
    assert set(out["purged"]) >= {"auth_code", "refresh_token", "sso_session", "replay_cache"}
