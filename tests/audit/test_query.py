"""Listing events: filters, the caller's agency scope, cursor pagination."""

import datetime as dt

import pytest

from idp.audit import service as audit
from idp.auditing.query import EventFilter, count_events, list_events
from idp.errors import InvalidInput, UnknownAgency
from tests import factories

T0 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
# The world's events; the tree's own admin.agency.created events happen "now".
WINDOW = {"since": T0, "until": T0 + dt.timedelta(hours=10)}


def window(**kw):
    return EventFilter(**{**WINDOW, **kw})


@pytest.fixture
def world(db, unique):
    """Events across an agency tree, at known times, for unique accounts and clients."""
    t = factories.tree(db, unique)
    acc, other_acc, app = f"acc-{unique}", f"other-{unique}", f"app-{unique}"
    rows = [
        ("oidc.login.succeeded", "success", t["office1"], acc, app, 0),
        ("oidc.login.failed", "failure", t["office1"], acc, app, 1),
        ("oidc.login.succeeded", "success", t["office2"], other_acc, app, 2),
        ("admin.account.suspended", "success", t["dept"], other_acc, None, 3),
        ("oidc.login.succeeded", "success", t["dept2"], acc, f"x-{unique}", 4),
        ("oidc.login.succeeded", "success", t["other"], other_acc, app, 5),
    ]
    for kind, outcome, agency, subject, client, hour in rows:
        audit.record(
            db,
            kind,
            outcome=outcome,
            agency_id=agency.id,
            subject=subject,
            actor=subject if kind.startswith("oidc") else acc,
            client_id=client,
            at=T0 + dt.timedelta(hours=hour),
        )
    return {"tree": t, "acc": acc, "other": other_acc, "app": app, "unique": unique}


def seqs(page):
    return [e["seq"] for e in page.items]


def types_of(db, world, **kw):
    f = window(agency=world["tree"]["ministry"], **kw)
    return [(e["type"], e["at"][11:13]) for e in list_events(db, f, order="asc").items]


def test_agency_filter_covers_the_subtree_only(db, world):
    t = world["tree"]
    page = list_events(db, window(agency=t["dept"]), order="asc")
    assert [e["at"][11:13] for e in page.items] == ["00", "01", "02", "03"]
    assert all(e["agency_id"] != str(t["other"].id) for e in page.items)
    assert count_events(db, window(agency=t["ministry"])) == 5


def test_scope_limits_what_a_caller_sees(db, world):
    t = world["tree"]
    scoped = list_events(db, window(), scope=t["dept"], limit=100)
    assert {e["agency_id"] for e in scoped.items} <= {
        str(t[k].id) for k in ("dept", "office1", "office2")
    }
    with pytest.raises(UnknownAgency):  # outside the scope looks like unknown
        list_events(db, EventFilter(agency=t["other"]), scope=t["dept"])
    inside = list_events(db, window(agency=t["office1"]), scope=t["ministry"])
    assert len(inside.items) == 2


def test_time_type_account_client_outcome_filters(db, world):
    h = dt.timedelta(hours=1)
    assert [x[1] for x in types_of(db, world, since=T0 + h, until=T0 + 3 * h)] == ["01", "02"]
    assert [x[1] for x in types_of(db, world, types=("oidc.login.failed",))] == ["01"]
    assert [x[1] for x in types_of(db, world, types=("admin.*",))] == ["03"]
    assert len(types_of(db, world, types=("oidc.*", "admin.account.suspended"))) == 5
    # account = subject or actor: the suspension was done *by* acc
    assert [x[1] for x in types_of(db, world, account=world["acc"])] == ["00", "01", "03", "04"]
    assert [x[1] for x in types_of(db, world, client_id=world["app"])] == ["00", "01", "02"]
    assert [x[1] for x in types_of(db, world, outcome="failure")] == ["01"]


@pytest.mark.parametrize(
    "kw",
    [
        {"types": ("oidc.made.up",)},
        {"types": ("nothing.*",)},
        {"outcome": "meh"},
        {"since": T0, "until": T0},
        {"since": dt.datetime(2026, 1, 1)},
        {"from_seq": 5, "to_seq": 4},
    ],
)
def test_bad_filters_are_refused(db, kw):
    with pytest.raises(InvalidInput):
        list_events(db, EventFilter(**kw))


@pytest.mark.parametrize("order", ["desc", "asc"])
def test_cursor_pagination_walks_every_event_once(db, world, order):
    f = window(agency=world["tree"]["ministry"])
    everything = seqs(list_events(db, f, order=order, limit=100))
    got, cursor = [], None
    while True:
        page = list_events(db, f, order=order, limit=2, cursor=cursor)
        got += seqs(page)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert got == everything and len(got) == 5
    assert got == sorted(got, reverse=order == "desc")


def test_new_events_do_not_shift_a_listing_under_way(db, world):
    f = EventFilter(agency=world["tree"]["ministry"])  # keyset on seq, newest first
    everything = seqs(list_events(db, f, limit=100))
    first = list_events(db, f, limit=2)
    audit.record(db, "oidc.login.succeeded", agency_id=world["tree"]["dept"].id)
    second = list_events(db, f, limit=2, cursor=first.next_cursor)
    assert seqs(second) == everything[2:4]


def test_bad_cursors_and_limits(db):
    with pytest.raises(InvalidInput, match="malformed"):
        list_events(db, EventFilter(), cursor="!!!")
    audit.record(db, "admin.account.resumed")
    audit.record(db, "admin.account.resumed")
    asc = list_events(db, EventFilter(), order="asc", limit=1)
    with pytest.raises(InvalidInput, match="belong"):
        list_events(db, EventFilter(), order="desc", cursor=asc.next_cursor)
    for limit in (0, 1001):
        with pytest.raises(InvalidInput):
            list_events(db, EventFilter(), limit=limit)


def test_items_are_json_ready(db, world):
    item = list_events(db, window(agency=world["tree"]["office1"]), limit=1).items[0]
    assert item["at"].endswith("Z") and len(item["hash"]) == 64
    assert set(item) == {
        "seq", "at", "type", "outcome", "actor", "agency_id", "subject", "client_id",
        "session_id", "ip", "user_agent", "details", "prev_hash", "hash",
    }  # fmt: skip
