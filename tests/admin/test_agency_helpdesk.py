"""Issue 19: each agency names whom its people contact when they cannot sign in (helpdesk
mail, phone, page) and its PDPA privacy notice; operators set them through PATCH
/admin/v1/agencies/{id}, validated and audited with before/after; the recovery page and
the footer find them from the agency, its ancestors, then the central helpdesk."""

from __future__ import annotations

from sqlalchemy import select

from idp.agencies import service as agencies
from idp.audit.models import AuditEvent

A = "/admin/v1"
CENTRAL = agencies.Helpdesk("central@govid.go.th", "1111", None, None, None)


def _patch(client, world, who, agency, body, etag="*"):
    return client.patch(
        f"{A}/agencies/{world.agencies[agency].id}",
        json=body,
        headers=world.headers(who, **{"If-Match": etag}),
    )


def test_operator_sets_helpdesk_reads_it_back_and_it_is_audited(client, db, world):
    body = {
        "helpdesk_email": "Helpdesk@Dept-A.go.th",
        "helpdesk_phone": "02 123 4567 ext 12",
        "helpdesk_url": "https://dept-a.go.th/help",
        "privacy_url": "https://dept-a.go.th/privacy",
    }
    r = _patch(client, world, "operator", "A", body)
    assert r.status_code == 200, r.text
    got = client.get(f"{A}/agencies/{world.agencies['A'].id}", headers=world.headers("admin_a"))
    assert got.status_code == 200
    assert {k: got.json()[k] for k in body} == {**body, "helpdesk_email": "helpdesk@dept-a.go.th"}
    ev = db.scalars(
        select(AuditEvent)
        .where(
            AuditEvent.type == "admin.agency.updated",
            AuditEvent.subject == str(world.agencies["A"].id),
        )
        .order_by(AuditEvent.seq.desc())
    ).first()
    assert ev.details["changed"] == sorted(body)
    assert ev.details["before"] == dict.fromkeys(body)
    assert ev.details["after"]["helpdesk_phone"] == "02 123 4567 ext 12"
    # '' clears one field; the others stay.
    r = _patch(client, world, "operator", "A", {"helpdesk_phone": ""}, r.headers["etag"])
    assert r.status_code == 200 and r.json()["helpdesk_phone"] is None
    assert r.json()["helpdesk_email"] == "helpdesk@dept-a.go.th"


def test_bad_contact_values_are_refused_next_to_their_field(client, world):
    for field, value in (
        ("helpdesk_email", "not an address"),
        ("helpdesk_phone", "call me maybe"),
        ("helpdesk_url", "javascript:alert(1)"),
        ("helpdesk_url", "http://plain.go.th/help"),
        ("privacy_url", "https://x.go.th/<script>"),
    ):
        r = _patch(client, world, "operator", "A", {field: value})
        assert r.status_code == 422, (field, value, r.text)
        assert [e["field"] for e in r.json()["errors"]] == [field]
    r = _patch(client, world, "operator", "A", {"helpdesk_phone": "1" * 41})
    assert r.status_code == 422


def test_only_operators_change_it_as_for_other_agency_fields(client, world):
    r = _patch(client, world, "admin_a", "A", {"helpdesk_email": "x@a.go.th"})
    assert r.status_code in (403, 404)
    r = _patch(client, world, "bot_a", "A", {"helpdesk_email": "x@a.go.th"})
    assert r.status_code in (403, 404)


def test_helpdesk_comes_from_the_nearest_agency_then_the_central_one(db, world):
    office = world.agencies["A1"]
    assert agencies.helpdesk_for(db, office, CENTRAL) == CENTRAL
    ministry = world.agencies["M"]
    ministry.helpdesk_email = "it@m.go.th"
    ministry.privacy_url = "https://m.go.th/privacy"
    world.agencies["A"].helpdesk_phone = "02 000 0000"
    db.flush()
    found = agencies.helpdesk_for(db, office, CENTRAL)
    # Dept A names a phone (so it is A's helpdesk); the ministry's mail and notice fill in.
    assert found.agency.id == world.agencies["A"].id
    assert (found.email, found.phone, found.privacy_url) == (
        "it@m.go.th",
        "02 000 0000",
        "https://m.go.th/privacy",
    )
    assert agencies.helpdesk_for(db, world.agencies["B"], CENTRAL).agency.id == ministry.id


def test_agency_found_from_the_mail_domain_of_any_address(db, world):
    m = world.agencies["M"]
    assert agencies.by_mail_domain(db, f"nobody-at-all@{world.u}.go.th").id == m.id
    assert agencies.by_mail_domain(db, f"x@SUB.{world.u}.go.th").id == m.id
    assert agencies.by_mail_domain(db, f"x@o{world.u}.go.th").id == world.agencies["O"].id
    assert agencies.by_mail_domain(db, "x@unknown-domain.example") is None
    assert agencies.by_mail_domain(db, "no-at-sign") is None
