"""Userinfo and introspection read liveness on every request (decision 0016): on
PostgreSQL the row is read on the event loop, on SQLite through a session; either way a
suspended account, a revoked grant or a disabled client stops the token with the next
request, and a resumed account works again with the next request (nothing is cached)."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import update

from idp.accounts.models import Account
from idp.clients.models import Client
from idp.db import utcnow
from idp.tokens import service as tokens
from idp.tokens.models import Grant
from tests.protocol.rp import login, token_post
from tests.protocol.test_token_fast_path import unverified_claims


def userinfo(world, at: str) -> httpx.Response:
    return httpx.get(f"{world.base}/userinfo", headers={"Authorization": f"Bearer {at}"})


def active(world, token: str) -> bool:
    r = token_post(world, "web", {"token": token}, path="/introspect")
    assert r.status_code == 200, r.text
    return r.json()["active"]


def _set_status(world, email: str, status: str) -> None:
    with world.services.sessions.begin() as db:
        db.execute(update(Account).where(Account.email == email).values(status=status))


# Without govid the row is read on the event loop (PostgreSQL); with it (agency_path,
# roles) the thread path answers: both must see every change.
SCOPES = pytest.mark.parametrize("scope", ["openid profile email", "openid profile email govid"])


@SCOPES
def test_suspension_and_resumption_are_seen_by_the_next_request(world, scope):
    email = world.users["alice"]
    at = login(world, scope=scope).token["access_token"]
    try:
        for _ in range(3):  # back and forth: no answer is remembered
            assert userinfo(world, at).status_code == 200
            assert active(world, at) is True
            _set_status(world, email, "suspended")
            r = userinfo(world, at)
            assert r.status_code == 401, r.text
            assert r.json()["error"] == "invalid_token"
            assert 'error="invalid_token"' in r.headers["www-authenticate"]
            assert active(world, at) is False
            _set_status(world, email, "active")
    finally:
        _set_status(world, email, "active")
    body = userinfo(world, at).json()
    assert body["sub"] == unverified_claims(at)["sub"] and body["email"] == email
    assert ("agency_path" in body) == ("govid" in scope)


@SCOPES
def test_a_grant_revoked_in_the_database_stops_its_tokens_at_once(world, scope):
    at = login(world, scope=scope).token["access_token"]
    assert userinfo(world, at).status_code == 200 and active(world, at) is True
    grant_id = unverified_claims(at)["jti"].split(".", 1)[0]
    with world.services.sessions.begin() as db:
        tokens.revoke_grant(db, uuid.UUID(hex=grant_id), "logout")
    assert userinfo(world, at).status_code == 401
    assert active(world, at) is False


@SCOPES
def test_a_client_disabled_in_the_database_stops_its_tokens_at_once(world, scope):
    """The client's status is read with the token's row, not taken from the client cache
    (which another process may hold for up to IDP_CLIENT_CACHE_SECONDS)."""
    at = login(world, name="web", scope=scope).token["access_token"]
    cid = world.client("web")["client_id"]
    assert userinfo(world, at).status_code == 200
    try:
        with world.services.sessions.begin() as db:  # behind the server's cache's back
            db.execute(update(Client).where(Client.client_id == cid).values(status="disabled"))
        assert userinfo(world, at).status_code == 401
    finally:
        with world.services.sessions.begin() as db:
            db.execute(update(Client).where(Client.client_id == cid).values(status="active"))
    assert userinfo(world, at).status_code == 200


def test_userinfo_refusals_keep_their_shapes(world):
    at = login(world).token["access_token"]
    base = f"{world.base}/userinfo"
    r = httpx.get(base)
    assert r.status_code == 401 and r.headers["www-authenticate"] == 'Bearer realm="GovID"'
    r = httpx.post(base, headers={"Authorization": f"Bearer {at}"}, data={"access_token": at})
    assert r.status_code == 400 and "exactly one place" in r.json()["error_description"]
    r = httpx.get(f"{base}?access_token={at}")
    assert r.status_code == 400 and "URL" in r.json()["error_description"]
    r = httpx.get(base, headers={"Authorization": f"Bearer {at[:-4]}AAAA"})
    assert r.status_code == 401 and r.json()["error"] == "invalid_token"
    r = httpx.post(base, data={"access_token": at})  # RFC 6750 §2.2: the form body
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


def test_introspection_of_a_refresh_token_and_of_rubbish(world):
    lg = login(world)
    r = token_post(world, "web", {"token": lg.token["refresh_token"]}, path="/introspect")
    assert r.status_code == 200 and r.json()["token_type"] == "refresh_token"
    for rubbish in ("a.b.c", "x" * 9000, lg.token["access_token"][:-3] + "abc"):
        r = token_post(world, "web", {"token": rubbish}, path="/introspect")
        assert r.status_code == 200 and r.json() == {"active": False}
    # A wrong secret is refused before any token is looked at (RFC 7662 §2.1).
    c = world.client("web")
    r = httpx.post(
        f"{world.base}/introspect",
        data={"token": lg.token["access_token"]},
        auth=(c["client_id"], "wrong"),
    )
    assert r.status_code == 401 and r.json()["error"] == "invalid_client"


def test_grant_revocation_with_grant_rows_untouched_elsewhere(world):
    """Revoking one grant leaves another grant of the same person working."""
    one = login(world).token["access_token"]
    two = login(world).token["access_token"]
    gid = unverified_claims(one)["jti"].split(".", 1)[0]
    with world.services.sessions.begin() as db:
        db.execute(update(Grant).where(Grant.id == uuid.UUID(hex=gid)).values(revoked_at=utcnow()))
    assert userinfo(world, one).status_code == 401
    assert userinfo(world, two).status_code == 200
