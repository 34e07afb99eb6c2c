"""Thai 13-digit citizen identification number.

Check digit (Ministry of Interior): with digits d1..d12 weighted 13..2,
``check = (11 - sum(d_i * w_i) mod 11) mod 10``.

Known limits of the standard algorithm, not of this code: the weight of d3 is 11 (≡ 0
mod 11), so a change of the third digit alone is invisible to the checksum, and the
remainders 0 and 10 map to the same check digit 1.
"""

from __future__ import annotations

from idp.errors import InvalidCitizenId

WEIGHTS = tuple(range(13, 1, -1))  # 13, 12, ..., 2


def check_digit(first12: str) -> int:
    total = sum(int(d) * w for d, w in zip(first12, WEIGHTS, strict=True))
    return (11 - total % 11) % 10


def normalise(raw: str) -> str:
    """Strip the usual separators (``1-2345-67890-12-1``, spaces)."""
    return raw.replace("-", "").replace(" ", "").strip()


def validate(raw: str) -> str:
    """Return the 13 digits or raise ``InvalidCitizenId`` with a specific reason."""
    value = normalise(raw)
    if not value:
        raise InvalidCitizenId("citizen ID is empty", field="citizen_id")
    if not value.isascii() or not value.isdigit():
        raise InvalidCitizenId("citizen ID must contain digits only", field="citizen_id")
    if len(value) != 13:
        raise InvalidCitizenId(
            f"citizen ID must have 13 digits, got {len(value)}", field="citizen_id"
        )
    if check_digit(value[:12]) != int(value[12]):
        raise InvalidCitizenId(
            "citizen ID check digit does not match (mistyped digit?)", field="citizen_id"
        )
    return value
