"""Accounts through /admin/v1: create, ETag/If-Match, no mass assignment, every bad field
listed, suspension ending sessions and tokens, resets, purge; agencies and clients."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from idp.accounts.purge import purge_deleted
from idp.audit.models import AuditEvent
from idp.db import utcnow
from idp.sessions import service as sessions
from idp.sessions.models import LogoutDelivery, SessionClient
from idp.tokens import service as tokens
from idp.tokens.models import RefreshToken

A = "/admin/v1"


def test_create_with_activation_link_and_etag_rules(client, db, world):
    h = world.headers("admin_a")
    body = {"email": f"new.person@{world.u}.go.th", "agency": world.agencies["A1"].code}
    r = client.post(f"{A}/accounts", json=body, headers=h)
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["activation_token"] and not created["has_password"]
    assert r.headers["location"].endswith(f"/admin/v1/accounts/{created['id']}")
    url = f"{A}/accounts/{created['id']}"
    etag = client.get(url, headers=h).headers["etag"]
    assert etag == r.headers["etag"] == '"1"'
    # If-Match is required (428), must match (412), then works and changes the ETag.
    assert client.patch(url, json={"given_name_en": "X"}, headers=h).status_code == 428
    r = client.patch(url, json={"given_name_en": "X"}, headers={**h, "If-Match": '"99"'})
    assert r.status_code == 412
    assert r.json()["type"] == "urn:govid:problem:precondition-failed"
    r = client.patch(url, json={"given_name_en": "X"}, headers={**h, "If-Match": etag})
    assert r.status_code == 200 and r.json()["given_name_en"] == "X"
    assert r.headers["etag"] == '"2"'
    # No mass assignment: status, agency and roles are not fields of PATCH.
    r = client.patch(
        url,
        json={"status": "active", "agency": "x", "roles": ["operator"]},
        headers={**h, "If-Match": '"2"'},
    )
    assert r.status_code == 422
    assert {e["field"] for e in r.json()["errors"]} == {"status", "agency", "roles"}
    ev = db.scalars(
        select(AuditEvent).where(
            AuditEvent.subject == created["id"], AuditEvent.type == "admin.account.updated"
        )
    ).one()
    assert ev.details == {"changed": ["given_name_en"]} and ev.actor == str(
        world.accounts["admin_a"].id
    )


def test_every_bad_field_is_listed(client, world):
    h = world.headers("admin_a")
    body = {
        "email": "not-an-address",
        "agency": world.agencies["A"].code,
        "citizen_id": "1234567890123",
        "password": "short",
        "aliases": ["also bad"],
    }
    r = client.post(f"{A}/accounts", json=body, headers=h)
    assert r.status_code == 422
    assert r.headers["content-type"] == "application/problem+json"
    fields = {e["field"] for e in r.json()["errors"]}
    assert fields == {"email", "citizen_id", "password", "aliases.0"}
    r = client.post(f"{A}/accounts", json={"mailbox_quota_mb": -1}, headers=h)
    assert {e["field"] for e in r.json()["errors"]} >= {"email", "agency", "mailbox_quota_mb"}


def _live_session(db, world, account):
    s = world.services.settings
    new = sessions.create(
        db, s, account, acr=s.acr_level2, amr=["pwd", "otp"], ip=None, user_agent=None
    )
    rp = world.apps["admin_ui"]
    rp.backchannel_logout_uri = "https://admin.example.go.th/bc"
    db.add(SessionClient(session_id=new.row.id, client_id=rp.client_id))
    grant = tokens.create_grant(
        db, client=rp, account=account, scope="openid", sid=new.row.sid, acr=s.acr_level2,
        amr=["pwd"], auth_time=utcnow(), claims=None, lifetime=3600, now=utcnow(),
    )  # fmt: skip
    tokens.issue_refresh_token(
        db, grant=grant, client=rp, scope="openid", lifetime=3600, now=utcnow()
    )
    db.flush()
    return new.row, grant


def test_suspend_ends_sessions_revokes_tokens_and_queues_backchannel(client, db, world):
    target = world.accounts["user_a1"]
    row, grant = _live_session(db, world, target)
    before = db.query(LogoutDelivery).count()
    r = client.post(
        f"{A}/accounts/{target.id}/suspend", json={"reason": "left"}, headers=world.headers("bot_a")
    )
    assert r.status_code == 200 and r.json()["status"] == "suspended"
    db.refresh(row)
    db.refresh(grant)
    assert row.ended_at is not None and grant.revoked_at is not None
    assert (
        db.scalars(select(RefreshToken).where(RefreshToken.grant_id == grant.id)).one().revoked_at
    )
    assert db.query(LogoutDelivery).count() == before + 1
    ev = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == "admin.account.suspended")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert ev.actor == world.apps["bot_a"].client_id and ev.subject == str(target.id)
    r = client.post(f"{A}/accounts/{target.id}/resume", headers=world.headers("bot_a"))
    assert r.json()["status"] == "active"


@pytest.mark.parametrize(
    ("action", "reason"),
    [
        ("suspend", "account_suspended"),
        ("delete", "account_deleted"),
        ("password-reset", "password_reset"),
        ("mfa/reset", "mfa_reset"),
        ("sessions/end", "admin_ended"),
    ],
)
def test_every_admin_action_that_ends_sessions_ends_everything(client, db, world, action, reason):
    """Suspension, deletion, a password or second-factor reset and "end every session"
    end every session of the account (also one that lapsed by time: an app may still hold
    it) and revoke every grant with its refresh tokens, a grant whose session already
    ended included (RFC 9700 §4.14); each app that took part hears a back-channel logout."""
    target = world.accounts["user_a1"]
    live, live_grant = _live_session(db, world, target)
    lapsed, lapsed_grant = _live_session(db, world, target)
    lapsed.last_seen_at = lapsed.expires_at = utcnow() - dt.timedelta(hours=3)
    ended, ended_grant = _live_session(db, world, target)
    ended.ended_at, ended.end_reason = utcnow(), "logout"  # its grant left unrevoked
    other, other_grant = _live_session(db, world, world.accounts["user_a"])
    db.flush()
    before = db.query(LogoutDelivery).count()
    h = world.headers("admin_a", **{"If-Match": "*"})
    url = f"{A}/accounts/{target.id}"
    r = (
        client.delete(url, headers=h)
        if action == "delete"
        else client.post(f"{url}/{action}", headers=h)
    )
    assert r.status_code == 200, r.text
    for row in (live, lapsed, ended, other):
        db.refresh(row)
    assert live.end_reason == lapsed.end_reason == reason
    assert ended.end_reason == "logout"  # ended before: left as it was
    assert other.ended_at is None  # another account's session is untouched
    for grant in (live_grant, lapsed_grant, ended_grant):
        db.refresh(grant)
        assert grant.revoked_at is not None
        refresh = db.scalars(select(RefreshToken).where(RefreshToken.grant_id == grant.id)).one()
        assert refresh.revoked_at is not None
    db.refresh(other_grant)
    assert other_grant.revoked_at is None
    assert db.query(LogoutDelivery).count() == before + 2  # the live and the lapsed session


def test_password_reset_mfa_reset_sessions(client, db, world):
    target = world.accounts["user_a"]
    h = world.headers("admin_a")
    # The fixture's token for the account came from a sign-in session of its own.
    had = len(client.get(f"{A}/accounts/{target.id}/sessions", headers=h).json()["items"])
    _live_session(db, world, target)
    r = client.get(f"{A}/accounts/{target.id}/sessions", headers=h)
    assert len(r.json()["items"]) == had + 1
    r = client.post(f"{A}/accounts/{target.id}/password-reset", headers=h)
    assert r.status_code == 200
    assert r.json()["link_token"] and r.json()["sessions_ended"] == had + 1
    assert not r.json()["account"]["has_password"]
    assert client.get(f"{A}/accounts/{target.id}/sessions", headers=h).json()["items"] == []
    r = client.post(f"{A}/accounts/{target.id}/mfa/reset", headers=h)
    assert r.status_code == 200 and r.json()["sessions_ended"] == 0
    row, _ = _live_session(db, world, target)
    r = client.post(f"{A}/accounts/{target.id}/sessions/end", json={"sid": row.sid}, headers=h)
    assert r.json() == {"sessions_ended": 1}
    r = client.post(f"{A}/accounts/{target.id}/sessions/end", json={"sid": row.sid}, headers=h)
    assert r.status_code == 404


def test_delete_then_purge_erases_pii(client, db, world):
    target = world.accounts["user_a"]
    h = {**world.headers("admin_a"), "If-Match": '"1"'}
    r = client.delete(f"{A}/accounts/{target.id}", headers=h)
    assert r.status_code == 200 and r.json()["status"] == "deleted"
    assert purge_deleted(db, older_than=dt.timedelta(days=1), now=utcnow()) == 0
    a_day_later = utcnow() + dt.timedelta(days=1, seconds=1)
    n = purge_deleted(db, older_than=dt.timedelta(days=1), now=a_day_later)
    assert n >= 1
    db.refresh(target)
    assert target.email.endswith("@purged.invalid") and target.given_name_en == ""
    assert target.citizen_id_hmac is None and target.password_hash is None


def test_agency_admin_reads_agencies_operator_manages_them(client, db, world):
    op = world.headers("operator")
    r = client.post(
        f"{A}/agencies",
        json={
            "code": f"new-{world.u}",
            "name_th": "ใหม่",
            "name_en": "New",
            "parent": world.agencies["B"].code,
        },
        headers=op,
    )
    assert r.status_code == 201, r.text
    new = r.json()
    r = client.post(
        f"{A}/agencies/{new['id']}/move",
        json={"parent_id": str(world.agencies["A"].id)},
        headers={**op, "If-Match": r.headers["etag"]},
    )
    assert r.status_code == 200 and r.json()["parent_id"] == str(world.agencies["A"].id)
    assert r.json()["depth"] == 2
    # Now inside A: agency admin of A sees it.
    assert (
        client.get(f"{A}/agencies/{new['id']}", headers=world.headers("admin_a")).status_code == 200
    )
    # Moving A under its own child is refused.
    r = client.post(
        f"{A}/agencies/{world.agencies['A'].id}/move",
        json={"parent_id": new["id"]},
        headers={**op, "If-Match": "*"},
    )
    assert r.status_code == 422
    # An agency with accounts cannot be deleted; an empty one can.
    r = client.delete(f"{A}/agencies/{world.agencies['A1'].id}", headers={**op, "If-Match": "*"})
    assert r.status_code == 409 and r.json()["type"] == "urn:govid:problem:agency-not-empty"
    assert (
        client.delete(f"{A}/agencies/{new['id']}", headers={**op, "If-Match": "*"}).status_code
        == 204
    )


def test_clients_secret_shown_once_and_rotated(client, world):
    h = world.headers("admin_a")
    body = {
        "agency": world.agencies["A"].code,
        "name_th": "แอป",
        "name_en": "App",
        "redirect_uris": ["https://app.example.go.th/cb"],
        "backchannel_logout_uri": "https://app.example.go.th/bc",
        "min_acr": world.services.settings.acr_level2,
    }
    r = client.post(f"{A}/clients", json=body, headers=h)
    assert r.status_code == 201, r.text
    c = r.json()
    assert c["client_secret"] and c["min_acr"] == world.services.settings.acr_level2
    got = client.get(f"{A}/clients/{c['client_id']}", headers=h).json()
    assert "client_secret" not in got
    r = client.post(f"{A}/clients/{c['client_id']}/secret", headers={**h, "If-Match": '"1"'})
    assert r.status_code == 200 and r.json()["client_secret"] != c["client_secret"]
    bad = {**body, "redirect_uris": ["http://evil.example.com/cb#frag"]}
    r = client.post(f"{A}/clients", json=bad, headers=h)
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "redirect_uris"
    r = client.post(f"{A}/clients", json={**body, "scopes": ["openid", "citizen_id"]}, headers=h)
    assert r.status_code == 422  # citizen_id is for operators to give
    r = client.patch(
        f"{A}/clients/{c['client_id']}",
        json={"min_acr": None, "backchannel_logout_uri": None},
        headers={**h, "If-Match": "*"},
    )
    assert r.json()["min_acr"] is None and r.json()["backchannel_logout_uri"] is None
