"""The flat-details fast path of ``clean_details`` (issue 22) stores exactly what the JSON
round trip stores: the chain's hashes are recomputed from what the database gives back,
so any difference would make ``idp audit verify`` report a broken chain."""

import json
import random

import pytest

from idp.audit import sanitise
from idp.audit.sanitise import SecretInDetails, clean_details

ALPHABET = 'abcXYZ09 _-.:/+"\\\x00\x01\x1f\x7f\x85\u2028\u2029ไทยกขค€😀\t\n\r'


def _round_trip(details: dict) -> dict:
    """What clean_details did for every shape before the fast path."""
    raw = json.dumps(details, default=str, allow_nan=False, ensure_ascii=False)
    return sanitise._normalise(json.loads(raw))


def _text(rng: random.Random) -> str:
    return "".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 12)))


def _value(rng: random.Random):
    kind = rng.randrange(6)
    if kind == 0:
        return _text(rng)
    if kind == 1:
        return rng.choice([True, False, None])
    if kind == 2:
        return rng.choice([0, -1, 7, 2**62, -(2**70)])
    if kind == 3:
        return [_text(rng) for _ in range(rng.randint(0, 3))]
    if kind == 4:
        return tuple(_text(rng) for _ in range(rng.randint(0, 3)))
    return rng.choice(["pwd", "client_credentials", "urn:x:y"])


def test_flat_details_are_stored_as_the_json_round_trip_stores_them():
    rng = random.Random(22)
    for _ in range(2000):
        details = {_text(rng) or "k": _value(rng) for _ in range(rng.randint(0, 5))}
        fast = sanitise._flat(details)
        assert fast is not None
        slow = _round_trip(details)
        assert fast == slow
        assert [type(v) for v in fast.values()] == [type(v) for v in slow.values()]
        assert json.dumps(fast, ensure_ascii=False) == json.dumps(slow, ensure_ascii=False)


@pytest.mark.parametrize(
    "details",
    [
        {"n": 1.5},  # floats: JSON decides
        {1: "x"},  # a key that is not a str
        {"d": {"nested": "x"}},
        {"l": ["x", 1]},
        {"big": "x" * (sanitise.MAX_DETAILS_BYTES // 6 + 1)},  # may exceed the limit
    ],
)
def test_other_shapes_take_the_round_trip(details):
    assert sanitise._flat(details) is None


def test_a_token_made_by_replacing_a_control_character_is_still_refused():
    # "bearer\x00x" is no credential until the NUL becomes a space.
    with pytest.raises(SecretInDetails):
        clean_details({"scope": "bearer\x00abc"}, frozenset({"scope"}), "oidc.token.issued")


def test_undocumented_fields_are_still_refused_on_the_fast_path():
    with pytest.raises(ValueError, match="not documented"):
        clean_details({"scope": "a", "extra": "b"}, frozenset({"scope"}), "oidc.token.issued")


def test_oversized_details_are_still_refused():
    with pytest.raises(ValueError, match="larger than"):
        clean_details({"scope": "ก" * 6000}, frozenset({"scope"}), "oidc.token.issued")
