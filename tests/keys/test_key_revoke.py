"""`idp keys revoke` (issue 21 incident response): a signing key that may have leaked
leaves the JWKS at once, its tokens stop verifying, signing continues with the
algorithm's next key, a new next key is published, and the revocation is audited."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from idp import migrate
from idp.audit.models import AuditEvent
from idp.cli import app
from idp.keys import service as keys
from idp.keys.models import SigningKey
from idp.keys.service import InvalidToken, KeyRing
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY


@pytest.fixture
def ring(cipher, db):
    from sqlalchemy.orm import sessionmaker

    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    keys.ensure_keys(db, cipher)
    return KeyRing(factory, cipher, ttl=0)


@pytest.mark.parametrize("alg", ["RS256", "ES256"])
def test_revoking_the_active_key(ring, db, cipher, alg):
    token = ring.sign({"sub": "x"}, alg=alg)
    leaked = ring.verify(token)[0]["kid"]
    next_kid = db.scalar(
        select(SigningKey.kid).where(SigningKey.alg == alg, SigningKey.state == "next")
    )
    result = keys.revoke(db, cipher, leaked, reason="private key found in a backup bucket")
    assert result["was"] == "active" and result["activated"] == [next_kid]
    assert leaked not in {k["kid"] for k in ring.jwks()["keys"]}
    with pytest.raises(InvalidToken):
        ring.verify(token)
    # Signing goes on with the key relying parties already had in the JWKS.
    assert ring.verify(ring.sign({"sub": "y"}, alg=alg))[0]["kid"] == next_kid
    states = {r.state for r in db.scalars(select(SigningKey).where(SigningKey.alg == alg)).all()}
    assert {"active", "next"} <= states
    event = db.scalars(select(AuditEvent).where(AuditEvent.type == "keys.key.revoked")).all()[-1]
    assert event.details["kid"] == leaked and event.details["reason"].startswith("private")


def test_revoking_the_next_key_publishes_another(ring, db, cipher):
    nxt = db.scalar(
        select(SigningKey.kid).where(SigningKey.alg == "RS256", SigningKey.state == "next")
    )
    result = keys.revoke(db, cipher, nxt, reason="test")
    assert result["was"] == "next" and len(result["created"]) == 1
    published = {k["kid"] for k in ring.jwks()["keys"]}
    assert nxt not in published and result["created"][0] in published


def test_cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'k.db'}"
    migrate.upgrade(url)
    for k, v in {
        "IDP_DATABASE_URL": url,
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": TEST_DATA_KEY,
    }.items():
        monkeypatch.setenv(k, v)
    runner = CliRunner()
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    active = next(
        k["kid"] for k in listed["keys"] if k["alg"] == "ES256" and k["state"] == "active"
    )
    r = runner.invoke(app, ["keys", "revoke", active, "--json"])
    assert r.exit_code == 2  # a reason is required
    r = runner.invoke(app, ["keys", "revoke", "nope", "--reason", "x", "--json"])
    assert r.exit_code == 4 and json.loads(r.stdout)["error"] == "not_found"
    r = runner.invoke(app, ["keys", "revoke", active, "--reason", "leaked", "--json"])
    assert r.exit_code == 0, r.output
    listed = json.loads(runner.invoke(app, ["keys", "list", "--json"]).stdout)
    row = next(k for k in listed["keys"] if k["kid"] == active)
    assert row["state"] == "retired" and row["published"] is False
