"""The console's session store on each backend: signed ids, encrypted records, expiry,
and removal by GovID's sid (back-channel logout)."""

from __future__ import annotations

import time

import pytest

from admin_ui.store import Record, SessionStore, backend_for
from tests.conftest import service_missing

KEY_A = b"a" * 32
KEY_B = b"b" * 32


@pytest.fixture(params=["sqlite", "postgresql", "redis"])
def store(request, tmp_path):
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path}/console.db"
    elif request.param == "postgresql":
        url = request.getfixturevalue("pg_server").create_database("admin_ui")
    else:
        import redis

        url = "redis://127.0.0.1:6379/0"
        try:
            redis.Redis.from_url(url, socket_connect_timeout=2).ping()
        except redis.ConnectionError as exc:
            service_missing(f"Redis unreachable on 127.0.0.1:6379: {exc}")
    s = SessionStore(backend_for(url), cookie_key=KEY_A, token_key=KEY_B, ttl=60)
    yield s
    s.close()


def test_round_trip_and_delete(store):
    rec = Record(id=store.new_id(), data={"tokens": {"refresh_token": "rt-secret"}}, sid="s1")
    store.save(rec)
    got = store.load(rec.id)
    assert got.data == rec.data and got.sid == "s1"
    store.delete(rec.id)
    assert store.load(rec.id) is None


def test_back_channel_removes_every_session_of_the_sid_only(store):
    sid = f"sid-{time.time_ns()}"
    mine = [Record(id=store.new_id(), data={"n": i}, sid=sid) for i in range(2)]
    other = Record(id=store.new_id(), data={"n": 9}, sid=sid + "-other")
    for r in [*mine, other]:
        store.save(r)
    assert store.delete_sid(sid) == 2
    assert all(store.load(r.id) is None for r in mine)
    assert store.load(other.id).data == {"n": 9}
    assert store.delete_sid(sid) == 0


def test_expired_records_are_gone(store):
    rec = Record(id=store.new_id(), data={"x": 1}, expires_at=int(time.time()) + 30)
    store.save(rec)
    assert store.load(rec.id) is not None
    rec.expires_at = int(time.time()) - 1
    store.save(rec)
    assert store.load(rec.id) is None


def test_the_store_holds_no_readable_token_nor_the_cookie_id(tmp_path):
    url = f"sqlite:///{tmp_path}/c.db"
    store = SessionStore(backend_for(url), cookie_key=KEY_A, token_key=KEY_B, ttl=60)
    rec = Record(id=store.new_id(), data={"tokens": {"refresh_token": "rt-very-secret"}})
    store.save(rec)
    raw = (tmp_path / "c.db").read_bytes()
    assert b"rt-very-secret" not in raw
    assert rec.id.encode() not in raw  # keyed by SHA-256 of the id
    # Another secret cannot read it: no session rather than an error.
    other = SessionStore(backend_for(url), cookie_key=KEY_A, token_key=b"c" * 32, ttl=60)
    assert other.load(rec.id) is None
    store.close()
    other.close()


def test_signed_ids(tmp_path):
    store = SessionStore(
        backend_for(f"sqlite:///{tmp_path}/c.db"), cookie_key=KEY_A, token_key=KEY_B, ttl=60
    )
    sid = store.new_id()
    signed = store.sign(sid)
    assert store.unsign(signed) == sid
    assert store.unsign(signed[:-1] + ("0" if signed[-1] != "0" else "1")) is None
    assert store.unsign(sid) is None and store.unsign("") is None and store.unsign(None) is None
    other = SessionStore(store.backend, cookie_key=b"z" * 32, token_key=KEY_B, ttl=60)
    assert other.unsign(signed) is None
    store.close()
