"""A frozen PostgreSQL (SIGSTOP of the postmaster and every backend: connections are
accepted by the kernel, nothing answers) must not hang GovID (issue 21): /readyz says
"unavailable" and every surface answers 503 with Retry-After in its own format, then
everything works again by itself once the database thaws. Before the timeouts, /readyz
and every request waited for ever."""

from __future__ import annotations

import re
import time

import httpx

from tests.faults.conftest import deployed, machine_token
from tests.protocol.conftest import REDIRECT, Browser
from tests.protocol.rp import authorize_url, rp_client
from tests.waiting import wait_until

# No request may wait longer than this: a hang fails the test instead of the run.
NO_HANG = httpx.Timeout(20.0)


def test_frozen_database_answers_503_everywhere_and_recovers(fleet, capsys):
    pg = fleet.pg("frozen").start()
    url = pg.create_database("govid")
    with deployed(url, IDP_METRICS_TOKEN="metrics-token-for-the-test") as world:
        base = world.base
        # Before the fault: tokens for the admin API and SCIM, and a sign-in page open.
        admin = machine_token(world).json()["access_token"]
        scim = machine_token(world, "hr", "scim").json()["access_token"]
        browser = Browser(base)
        browser.http.headers["accept-language"] = "th"
        browser.http.headers["accept"] = "text/html"
        url_, _verifier, _nonce, _state = authorize_url(world, rp_client(world))
        login_page = browser.go(url_)
        assert 'action="/login"' in login_page.text
        assert httpx.get(f"{base}/readyz").status_code == 200

        pg.freeze()
        frozen_at = time.monotonic()
        try:
            seen: dict[str, tuple[int, float]] = {}

            def call(name: str, fn) -> httpx.Response:
                t = time.monotonic()
                r = fn()
                seen[name] = (r.status_code, time.monotonic() - t)
                return r

            ready = call("readyz", lambda: httpx.get(f"{base}/readyz", timeout=NO_HANG))
            assert ready.status_code == 503
            assert ready.json()["status"] == "unavailable"
            assert "database unreachable" in ready.json()["reason"]

            token = call("token", lambda: httpx.post(
                f"{base}/token",
                data={"grant_type": "client_credentials"},
                auth=(world.client("machine")["client_id"], world.client("machine")["secret"]),
                timeout=NO_HANG,
            ))  # fmt: skip
            assert token.status_code == 503, token.text
            assert token.headers["content-type"].startswith("application/json")
            assert token.json()["error"] == "temporarily_unavailable"
            assert int(token.headers["retry-after"]) > 0
            assert token.headers["cache-control"] == "no-store"

            # The resource-server reads (their row read on the event loop, decision 0016).
            machine = (world.client("machine")["client_id"], world.client("machine")["secret"])
            for name, fn in (
                ("userinfo", lambda: httpx.get(
                    f"{base}/userinfo", headers={"authorization": f"Bearer {admin}"},
                    timeout=NO_HANG,
                )),
                ("introspect", lambda: httpx.post(
                    f"{base}/introspect", data={"token": admin}, auth=machine, timeout=NO_HANG
                )),
            ):  # fmt: skip
                read = call(name, fn)
                assert read.status_code == 503, read.text
                assert read.json()["error"] == "temporarily_unavailable"
                assert int(read.headers["retry-after"]) > 0

            listed = call("admin", lambda: httpx.get(
                f"{base}/admin/v1/accounts",
                headers={"authorization": f"Bearer {admin}"},
                timeout=NO_HANG,
            ))  # fmt: skip
            assert listed.status_code == 503, listed.text
            assert listed.headers["content-type"].startswith("application/problem+json")
            assert listed.json()["type"] == "urn:govid:problem:service-unavailable"
            assert listed.json()["status"] == 503
            assert int(listed.headers["retry-after"]) > 0

            users = call("scim", lambda: httpx.get(
                f"{base}/scim/v2/Users",
                headers={"authorization": f"Bearer {scim}"},
                timeout=NO_HANG,
            ))  # fmt: skip
            assert users.status_code == 503, users.text
            assert users.headers["content-type"].startswith("application/scim+json")
            assert users.json()["status"] == "503"
            assert "urn:ietf:params:scim:api:messages:2.0:Error" in users.json()["schemas"]
            assert int(users.headers["retry-after"]) > 0

            browser.http.timeout = NO_HANG
            page = call("sign-in page", lambda: browser.login(login_page, world.users["alice"]))
            assert page.status_code == 503
            assert page.headers["content-type"].startswith("text/html")
            assert "ระบบขัดข้องชั่วคราว" in page.text  # the person's language (Thai)
            assert int(page.headers["retry-after"]) > 0
        finally:
            pg.thaw()
        thawed_at = time.monotonic()

        # By itself: no restart of GovID.
        wait_until(
            lambda: httpx.get(f"{base}/readyz", timeout=NO_HANG).status_code == 200,
            30,
            "GovID to be ready again after the database thawed",
        )
        ready_after = time.monotonic() - thawed_at
        assert machine_token(world).status_code == 200
        # The operator sees the 503s by surface and cause in /metrics.
        scraped = httpx.get(
            f"{base}/metrics", headers={"authorization": "Bearer metrics-token-for-the-test"}
        ).text
        for surface in ("oauth", "admin", "scim", "pages"):
            assert re.search(
                rf'govid_unavailable_responses_total\{{cause="\w+",surface="{surface}"\}} [1-9]',
                scraped,
            ), surface
        page = browser.go(url_)
        page = browser.login(page, world.users["alice"])
        assert page.status_code in (302, 303)
        assert page.headers["location"].startswith(REDIRECT)

    with capsys.disabled():
        print(
            "\nfrozen database: "
            + ", ".join(f"{k} {s} in {d:.1f} s" for k, (s, d) in seen.items())
            + f"; frozen for {thawed_at - frozen_at:.1f} s; ready {ready_after:.1f} s after thaw"
        )
