"""The same throttling contract against the database store (PostgreSQL and SQLite) and
the Redis store (real Redis on 127.0.0.1:6379)."""

import datetime as dt
import uuid

import pytest

from idp.credentials.throttle import (
    DbThrottleStore,
    RedisThrottleStore,
    Rules,
    decide,
    window_key,
)
from tests.conftest import service_missing

RULES = Rules(delay_after=3, max_delay=60, lock_threshold=6, lock_seconds=300)
T0 = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)


@pytest.fixture(scope="module")
def redis_client():
    import redis

    client = redis.Redis(host="127.0.0.1", port=6379, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.ConnectionError as exc:
        service_missing(f"Redis unreachable on 127.0.0.1:6379: {exc}")
    return client


@pytest.fixture(params=["db", "redis"])
def store(request, db, redis_client):
    if request.param == "db":
        yield DbThrottleStore(db)
        return
    s = RedisThrottleStore(redis_client, prefix=f"govid-test:{uuid.uuid4().hex}:")
    yield s
    for k in redis_client.scan_iter(f"{s.prefix}*"):
        redis_client.delete(k)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


def test_delay_grows_exponentially_then_locks_then_unlocks_by_time(store):
    key = "user:abc"
    assert decide(store.get(key), RULES, T0).allowed
    for n in range(3):
        store.record_failure(key, RULES, at(n))
    d = decide(store.get(key), RULES, at(2.5))
    assert not d.allowed and d.retry_after == 1 and not d.locked  # 2^0 after 3 failures
    store.record_failure(key, RULES, at(4))
    assert decide(store.get(key), RULES, at(5)).retry_after == 1  # 2^1 from t=4
    store.record_failure(key, RULES, at(10))
    assert decide(store.get(key), RULES, at(11)).retry_after == 3  # 2^2 from t=10
    state = store.record_failure(key, RULES, at(20))  # sixth: locked
    assert state.failures == 6 and state.locked_until is not None
    d = decide(store.get(key), RULES, at(30))
    assert d.locked and not d.allowed and 280 <= d.retry_after <= 300
    later = decide(store.get(key), RULES, at(20 + 301))
    assert later.allowed and later.expired_lock


def test_clear_resets(store):
    key = "user:def"
    for n in range(6):
        store.record_failure(key, RULES, at(n))
    assert decide(store.get(key), RULES, at(7)).locked
    assert store.clear(key)
    assert decide(store.get(key), RULES, at(8)).allowed
    assert store.get(key).failures == 0


def test_keys_are_independent(store):
    for n in range(6):
        store.record_failure("ip:10.0.0.1", RULES, at(n))
    assert decide(store.get("ip:10.0.0.2"), RULES, at(7)).allowed


def test_get_many_reads_each_key_as_get_does(store):
    for n in range(3):
        store.record_failure("user:many", RULES, at(n))
    store.record_failure("ip:10.0.0.9", RULES, at(0))
    keys = ["user:many", "ip:10.0.0.9", "user:never"]
    states = store.get_many(keys)
    assert list(states) == keys
    assert states == {key: store.get(key) for key in keys}
    assert states["user:many"].failures == 3 and states["user:never"].failures == 0


def test_a_count_decays_after_a_quiet_period(store):
    rules = Rules(
        delay_after=3, max_delay=60, lock_threshold=6, lock_seconds=300, decay_seconds=600
    )
    key = "user:decays"
    for n in range(4):
        store.record_failure(key, rules, at(n))
    assert not decide(store.get(key), rules, at(4)).allowed
    quiet = decide(store.get(key), rules, at(3 + 600))
    assert quiet.allowed and quiet.failures == 0
    # The next failure starts a fresh count instead of adding to the old one.
    assert store.record_failure(key, rules, at(3 + 601)).failures == 1


def test_window_counters_add_atomically_and_are_read_by_get_many(store):
    key, expires = window_key("rl:test", 10, at(0))
    assert key == f"w:rl:test:{int(at(0).timestamp()) // 10}"
    assert expires == dt.datetime.fromtimestamp((int(at(0).timestamp()) // 10 + 2) * 10, dt.UTC)
    # Redis expires keys by the real clock: a real expiry for the counting itself.
    later = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=60)
    assert store.add(key, 5, at(0), later) == 5
    assert store.add(key, 3, at(1), later) == 8
    assert store.get_many([key])[key].failures == 8
    previous, _ = window_key("rl:test", 10, at(0), back=1)
    assert store.get_many([previous])[previous].failures == 0
    # Long names are hashed to fit the key column.
    assert len(window_key("x" * 500, 10, at(0))[0]) <= 128


def test_window_counters_are_purged_once_over(store):
    now = dt.datetime.now(dt.UTC)
    key, expires = window_key("rl:purge", 10, now)
    store.add(key, 1, now, expires)
    store.record_failure("user:kept", RULES, now)
    store.purge(now)
    assert store.get(key).failures == 1  # its window is not over
    store.purge(expires + dt.timedelta(seconds=1))
    if isinstance(store, DbThrottleStore):  # Redis lets the key expire by itself
        assert store.get(key).failures == 0
    assert store.get("user:kept").failures == 1  # only window counters are purged
