"""Issue 19, the pages' frame: an operator uploads an agency's logo (PUT
/admin/v1/agencies/{id}/logo, the image as the body); PNG or JPEG only, checked by its
signature against the declared type, size- and dimension-limited, audited; served at a
name holding its hash with a year's cache, its own type and nosniff; the sign-in pages
find it for the agency or the nearest one above."""

from __future__ import annotations

from sqlalchemy import select

from idp.agencies import logos
from idp.audit.models import AuditEvent
from tests.images import JPEG, png

A = "/admin/v1"
SVG = b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'


def _put(client, world, who, agency, data, ctype):
    return client.put(
        f"{A}/agencies/{world.agencies[agency].id}/logo",
        content=data,
        headers=world.headers(who, **{"Content-Type": ctype}),
    )


def test_operator_uploads_a_logo_it_is_served_cached_and_audited(client, db, world):
    image = png()
    r = _put(client, world, "operator", "A", image, "image/png")
    assert r.status_code == 200, r.text
    assert r.json()["content_type"] == "image/png" and r.json()["bytes"] == len(image)
    path = logos.logo_path(db, world.agencies["A"])
    assert path == f"/agency-logos/{world.agencies['A'].id.hex}/{r.json()['sha256'][:16]}"
    got = client.get(path)
    assert got.status_code == 200 and got.content == image
    assert got.headers["content-type"] == "image/png"
    assert got.headers["x-content-type-options"] == "nosniff"
    assert got.headers["cache-control"] == "public, max-age=31536000, immutable"
    assert got.headers["content-security-policy"] == "default-src 'none'; sandbox"
    # An office below finds its department's; an agency elsewhere has none.
    assert logos.logo_path(db, world.agencies["A1"]) == path
    assert logos.logo_path(db, world.agencies["B"]) is None
    ev = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "admin.agency.logo_set",
            AuditEvent.subject == str(world.agencies["A"].id),
        )
    ).one()
    assert ev.details == {
        "content_type": "image/png",
        "bytes": len(image),
        "sha256": r.json()["sha256"],
        "before": None,
    }

    # A new upload is a new name: the old one is gone at once (not served stale).
    r2 = _put(client, world, "operator", "A", JPEG, "image/jpeg")
    assert r2.status_code == 200, r2.text
    assert client.get(path).status_code == 404
    new = logos.logo_path(db, world.agencies["A"])
    assert new != path and client.get(new).headers["content-type"] == "image/jpeg"

    r = client.delete(
        f"{A}/agencies/{world.agencies['A'].id}/logo", headers=world.headers("operator")
    )
    assert r.status_code == 204
    assert logos.logo_path(db, world.agencies["A"]) is None
    assert client.get(new).status_code == 404
    assert db.scalars(
        select(AuditEvent).where(AuditEvent.type == "admin.agency.logo_removed")
    ).all()


def test_only_png_or_jpeg_as_declared_within_the_limits(client, world):
    for data, ctype in (
        (SVG, "image/svg+xml"),
        (SVG, "image/png"),  # a declared type the bytes are not
        (png(), "image/jpeg"),
        (JPEG, "image/png"),
        (b"GIF89a\x01\x00\x01\x00", "image/gif"),
        (b"", "image/png"),
        (png(4000, 10), "image/png"),  # wider than any header needs
        (png() + b"\0" * (logos.MAX_BYTES + 1), "image/png"),
    ):
        r = _put(client, world, "operator", "A", data, ctype)
        assert r.status_code == 422, (ctype, data[:16], r.text)
        assert [e["field"] for e in r.json()["errors"]] == ["logo"]


def test_only_operators_upload_or_remove_it(client, world):
    for who in ("admin_a", "bot_a", "auditor_a"):
        r = _put(client, world, who, "A", png(), "image/png")
        assert r.status_code in (403, 404), (who, r.text)
        r = client.delete(f"{A}/agencies/{world.agencies['A'].id}/logo", headers=world.headers(who))
        assert r.status_code in (403, 404), (who, r.text)
    assert (
        client.get(f"/agency-logos/{world.agencies['A'].id.hex}/0000000000000000").status_code
        == 404
    )
