"""Thai citizen ID check digit (13 digits, weights 13..2, mod 11, mod 10)."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from idp.accounts import citizen_id
from idp.errors import InvalidCitizenId

twelve_digits = st.text(alphabet="0123456789", min_size=12, max_size=12)


def reference_is_valid(value: str) -> bool:
    """Independent restatement of the Ministry of Interior rule."""
    if len(value) != 13 or not value.isdigit():
        return False
    total = sum(int(value[i]) * (13 - i) for i in range(12))
    return (11 - total % 11) % 10 == int(value[12])


def with_check_digit(first12: str) -> str:
    return first12 + str(citizen_id.check_digit(first12))


def test_known_good_id():
    # Worked example: 1-1037-02345-67-? → weighted sum 222; 222 mod 11 = 2; 11 - 2 = 9.
    assert citizen_id.validate("1-1037-02345-67-9") == "1103702345679"


@given(twelve_digits)
def test_valid_ids_are_accepted(first12):
    value = with_check_digit(first12)
    assert citizen_id.validate(value) == value
    # Usual print formats with dashes and spaces are accepted too.
    dashed = f"{value[0]}-{value[1:5]}-{value[5:10]}-{value[10:12]}-{value[12]}"
    assert citizen_id.validate(dashed) == value
    assert citizen_id.validate(f" {value[:6]} {value[6:]} ") == value


@given(twelve_digits, st.integers(0, 12), st.integers(1, 9))
def test_any_single_digit_change_is_rejected_when_the_standard_can_see_it(first12, pos, delta):
    value = with_check_digit(first12)
    changed = value[:pos] + str((int(value[pos]) + delta) % 10) + value[pos + 1 :]
    if reference_is_valid(changed):
        # Only possible where the standard is blind: weight 11 on the 3rd digit, or
        # the remainders 0 and 10 sharing check digit 1.
        total = sum(int(changed[i]) * (13 - i) for i in range(12))
        assert pos == 2 or total % 11 in (0, 10)
        assert citizen_id.validate(changed) == changed
    else:
        with pytest.raises(InvalidCitizenId, match="check digit"):
            citizen_id.validate(changed)


@given(twelve_digits, st.integers(1, 9))
def test_a_changed_check_digit_is_always_rejected(first12, delta):
    value = with_check_digit(first12)
    changed = value[:12] + str((int(value[12]) + delta) % 10)
    with pytest.raises(InvalidCitizenId):
        citizen_id.validate(changed)


@given(st.text(max_size=20))
def test_arbitrary_text_never_crashes_and_agrees_with_reference(text):
    normalised = citizen_id.normalise(text)
    try:
        result = citizen_id.validate(text)
    except InvalidCitizenId:
        assert not (normalised.isascii() and reference_is_valid(normalised))
    else:
        assert reference_is_valid(result)


@pytest.mark.parametrize(
    "raw, reason",
    [
        ("110370234567", "13 digits, got 12"),
        ("1103702345670", "check digit"),
        ("11037023456799", "13 digits, got 14"),
        ("11037O2345679", "digits only"),
        ("๑๑๐๓๗๐๒๓๔๕๖๗๙", "digits only"),  # Thai numerals are refused, not silently read
        ("", "empty"),
    ],
)
def test_specific_messages(raw, reason):
    with pytest.raises(InvalidCitizenId, match=reason):
        citizen_id.validate(raw)
