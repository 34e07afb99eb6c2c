"""Refusals on another ministry's apps, APIs, role grants and directory changes are
audited (issue 17 rule 4, found by an independent check): the answer is a 404 exactly
like a missing object's, and one ``admin.request.denied`` event names the caller and the
target; a truly missing object leaves no event. Nothing changes."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import func, select

from idp.accounts import roles
from idp.audit.models import AuditEvent
from idp.clients.models import Client
from idp.directory import outbox
from idp.resources import registration


def _denials(db) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == "admin.request.denied")
            .order_by(AuditEvent.seq)
        )
    )


@pytest.fixture
def elsewhere(db, world):
    """Objects of the other ministry (O), which department A's admins cannot see."""
    world.machine("o_app", "O", ("admin:accounts",))
    api, _ = registration.create(
        db,
        registration.NewApi(
            agency_code=world.agencies["O"].code,
            identifier=f"https://api.o{world.u}.go.th/leave",
            name_th="ลา",
            name_en="Leave",
            scopes=("leave:read",),
        ),
        issuer=world.services.settings.issuer,
    )
    grant = roles.grant_role(db, world.accounts["user_o"], "agency_admin", world.agencies["O"])
    entry = outbox.enqueue(db, world.accounts["user_o"], "modify")
    db.flush()
    return {
        "client": world.apps["o_app"].client_id,
        "api": str(api.id),
        "grant": str(getattr(grant, "id", None) or db.scalars(select_grant(world)).first()),
        "entry": str(entry.id),
    }


def select_grant(world):
    from idp.accounts.models import RoleGrant

    return select(RoleGrant.id).where(RoleGrant.account_id == world.accounts["user_o"].id)


REQUESTS = [
    ("GET", "/admin/v1/clients/{client}", None),
    ("PATCH", "/admin/v1/clients/{client}", {"name_en": "Mine now"}),
    ("POST", "/admin/v1/clients/{client}/secret", None),
    ("DELETE", "/admin/v1/clients/{client}", None),
    ("PATCH", "/admin/v1/apis/{api}", {"shared_with": "all"}),
    ("DELETE", "/admin/v1/apis/{api}", None),
    ("DELETE", "/admin/v1/role-grants/{grant}", None),
    ("POST", "/admin/v1/outbox/{entry}/retry", None),
]


@pytest.mark.parametrize("who", ["admin_a", "bot_a"])
def test_another_ministrys_objects_are_not_found_and_audited(client, db, world, elsewhere, who):
    for method, template, body in REQUESTS:
        if who == "bot_a" and "role-grants" in template:
            continue  # role grants are for people; a machine is refused by scope first
        path = template.format(**elsewhere)
        before = len(_denials(db))
        headers = world.headers(who, **{"If-Match": "*"})
        r = client.request(method, path, headers=headers, json=body)
        assert r.status_code == 404, (path, r.text)
        missing = template.format(
            client="no-such-client",
            api=str(uuid.uuid4()),
            grant=str(uuid.uuid4()),
            entry="999999999",
        )
        r2 = client.request(method, missing, headers=headers, json=body)
        assert r2.status_code == 404
        assert r.json()["type"] == r2.json()["type"]  # alike: the answer tells nothing
        db.expire_all()
        events = _denials(db)[before:]
        assert len(events) == 1, (path, [(e.subject, e.details) for e in events])
        assert events[0].outcome == "denied"
        assert events[0].subject == path.split("/")[4]  # the id the request named
    assert db.scalar(select(Client.status).where(Client.client_id == elsewhere["client"])) == (
        "active"
    )
    assert db.scalar(select(func.count()).select_from(select_grant(world).subquery())) == 1
