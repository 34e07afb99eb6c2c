"""Agency tree queries, on PostgreSQL and SQLite (the `db` fixture is parametrised)."""

import pytest

from idp.agencies import service as agencies
from idp.errors import DuplicateAgencyCode, InvalidInput, UnknownAgency
from tests import factories


def codes(rows):
    return sorted(a.code for a in rows)


def test_descendants_cover_the_whole_subtree_only(db, unique):
    t = factories.tree(db, unique)
    assert codes(agencies.descendants(db, t["dept"])) == sorted(
        [t["dept"].code, t["office1"].code, t["office2"].code]
    )
    assert codes(agencies.descendants(db, t["dept"], include_self=False)) == sorted(
        [t["office1"].code, t["office2"].code]
    )
    everything_in_ministry = agencies.descendants(db, t["ministry"])
    assert len(everything_in_ministry) == 5
    assert t["other"].code not in codes(everything_in_ministry)
    assert codes(agencies.descendants(db, t["office1"])) == [t["office1"].code]


def test_ancestors_root_first(db, unique):
    t = factories.tree(db, unique)
    assert [a.code for a in agencies.ancestors(db, t["office2"])] == [
        t["ministry"].code,
        t["dept"].code,
    ]
    assert [a.code for a in agencies.ancestors(db, t["office2"], include_self=True)][-1] == (
        t["office2"].code
    )
    assert agencies.ancestors(db, t["ministry"]) == []


def test_is_within(db, unique):
    t = factories.tree(db, unique)
    assert agencies.is_within(t["office1"], t["ministry"])
    assert agencies.is_within(t["office1"], t["office1"])
    assert not agencies.is_within(t["ministry"], t["office1"])
    assert not agencies.is_within(t["dept2"], t["dept"])  # sibling
    assert not agencies.is_within(t["office1"], t["other"])


def test_prefix_of_a_sibling_id_does_not_leak(db, unique):
    """Path segments end with '/', so one id being a string prefix of another is harmless."""
    t = factories.tree(db, unique)
    assert all(a.path.endswith("/") for a in t.values())
    assert t["dept"].path.startswith(t["ministry"].path)
    assert t["office1"].depth == 2


def test_sub_agency_inherits_quotas(db, unique):
    root = agencies.create(
        db,
        agencies.NewAgency(
            code=f"q-{unique}",
            name_th="ก",
            name_en="Q",
            mailbox_quota_mb=10240,
            attachment_limit_mb=50,
        ),
    )
    child = factories.agency(db, f"qc-{unique}", parent=root.code)
    assert (child.mailbox_quota_mb, child.attachment_limit_mb) == (10240, 50)
    plain = factories.agency(db, f"plain-{unique}")
    assert (plain.mailbox_quota_mb, plain.attachment_limit_mb) == (6144, 25)


def test_duplicate_code_case_insensitive(db, unique):
    factories.agency(db, f"dup-{unique}")
    with pytest.raises(DuplicateAgencyCode):
        factories.agency(db, f"DUP-{unique}")


def test_unknown_parent(db, unique):
    with pytest.raises(UnknownAgency, match="nope"):
        factories.agency(db, f"a-{unique}", parent=f"nope-{unique}")


@pytest.mark.parametrize(
    "field, kwargs",
    [
        ("code", {"code": "has space"}),
        ("name_th", {"name_th": "  "}),
        ("mail_domains", {"mail_domains": ("not a domain",)}),
        ("mailbox_quota_mb", {"mailbox_quota_mb": -1}),
    ],
)
def test_bad_input_names_the_field(db, field, kwargs):
    data = dict(code="ok-code", name_th="ไทย", name_en="English")
    data.update(kwargs)
    with pytest.raises(InvalidInput) as exc:
        agencies.create(db, agencies.NewAgency(**data))
    assert exc.value.field == field
