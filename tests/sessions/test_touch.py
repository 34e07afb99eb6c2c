"""Idle expiry bookkeeping: ``last_seen_at`` is written only when it is stale enough to
matter (idp/sessions/service.py ``touch``), and idle expiry still ends sessions."""

import datetime as dt

from idp.config import Settings
from idp.sessions import service as sessions
from idp.sessions.models import SsoSession
from tests.conftest import make_settings

NOW = dt.datetime(2026, 11, 25, 12, 0, tzinfo=dt.UTC)


def _row(last_seen: dt.datetime) -> SsoSession:
    return SsoSession(
        sid="s",
        cookie_hash="h",
        acr="urn:govid:acr:1",
        amr=["pwd"],
        auth_time=last_seen,
        last_seen_at=last_seen,
        expires_at=NOW + dt.timedelta(hours=1),
    )


def test_touch_skips_a_fresh_timestamp_and_writes_a_stale_one():
    fresh = _row(NOW - sessions.TOUCH_GRANULARITY + dt.timedelta(seconds=1))
    sessions.touch(fresh, NOW)
    assert fresh.last_seen_at == NOW - sessions.TOUCH_GRANULARITY + dt.timedelta(seconds=1)
    stale = _row(NOW - sessions.TOUCH_GRANULARITY)
    sessions.touch(stale, NOW)
    assert stale.last_seen_at == NOW


def test_granularity_is_well_inside_the_shortest_idle_time():
    shortest = Settings.model_fields["session_idle_ttl_level2"].metadata[0].ge
    assert sessions.TOUCH_GRANULARITY.total_seconds() * 2 <= shortest
    row = _row(NOW - dt.timedelta(seconds=shortest))
    settings = make_settings("sqlite://", session_idle_ttl_level1=shortest)
    assert not sessions.find_by_row(None, settings, row, NOW)  # idle: over
