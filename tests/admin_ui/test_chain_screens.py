"""The audit chain's verification status on the console's audit screen and dashboard
(issue 20), against a stand-in admin API: intact, broken (a break stays shown while newer
checks pass), never verified, not verified for over a day; in Thai and English; nothing
for a caller the API refuses the log to."""

from __future__ import annotations

import datetime as dt
import html

from tests.admin_ui.test_screens import P, ui  # noqa: F401 (the fixture)

NOW = dt.datetime.now(dt.UTC)


def _v(ok=True, kind="new_events", at=None, **kw):
    return {
        "at": (at or NOW - dt.timedelta(minutes=3)).isoformat(),
        "ok": ok,
        "kind": kind,
        "by": "system",
        "first_seq": 101,
        "last_seq": 180,
        "checked_events": 80,
        "independent_keys": False,
        "first_bad_seq": None,
        "problem": None,
        "seq": 181,
        **kw,
    }


def _chain(stand, **kw):
    body = {
        "last_seq": 185,
        "last_checkpoint": {"at": "2026-12-07T01:00:00+00:00", "seq": 150, "reason": "periodic"},
        "last_verification": _v(),
        "last_full_verification": _v(
            kind="full", at=dt.datetime(2026, 12, 7, 2, 30, tzinfo=dt.UTC)
        ),
        "unresolved_failure": None,
        **kw,
    }
    stand.on("GET", "/audit/chain", 200, body)
    stand.on("GET", "/audit/events", 200, {"items": [], "next_cursor": None, "limit": 50})


def _status(html: str) -> str:
    return html.split('id="chain-status" data-status="', 1)[1].split('"', 1)[0]


def test_the_audit_screen_says_when_the_log_was_verified_and_that_it_held(ui):  # noqa: F811
    client, stand, _ = ui
    _chain(stand)
    r = client.get("/audit", headers={"Accept-Language": "en"})
    assert r.status_code == 200
    assert stand.sent("GET", "/audit/chain")
    assert _status(r.text) == "intact"
    assert "new events, by housekeeping" in r.text and "101–180" in r.text
    assert "2026-12-07 09:30" in r.text  # the full verification, Thai time
    assert "2026-12-07 08:00" in r.text and "seq 150" in r.text  # the checkpoint
    assert 'role="alert"' not in r.text
    th = client.get("/audit", headers={"Accept-Language": "th"})
    assert "ครบถ้วน" in th.text and "เวลาประเทศไทย" in th.text


def test_a_break_is_shown_as_an_alert_until_a_full_verification_clears_it(ui):  # noqa: F811
    client, stand, _ = ui
    bad = _v(ok=False, kind="full", first_bad_seq=42, problem="hash_mismatch", by="cli")
    # The newest check (new events only) passed; the full one before it found a break.
    _chain(stand, last_full_verification=bad, unresolved_failure=bad)
    r = client.get("/audit", headers={"Accept-Language": "th"})
    assert _status(r.text) == "broken"
    alert = r.text.split('id="chain-broken"', 1)[1].split("</div>", 1)[0]
    assert "ห่วงโซ่ขาดที่เหตุการณ์ลำดับที่" in alert and ">42<" in alert
    assert "เนื้อหาของเหตุการณ์ถูกแก้ไข" in alert and "hash_mismatch" in alert
    stand.on(  # the dashboard too
        "GET",
        "/summary",
        200,
        {
            "accounts": {"by_status": {"active": 1, "suspended": 0, "deleted": 0}, "locked": 0},
            "outbox": {"pending": 0, "parked": 0},
            "sign_ins": {"since": "2026-12-06T17:00:00+00:00", "succeeded": 0, "failed": 0},
            "audit": {"last_checkpoint": None, "last_seq": 185},
        },
    )
    en = client.get("/", headers={"Accept-Language": "en"})
    assert _status(en.text) == "broken"
    text = html.unescape(en.text)
    assert "The chain breaks at event" in text and "the event's content was changed" in text


def test_never_verified_and_not_verified_for_a_day_are_said_plainly(ui):  # noqa: F811
    client, stand, _ = ui
    _chain(stand, last_verification=None, last_full_verification=None)
    r = client.get("/audit", headers={"Accept-Language": "en"})
    assert _status(r.text) == "unverified" and "Never verified" in r.text
    old = _v(at=NOW - dt.timedelta(days=2))
    _chain(stand, last_verification=old, last_full_verification=None)
    r = client.get("/audit", headers={"Accept-Language": "en"})
    assert _status(r.text) == "stale" and "may have stopped" in r.text


def test_no_chain_for_a_caller_refused_the_log(ui):  # noqa: F811
    client, stand, _ = ui
    stand.on("GET", "/audit/chain", 403, {"type": P + "forbidden", "status": 403})
    stand.on("GET", "/audit/events", 200, {"items": [], "next_cursor": None, "limit": 50})
    r = client.get("/audit", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and 'id="chain"' not in r.text
    # The dashboard does not even ask when the summary has no audit part (no audit:read).
    stand.on(
        "GET",
        "/summary",
        200,
        {
            "accounts": {"by_status": {"active": 1, "suspended": 0, "deleted": 0}, "locked": 0},
            "outbox": {"pending": 0, "parked": 0},
            "sign_ins": None,
            "audit": None,
        },
    )
    asked = len(stand.sent("GET", "/audit/chain"))
    r = client.get("/", headers={"Accept-Language": "en"})
    assert r.status_code == 200 and 'id="chain"' not in r.text
    assert len(stand.sent("GET", "/audit/chain")) == asked
