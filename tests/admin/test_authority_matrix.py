"""Acting on an account needs authority over every role it holds (decision 0013).

Every account operation of the admin API and SCIM × where the target lives relative to
the caller (own agency, child, parent, sibling, other ministry) × the roles the target
holds (none, the caller's own scope, the parent ministry, operator), for a person
(agency admin of department A) and a machine (admin:accounts / scim over A). Every
refusal leaves one ``admin.request.denied`` event; no refusal changes anything."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from idp.accounts import roles
from idp.accounts import service as accounts
from idp.accounts.models import Account, RoleGrant
from idp.audit.models import AuditEvent

P = "/admin/v1/accounts"
S = "/scim/v2/Users"
PATCH_OP = "urn:ietf:params:scim:api:messages:2.0:PatchOp"

# (name, method, path template, json body or None, allowed status)
ADMIN_OPS = [
    ("patch", "PATCH", P + "/{id}", {"given_name_en": "Changed"}, 200),
    ("suspend", "POST", P + "/{id}/suspend", {"reason": "matrix"}, 200),
    ("resume", "POST", P + "/{id}/resume", None, 200),
    ("password", "POST", P + "/{id}/password-reset", None, 200),
    ("mfa", "POST", P + "/{id}/mfa/reset", None, 200),
    ("sessions", "POST", P + "/{id}/sessions/end", None, 200),
    ("delete", "DELETE", P + "/{id}", None, 200),
]
SCIM_OPS = [
    (
        "scim_inactive",
        "PATCH",
        S + "/{id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "active", "value": False}],
        },
        200,
    ),
    (
        "scim_patch_name",
        "PATCH",
        S + "/{id}",
        {
            "schemas": [PATCH_OP],
            "Operations": [{"op": "replace", "path": "name.givenName", "value": "Changed"}],
        },
        200,
    ),
    (
        "scim_put",
        "PUT",
        S + "/{id}",
        lambda target: {  # a full replacement that keeps the address, renames the person
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": target.email,
            "name": {"givenName": "Replaced", "familyName": "Person"},
            "active": True,
        },
        200,
    ),
    ("scim_delete", "DELETE", S + "/{id}", None, 204),
]
POSITIONS = {"own": "A", "child": "A1", "parent": "M", "sibling": "B", "other": "O"}
GRANTS = ["none", "same", "parent", "operator", "auditor_elsewhere"]


def _give(db, world, account, grants: str) -> None:
    if grants == "same":
        roles.grant_role(db, account, "agency_admin", world.agencies["A"])
    elif grants == "parent":
        roles.grant_role(db, account, "agency_admin", world.agencies["M"])
    elif grants == "operator":
        roles.grant_role(db, account, "operator", world.agencies["M"])
    elif grants == "auditor_elsewhere":
        roles.grant_role(db, account, "auditor", world.agencies["O"])


def _expected(position: str, grants: str, allowed: int) -> tuple[int, str | None]:
    if POSITIONS[position] not in ("A", "A1"):
        return 404, None  # outside the subtree: exactly like a missing account
    if grants == "operator":
        return 403, "operator"
    if grants in ("parent", "auditor_elsewhere"):
        return 403, "role_outside_scope"
    return allowed, None


def _denials(db) -> int:
    return db.scalar(
        select(func.count())
        .select_from(AuditEvent)
        .where(AuditEvent.type == "admin.request.denied")
    )


def _call(client, world, who, method, path, body):
    headers = world.headers(who, **{"If-Match": "*"})
    if path.startswith(S):
        headers["Content-Type"] = "application/scim+json"
    return client.request(method, path, headers=headers, json=body)


@pytest.fixture
def callers(world):
    world.machine("hr_a", "A", ("scim",))
    return world


@pytest.mark.parametrize("grants", GRANTS)
@pytest.mark.parametrize("position", list(POSITIONS))
@pytest.mark.parametrize("who", ["admin_a", "bot_a", "hr_a"])
def test_matrix(client, db, callers, who, position, grants):
    world = callers
    ops = SCIM_OPS if who == "hr_a" else ADMIN_OPS
    for name, method, template, body, allowed in ops:
        target = world.person(f"t-{name}-{position}-{grants}", POSITIONS[position])
        _give(db, world, target, grants)
        db.flush()
        before = (target.status, target.password_hash, target.version, target.given_name_en)
        denied_before = _denials(db)
        if name == "resume":
            accounts.suspend(db, target, actor="test")
            before = (target.status, target.password_hash, target.version, target.given_name_en)
        sent = body(target) if callable(body) else body
        r = _call(client, world, who, method, template.format(id=target.id), sent)
        status, reason = _expected(position, grants, allowed)
        assert r.status_code == status, (who, name, position, grants, r.text[:300])
        db.expire_all()
        after = db.get(Account, target.id)
        if status >= 400:
            now = (after.status, after.password_hash, after.version, after.given_name_en)
            assert now == before, name
            assert _denials(db) == denied_before + 1, f"{name}: refusal not audited"
            held = db.scalars(select(RoleGrant.role).where(RoleGrant.account_id == target.id))
            assert (grants == "none") or list(held), f"{name}: a grant was removed"
            if reason and not path_is_scim(template):
                problem = r.json()
                assert problem["type"] == "urn:govid:problem:protected-account"
                assert problem["reason"] == reason
        else:
            assert _denials(db) == denied_before, f"{name}: an allowed call was audited denied"


def path_is_scim(template: str) -> bool:
    return template.startswith(S)


def test_listing_shows_protection_without_naming_foreign_grants(client, db, world):
    boss = world.person("boss", "A")
    roles.grant_role(db, boss, "agency_admin", world.agencies["M"])
    peer = world.person("peer", "A")
    roles.grant_role(db, peer, "agency_admin", world.agencies["A"])
    op = world.person("op2", "A1")
    roles.grant_role(db, op, "operator", world.agencies["M"])
    db.flush()
    r = client.get(P, headers=world.headers("admin_a"), params={"limit": 500})
    assert r.status_code == 200
    by_email = {a["email"]: a for a in r.json()["items"]}
    assert by_email[boss.email]["protected"] == "role_outside_scope"
    assert by_email[op.email]["protected"] == "operator"
    assert by_email[peer.email]["protected"] is None
    assert world.agencies["M"].code not in r.text  # the ministry grant is not revealed
    one = client.get(f"{P}/{boss.id}", headers=world.headers("admin_a")).json()
    assert one["protected"] == "role_outside_scope"
    # The operator sees nothing protected.
    r = client.get(f"{P}/{boss.id}", headers=world.headers("operator"))
    assert r.json()["protected"] is None


def test_denied_event_names_caller_target_and_reason(client, db, world):
    boss = world.person("boss2", "A")
    roles.grant_role(db, boss, "agency_admin", world.agencies["M"])
    db.flush()
    r = client.post(f"{P}/{boss.id}/password-reset", headers=world.headers("admin_a"))
    assert r.status_code == 403
    ev = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == "admin.request.denied")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert ev.outcome == "denied" and ev.actor == str(world.accounts["admin_a"].id)
    assert ev.subject == str(boss.id)
    assert ev.details == {
        "method": "POST",
        "path": "/admin/v1/accounts/{account_id}/password-reset",
        "reason": "role_outside_scope",
    }
    # Another ministry's account: 404 like a missing one, audited as outside_scope.
    other = world.accounts["user_o"]
    r = client.post(f"{P}/{other.id}/suspend", headers=world.headers("admin_a"), json={})
    assert r.status_code == 404 and r.json()["type"] == "urn:govid:problem:not-found"
    ev = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == "admin.request.denied")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert ev.details["reason"] == "outside_scope" and ev.subject == str(other.id)
    # A genuinely missing account is not a refusal.
    before = _denials(db)
    r = client.get(f"{P}/00000000-0000-4000-8000-000000000000", headers=world.headers("admin_a"))
    assert r.status_code == 404 and _denials(db) == before


def _first_party_app(db, world):
    from idp.clients import service as clients

    row, _secret = clients.create(
        db,
        clients.NewClient(
            agency_code=world.agencies["A"].code,
            name_th="แอปกลาง",
            name_en="Central app",
            client_id=f"central-{world.u}",
            redirect_uris=("https://central.example.go.th/cb",),
            first_party=True,
        ),
        actor="operator",
    )
    db.flush()
    return row


@pytest.mark.parametrize("who", ["admin_a", "bot_a"])
def test_first_party_app_is_changed_by_operators_only(client, db, world, who):
    app = _first_party_app(db, world)
    path = f"/admin/v1/clients/{app.client_id}"
    hdr = world.headers(who, **{"If-Match": "*"})
    before = _denials(db)
    evil = {"redirect_uris": ["https://evil.example.go.th/cb"]}
    assert client.patch(path, headers=hdr, json=evil).status_code == 403
    assert client.post(f"{path}/secret", headers=hdr).status_code == 403
    assert client.delete(path, headers=hdr).status_code == 403
    assert _denials(db) == before + 3
    db.expire_all()
    from idp.clients.models import Client

    row = db.scalar(select(Client).where(Client.client_id == app.client_id))
    assert row.redirect_uris == ["https://central.example.go.th/cb"] and row.status == "active"
    # An operator may, and the change is audited with the URIs before and after.
    ok = client.patch(path, headers=world.headers("operator", **{"If-Match": "*"}), json=evil)
    assert ok.status_code == 200, ok.text
    ev = db.scalars(
        select(AuditEvent)
        .where(AuditEvent.type == "admin.client.updated")
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert ev.details["redirect_uris"] == {
        "before": ["https://central.example.go.th/cb"],
        "after": ["https://evil.example.go.th/cb"],
    }


def test_admin_power_ends_with_the_level2_session(client, db, world):
    """Issue 17 rule 10: a person's admin token works only while the level-2 session it
    came from does (its 30-minute idle limit, its end), whatever the token's own expiry
    or a refresh token would allow; the answer is the RFC 9470 step-up challenge."""
    import datetime as dt

    from idp.db import utcnow
    from idp.sessions import service as sessions

    tok = world.person_token(world.accounts["admin_a"])
    hdr = {"Authorization": f"Bearer {tok}"}
    assert client.get(P, headers=hdr).status_code == 200
    row = sessions.by_sid(db, world.sids[world.accounts["admin_a"].id])
    idle = world.services.settings.session_idle_ttl_level2
    row.last_seen_at = utcnow() - dt.timedelta(seconds=idle + 5)
    db.flush()
    r = client.get(P, headers=hdr)
    assert r.status_code == 401 and r.json()["type"] == "urn:govid:problem:insufficient-assurance"
    assert 'error="insufficient_user_authentication"' in r.headers["www-authenticate"]
    # Used within the idle limit, the session stays at level 2 (use is activity).
    tok = world.person_token(world.accounts["admin_a"])
    row = sessions.by_sid(db, world.sids[world.accounts["admin_a"].id])
    row.last_seen_at = utcnow() - dt.timedelta(seconds=idle - 60)
    db.flush()
    assert client.get(P, headers={"Authorization": f"Bearer {tok}"}).status_code == 200
    assert utcnow() - row.last_seen_at < dt.timedelta(seconds=5)
    # An ended session (sign-out, suspension) ends the admin power at once.
    sessions.end(row, "test")
    db.flush()
    assert client.get(P, headers={"Authorization": f"Bearer {tok}"}).status_code == 401
