"""SCIM filter parser (RFC 7644 §3.4.2.2): properties with hypothesis, plus examples."""

from __future__ import annotations

import contextlib

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from idp.admin.scim.filter import Compare, FilterError, Logical, Not, parse, render

ATTRS = st.sampled_from(["username", "emails", "emails.value", "externalid", "meta.lastmodified"])
VALUES = st.one_of(
    st.text(st.characters(blacklist_characters="\x00"), max_size=20),
    st.booleans(),
    st.none(),
    st.integers(-1000, 1000),
)
compare = st.builds(
    Compare, ATTRS, st.sampled_from(["eq", "ne", "co", "sw", "ew", "gt", "le"]), VALUES
) | st.builds(Compare, ATTRS, st.just("pr"))
exprs = st.recursive(
    compare,
    lambda inner: (
        st.builds(Logical, st.sampled_from(["and", "or"]), inner, inner) | st.builds(Not, inner)
    ),
    max_leaves=8,
)


@settings(max_examples=300, deadline=None)
@given(exprs)
def test_render_then_parse_is_identity(expr):
    assert parse(render(expr)) == expr


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=80))
def test_arbitrary_text_parses_or_raises_filter_error(text):
    with contextlib.suppress(FilterError):
        parse(text)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('userName eq "bjensen@x.go.th"', Compare("username", "eq", "bjensen@x.go.th")),
        ('UserName EQ "A"', Compare("username", "eq", "A")),
        (
            'userName sw "a" and externalId co "7"',
            Logical("and", Compare("username", "sw", "a"), Compare("externalid", "co", "7")),
        ),
        (
            'emails co "x" or userName eq "y" and externalId pr',
            Logical(
                "or",
                Compare("emails", "co", "x"),
                Logical("and", Compare("username", "eq", "y"), Compare("externalid", "pr")),
            ),
        ),
        (
            'meta.lastModified gt "2026-01-01T00:00:00Z"',
            Compare("meta.lastmodified", "gt", "2026-01-01T00:00:00Z"),
        ),
        ('not (userName eq "a")', Not(Compare("username", "eq", "a"))),
        ('userName eq "quo\\"te"', Compare("username", "eq", 'quo"te')),
    ],
)
def test_examples(text, expected):
    assert parse(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "userName",
        'userName xx "a"',
        "userName eq",
        '(userName eq "a"',
        'a eq "b" and',
        "userName eq 'a'",
    ],
)
def test_bad_filters(text):
    with pytest.raises(FilterError):
        parse(text)


def test_deep_nesting_is_refused():
    with pytest.raises(FilterError):
        parse("(" * 100 + 'userName eq "a"' + ")" * 100)
