"""Redis down, and Redis behind Sentinel failing over (issue 21).

Redis holds only counters (sign-in throttling, rate-limit windows), so losing it must not
stop anyone signing in: the counters go to the database meanwhile and /readyz says so.
Before: every sign-in answered 500 while Redis was down, and /readyz said "ready" with
nothing about Redis."""

from __future__ import annotations

import time

import httpx
import redis

from idp.credentials.login import user_key
from tests.faults.conftest import deployed
from tests.protocol.conftest import REDIRECT, Browser, callback_params
from tests.protocol.rp import authorize_url, login, rp_client
from tests.waiting import wait_until


def sign_in(world, user: str) -> dict:
    """A whole code flow for ``user``: the relying party's tokens."""
    return login(world, user, browser=Browser(world.base)).token


def wrong_password(world, user: str) -> httpx.Response:
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world))
    return b.login(b.go(url), world.users[user], password="not the password at all")


def throttle_key(email: str) -> str:
    return "govid:throttle:" + user_key(email)


METRICS = "metrics-token-for-the-test"


def scrape(world) -> str:
    return httpx.get(f"{world.base}/metrics", headers={"authorization": f"Bearer {METRICS}"}).text


def test_sign_ins_go_on_while_redis_is_down(fleet, pg_server, capsys):
    r = fleet.redis_server("cache").start()
    url = pg_server.create_database("govid_redis")
    with deployed(
        url, IDP_REDIS_URL=f"redis://127.0.0.1:{r.port}/0", IDP_METRICS_TOKEN=METRICS
    ) as world:
        assert "access_token" in sign_in(world, "alice")
        ready = httpx.get(f"{world.base}/readyz").json()
        assert ready["status"] == "ready" and ready["redis"] == "ok"
        assert wrong_password(world, "carol").status_code == 401
        assert redis.Redis(port=r.port).exists(throttle_key(world.users["carol"]))

        r.stop()
        down_at = time.monotonic()
        ready = httpx.get(f"{world.base}/readyz", timeout=20)
        assert ready.status_code == 200  # degraded, not unready: see idp/health.py
        assert ready.json()["redis"].startswith("unavailable")
        assert ready.json()["degraded"] == ["redis"]
        assert "govid_redis_degraded 1.0" in scrape(world)

        # Sign-ins, refusals and second sign-ins all answer as usual, from the database.
        t = time.monotonic()
        assert "access_token" in sign_in(world, "bob")
        first_signin = time.monotonic() - t
        refused = wrong_password(world, "dave")
        assert refused.status_code == 401, refused.text[:300]
        assert "access_token" in sign_in(world, "erin")
        with world.services.sessions() as db:
            from idp.credentials.models import ThrottleEntry

            counted = db.get(ThrottleEntry, user_key(world.users["dave"]))
            assert counted is not None and counted.failures == 1  # the database counted it

        r.start()
        wait_until(
            lambda: httpx.get(f"{world.base}/readyz").json().get("redis") == "ok",
            20,
            "readyz to see Redis again",
        )
        assert "govid_redis_degraded 0.0" in scrape(world)
        assert "access_token" in sign_in(world, "frank")
        assert wrong_password(world, "grace").status_code == 401
        assert redis.Redis(port=r.port).exists(throttle_key(world.users["grace"]))
        outage = time.monotonic() - down_at
    with capsys.disabled():
        print(
            f"\nredis down {outage:.1f} s: 0 sign-ins failed; the first sign-in after the "
            f"loss took {first_signin:.2f} s (one Redis timeout, then the database)"
        )


def test_redis_sentinel_url_and_failover(fleet, pg_server, capsys):
    master = fleet.redis_server("master").start()
    replica = fleet.redis_server("replica").start(f"replicaof 127.0.0.1 {master.port}")
    sentinel = fleet.redis_server("sentinel").start(
        f"sentinel monitor govid 127.0.0.1 {master.port} 1",
        "sentinel down-after-milliseconds govid 1000",
        "sentinel failover-timeout govid 5000",
        sentinel=True,
    )
    wait_until(
        lambda: (
            redis.Redis(port=replica.port).info("replication").get("master_link_status") == "up"
        ),
        10,
        "the Redis replica's link to its master",
    )
    url = pg_server.create_database("govid_sentinel")
    sentinel_url = f"redis+sentinel://127.0.0.1:{sentinel.port}/govid/0"
    with deployed(url, IDP_REDIS_URL=sentinel_url) as world:
        ready = httpx.get(f"{world.base}/readyz").json()
        assert ready["redis"] == "ok"
        assert wrong_password(world, "carol").status_code == 401
        assert redis.Redis(port=master.port).exists(throttle_key(world.users["carol"]))

        master.stop()
        t0 = time.monotonic()
        # Sign-ins go on during the failover (the database meanwhile)...
        assert "access_token" in sign_in(world, "alice")

        # ...and once Sentinel has promoted the replica, GovID writes there.
        def promoted() -> bool:
            try:
                return redis.Redis(port=replica.port).info("replication")["role"] == "master"
            except redis.RedisError:
                return False

        wait_until(promoted, 30, "sentinel to promote the replica")
        promoted_after = time.monotonic() - t0

        def writes_to_new_master() -> bool:
            wrong_password(world, "dave")
            return bool(redis.Redis(port=replica.port).exists(throttle_key(world.users["dave"])))

        wait_until(writes_to_new_master, 20, "GovID to write to the new master", every=0.5)
        switched_after = time.monotonic() - t0
        assert httpx.get(f"{world.base}/readyz").json()["redis"] == "ok"
        b = Browser(world.base)
        url_, *_ = authorize_url(world, rp_client(world))
        page = b.login(b.go(url_), world.users["bob"])
        assert callback_params(page) and page.headers["location"].startswith(REDIRECT)
    with capsys.disabled():
        print(
            f"\nredis sentinel failover: replica promoted {promoted_after:.1f} s after the "
            f"master died; GovID writing to it after {switched_after:.1f} s; no sign-in failed"
        )
