"""Signing keys: encrypted at rest, rotation, publication window, verification."""

import datetime as dt

import pytest
from joserfc import jws
from joserfc.jwk import OctKey
from sqlalchemy import select

from idp.keys import service as keys
from idp.keys.models import SigningKey
from idp.keys.service import InvalidToken, KeyRing


@pytest.fixture
def ring(engine, cipher, db):
    # The KeyRing reads through the test's own connection so rollback cleans up.
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    keys.ensure_keys(db, cipher)
    return KeyRing(factory, cipher, ttl=0)


def test_private_keys_are_encrypted_at_rest(db, cipher):
    keys.ensure_keys(db, cipher)
    rows = db.scalars(select(SigningKey)).all()
    assert {(r.alg, r.state) for r in rows} >= {
        ("RS256", "active"),
        ("RS256", "next"),
        ("ES256", "active"),
        ("ES256", "next"),
    }
    for r in rows:
        assert r.private_key_enc.startswith(f"v2:{cipher.key_id}:")  # names its data key
        assert '"d"' not in r.private_key_enc and "d" not in r.public_jwk
    assert keys.ensure_keys(db, cipher) == []  # idempotent


def test_jwks_publishes_next_and_active_without_private_parts(ring):
    jwks = ring.jwks()
    assert len(jwks["keys"]) >= 4
    for k in jwks["keys"]:
        assert k["kid"] and k["use"] == "sig" and k["alg"] in ("RS256", "ES256")
        assert not {"d", "p", "q", "dp", "dq", "qi"} & set(k)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_sign_and_verify(ring, alg):
    token = ring.sign({"sub": "x"}, alg=alg)
    header, claims = ring.verify(token)
    assert header["alg"] == alg and header["kid"] and claims == {"sub": "x"}


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_signatures_verify_with_an_independent_jose_library(ring, alg):
    """What a relying party does: only the published JWKS, a JOSE library's verifier
    (RFC 7515 §7.1, RFC 7518 §3.3/§3.4: an ES256 signature is R || S, 64 octets)."""
    import base64
    import json

    from joserfc import jwt
    from joserfc.jwk import KeySet

    claims = {"sub": "x", "name": "สมชาย ใจดี", "exp": 2_000_000_000, "amr": ["pwd", "otp"]}
    token = ring.sign(claims, alg=alg, typ="at+jwt")
    head_b64, payload_b64, sig_b64 = token.split(".")
    assert "=" not in token  # base64url without padding
    header = json.loads(base64.urlsafe_b64decode(head_b64 + "=" * (-len(head_b64) % 4)))
    assert header["typ"] == "at+jwt" and header["alg"] == alg
    sig = base64.urlsafe_b64decode(sig_b64 + "=" * (-len(sig_b64) % 4))
    assert len(sig) == (64 if alg == "ES256" else 256)
    decoded = jwt.decode(token, KeySet.import_key_set(ring.jwks()), algorithms=[alg])
    assert decoded.claims == claims and decoded.header["kid"] == header["kid"]
    tampered = f"{head_b64}.{payload_b64[:-2]}AA.{sig_b64}"
    with pytest.raises(InvalidToken):
        ring.verify(tampered)


def test_tokens_signed_before_rotation_still_verify(ring, db, cipher):
    before = ring.sign({"n": 1})
    old_kid = ring.verify(before)[0]["kid"]
    result = keys.rotate(db, cipher, token_lifetime=600)
    assert old_kid in result["retired"]
    after = ring.sign({"n": 2})
    assert ring.verify(after)[0]["kid"] != old_kid
    assert ring.verify(before)[1] == {"n": 1}
    kids = {k["kid"] for k in ring.jwks()["keys"]}
    assert old_kid in kids  # retired but still published


def test_retired_key_leaves_jwks_after_its_tokens_expired(ring, db, cipher):
    before = ring.sign({"n": 1})
    old_kid = ring.verify(before)[0]["kid"]
    keys.rotate(db, cipher, token_lifetime=600)
    row = db.get(SigningKey, old_kid)
    row.not_after = keys.utcnow() - dt.timedelta(seconds=1)
    db.flush()
    assert old_kid not in {k["kid"] for k in ring.jwks()["keys"]}
    with pytest.raises(InvalidToken):
        ring.verify(before)
    # The archive (audit checkpoints) still verifies it.
    assert ring.verify(before, archive=True)[1] == {"n": 1}


def test_alg_none_and_hs256_confusion_rejected(ring):
    good = ring.sign({"sub": "x"})
    header_b64, payload_b64, _ = good.split(".")
    import base64
    import json

    none_header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=")
    with pytest.raises(InvalidToken):
        ring.verify(f"{none_header.decode()}.{payload_b64}.")
    # HS256 signed with the public key's bytes as the HMAC secret.
    kid = ring.verify(good)[0]["kid"]
    pub = next(k for k in ring.jwks()["keys"] if k["kid"] == kid)
    forged = jws.serialize_compact(
        {"alg": "HS256", "kid": kid},
        b'{"sub":"admin"}',
        OctKey.import_key(json.dumps(pub)),
        algorithms=["HS256"],
    )
    with pytest.raises(InvalidToken):
        ring.verify(forged)
    with pytest.raises(InvalidToken):
        ring.verify(good[:-4] + "AAAA")
    with pytest.raises(InvalidToken):
        ring.verify("not.a.jwt")
