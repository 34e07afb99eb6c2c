"""A person reads their own role grants wherever their account lives (the console's
dashboard and the forms it offers follow them): an agency admin of ministry M whose own
account is in another ministry O sees their grant, and still nobody else's outside M."""

from __future__ import annotations

import datetime as dt

from idp.accounts import roles
from idp.clock import FakeClock

GRANTS = "/admin/v1/role-grants"


def test_own_grants_are_readable_from_outside_the_subtree(client, world):
    far = world.person("far_admin", "O")  # their account: ministry O
    roles.grant_role(world.db, far, "agency_admin", world.agencies["M"])  # power: M
    world.db.flush()
    h = world.headers("far_admin")
    r = client.get(GRANTS, params={"account_id": str(far.id)}, headers=h)
    assert r.status_code == 200, r.text
    assert [(g["role"], g["agency"]["code"]) for g in r.json()["items"]] == [
        ("agency_admin", world.agencies["M"].code)
    ]
    # The id in another case is the same account.
    r = client.get(GRANTS, params={"account_id": str(far.id).upper()}, headers=h)
    assert r.status_code == 200 and len(r.json()["items"]) == 1
    # Someone else in O (outside M) stays out of reach, as before...
    other = world.accounts["user_o"]
    r = client.get(GRANTS, params={"account_id": str(other.id)}, headers=h)
    assert r.status_code == 404
    # ...and far_admin's grants stay hidden from an auditor of A, whose subtree holds
    # neither far_admin's account nor the grant's agency.
    r = client.get(GRANTS, params={"account_id": str(far.id)}, headers=world.headers("auditor_a"))
    assert r.status_code == 404
    # A person without any admin role still reads nothing, not even their own.
    nobody = world.accounts["nobody"]
    r = client.get(GRANTS, params={"account_id": str(nobody.id)}, headers=world.headers("nobody"))
    assert r.status_code == 403


def test_a_temporary_role_ends_when_the_servers_clock_passes_its_expiry(
    client, world, services, monkeypatch
):
    """Role grants expire on the Clock (DESIGN rule 4): the admin's power is there a
    little before ``expires_at`` and gone after, with a fresh sign-in each time."""
    clock = FakeClock()
    monkeypatch.setattr(services, "clock", clock)
    temp = world.person("temp_admin", "A")
    until = clock.now() + dt.timedelta(hours=1)
    roles.grant_role(world.db, temp, "agency_admin", world.agencies["A"], expires_at=until)
    world.db.flush()

    def accounts_page() -> int:
        token = world.person_token(temp)  # signed in now, at level 2
        h = {"Authorization": f"Bearer {token}"}
        return client.get("/admin/v1/accounts", headers=h).status_code

    assert accounts_page() == 200
    clock.advance(3600 - 10)
    assert accounts_page() == 200  # ten seconds left
    clock.advance(11)
    assert accounts_page() == 403  # the grant has run out
