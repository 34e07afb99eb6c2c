"""The compact-JWS fast path of ``KeyRing.verify`` (issue 22) accepts exactly what
joserfc accepts for our own tokens and refuses every altered or confused one."""

from __future__ import annotations

import base64
import json

import pytest
from joserfc import jws

from idp.keys import jws as own_jws
from idp.keys import service as keys
from idp.keys.service import InvalidToken, KeyRing


@pytest.fixture
def ring(engine, cipher, db):
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    keys.ensure_keys(db, cipher)
    return KeyRing(factory, cipher, ttl=0)


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _parts(token: str) -> list[str]:
    return token.split(".")


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_own_tokens_take_the_fast_path_with_joserfcs_answer(ring, alg, monkeypatch):
    token = ring.sign({"sub": "x", "n": 1}, alg=alg, typ="at+jwt")
    fast = ring.verify(token)
    monkeypatch.setattr(own_jws, "verify_compact", lambda *a: None)  # joserfc only
    assert ring.verify(token) == fast
    assert fast[0]["alg"] == alg and fast[0]["typ"] == "at+jwt" and fast[1]["n"] == 1


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_altered_claims_or_signature_are_refused(ring, alg):
    h, c, s = _parts(ring.sign({"sub": "x"}, alg=alg))
    forged = _b64(json.dumps({"sub": "admin"}).encode())
    with pytest.raises(InvalidToken):
        ring.verify(f"{h}.{forged}.{s}")
    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[-1] ^= 1
    with pytest.raises(InvalidToken):
        ring.verify(f"{h}.{c}.{_b64(bytes(sig))}")
    with pytest.raises(InvalidToken):
        ring.verify(f"{h}.{c}.{s[:-4]}")  # a truncated signature


def test_algorithm_confusion_and_none_are_refused(ring):
    h, c, s = _parts(ring.sign({"sub": "x"}, alg="ES256"))
    header = json.loads(base64.urlsafe_b64decode(h + "=="))
    rsa_kid = next(k["kid"] for k in ring.jwks()["keys"] if k["kty"] == "RSA")
    for changed in (
        {**header, "alg": "RS256"},  # the EC key's kid with another algorithm
        {**header, "kid": rsa_kid},  # an RSA kid for an ES256 signature
        {**header, "alg": "none"},
        {**header, "alg": "HS256"},
        {**header, "kid": ["a"]},
        {**header, "crit": ["exp"]},  # unknown critical parameter: joserfc refuses
    ):
        with pytest.raises(InvalidToken):
            ring.verify(f"{_b64(json.dumps(changed).encode())}.{c}.{s}")
    with pytest.raises(InvalidToken):
        ring.verify(f"{h}.{c}.")  # alg none style: empty signature
    with pytest.raises(InvalidToken):
        ring.verify(f"{h}.{c}.{s}=")  # not base64url


def test_only_the_allowed_algorithms(ring):
    token = ring.sign({"sub": "x"}, alg="RS256")
    with pytest.raises(InvalidToken):
        ring.verify(token, algorithms=("ES256",))


def test_a_token_of_a_foreign_key_is_refused(ring):
    from joserfc.jwk import ECKey

    foreign = ECKey.generate_key("P-256", parameters={"kid": "foreign"})
    token = jws.serialize_compact({"alg": "ES256", "kid": "foreign"}, b'{"sub":"x"}', foreign)
    with pytest.raises(InvalidToken):
        ring.verify(token)


def test_a_remembered_signature_answers_like_a_fresh_check(ring, monkeypatch):
    """Verified signatures are remembered by the token's text (decision 0016): the second
    check does no cryptography, gives equal copies (a caller's change does not leak into
    the next answer), still honours ``algorithms``, and the memory is bounded."""
    token = ring.sign({"sub": "x", "n": 1}, alg="ES256", typ="at+jwt")
    first = ring.verify(token)
    first[1]["n"] = 2  # a caller changing its copy
    # The fast path's own check (patching the function itself did nothing: the table
    # holds it).
    monkeypatch.setitem(own_jws.VERIFY, "ES256", lambda *a: pytest.fail("verified again"))
    again = ring.verify(token)
    assert again[1]["n"] == 1 and again[0]["alg"] == "ES256"
    with pytest.raises(InvalidToken):
        ring.verify(token, algorithms=("RS256",))
    monkeypatch.undo()
    monkeypatch.setattr(KeyRing, "VERIFIED_MAX", 3)
    for n in range(10):
        ring.verify(ring.sign({"n": n}, alg="ES256"))
    assert len(ring._verified) <= 3
