"""How the sign-in page names an agency (idp.agencies.shown): kept for the client
cache's time, a change committed in this process shown at once, one made elsewhere
within that time; the logo of the agency or the nearest one above."""

from sqlalchemy import update

from idp.agencies import shown
from idp.agencies.models import Agency, AgencyLogo
from tests import factories

TTL = 5.0


def test_a_rename_here_shows_at_once_one_elsewhere_within_the_ttl(db, unique):
    a = factories.agency(db, f"SH{unique}")
    db.commit()
    first = shown.shown(lambda: db, a.id, ttl=TTL, now=100.0)
    assert first is not None and first.name("en") == f"Agency SH{unique}"
    assert first.name("th") == f"หน่วยงาน SH{unique}" and first.logo is None

    # Renamed through the ORM in this process: the next page has the new name.
    a.name_en = "Department of Tests"
    db.commit()
    assert shown.shown(lambda: db, a.id, ttl=TTL, now=100.5).name("en") == "Department of Tests"

    # Renamed by another process (a statement this process's ORM did not see): the
    # old name until the entry is older than the TTL, then the new one.
    db.execute(update(Agency).where(Agency.id == a.id).values(name_en="Renamed elsewhere"))
    db.commit()
    db.expire_all()
    assert shown.shown(lambda: db, a.id, ttl=TTL, now=104.0).name("en") == "Department of Tests"
    assert shown.shown(lambda: db, a.id, ttl=TTL, now=106.0).name("en") == "Renamed elsewhere"


def test_a_new_logo_above_is_shown_for_an_office(db, unique):
    t = factories.tree(db, unique)
    db.commit()
    office = t["office1"]
    assert shown.shown(lambda: db, office.id, ttl=TTL, now=200.0).logo is None
    db.add(
        AgencyLogo(agency_id=t["dept"].id, content_type="image/png", data=b"x", sha256="ab" * 32)
    )
    db.commit()
    logo = shown.shown(lambda: db, office.id, ttl=TTL, now=200.5).logo
    assert logo == f"/agency-logos/{t['dept'].id.hex}/{'ab' * 8}"


def test_no_cache_when_the_ttl_is_zero(db, unique):
    a = factories.agency(db, f"SZ{unique}")
    db.commit()
    assert shown.shown(lambda: db, a.id, ttl=0, now=300.0).name("en") == f"Agency SZ{unique}"
    db.execute(update(Agency).where(Agency.id == a.id).values(name_en="Changed"))
    db.commit()
    db.expire_all()
    assert shown.shown(lambda: db, a.id, ttl=0, now=300.1).name("en") == "Changed"
