"""Data-key rotation (issue 21): IDP_DATA_KEY + IDP_DATA_KEY_PREVIOUS as a keyring, every
value naming its key, `idp keys rotate-data-key` rewriting every encrypted column in
batches, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import secrets
import uuid

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy import select, update
from typer.testing import CliRunner

from idp import migrate
from idp.accounts.importing.jobs import PURPOSE as IMPORT_PURPOSE
from idp.accounts.importing.models import ImportJob
from idp.accounts.models import Account
from idp.accounts.service import CITIZEN_ID_PURPOSE
from idp.audit.models import AuditEvent
from idp.cli import app
from idp.credentials import mfa
from idp.crypto import DataCipher, DataKeyError, _derive
from idp.db import utcnow
from idp.directory import agency_federation as fed
from idp.errors import Conflict
from idp.idempotency import service as idempotency
from idp.keys import data_rotation
from idp.keys import service as keys
from idp.services import Services
from tests import factories
from tests.conftest import TEST_SECRET_KEY, make_settings

OLD = base64.b64encode(b"o" * 32).decode()
NEW = base64.b64encode(b"n" * 32).decode()
CID = "1103702345679"
CID2 = "1101700207030"


def _key(b64: str) -> bytes:
    return base64.b64decode(b64)


def _legacy_v1(key_b64: str, plaintext: bytes, purpose: str) -> str:
    """A value as GovID wrote it before key ids (v1:<nonce+ct>)."""
    aead = AESGCM(_derive(_key(key_b64), b"govid/aead/v1"))
    nonce = secrets.token_bytes(12)
    ct = aead.encrypt(nonce, plaintext, purpose.encode())
    return "v1:" + base64.urlsafe_b64encode(nonce + ct).decode().rstrip("=")


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request, tmp_path):
    if request.param == "postgresql":
        u = request.getfixturevalue("pg_fresh_url")
    else:
        u = f"sqlite:///{tmp_path / 'rot.db'}"
    migrate.upgrade(u)
    return u


def _services(url: str, key: str, previous: str = "") -> Services:
    return Services(make_settings(url, data_key=key, data_key_previous=previous))


def _populate(url: str) -> dict:
    """Every kind of encrypted value, written under OLD (one of them in the v1 form)."""
    s = _services(url, OLD)
    try:
        with s.sessions.begin() as db:
            factories.agency(db, "rot", domains=["rot.go.th"])
        with s.sessions.begin() as db:
            a = factories.account(
                db, "a@rot.go.th", "rot", hasher=s.hasher, cipher=s.cipher, citizen_id=CID
            )
            b = factories.account(
                db, "b@rot.go.th", "rot", hasher=s.hasher, cipher=s.cipher, citizen_id=CID2
            )
            for n in range(3):  # more rows than a batch
                factories.account(db, f"n{n}@rot.go.th", "rot", hasher=s.hasher, cipher=s.cipher)
            cred, _uri, _svg = mfa.start_totp(db, s.cipher, a, issuer_name="GovID")
            keys.ensure_keys(db, s.cipher)
            fed.configure(
                db,
                "rot",
                fed.FederationInput(
                    servers=["ldaps://ldap.rot.go.th"],
                    search_base="ou=people,dc=rot,dc=go,dc=th",
                    service_bind_dn="cn=svc,dc=rot,dc=go,dc=th",
                    service_password="s3cr3t",
                ),
                cipher=s.cipher,
            )
            idempotency.store(
                db, s.cipher, "caller", "k1", "fp", 201, {}, {"secret": "shown-once"}, utcnow()
            )
            db.add(
                ImportJob(
                    id=str(uuid.uuid4()),
                    caller="caller",
                    mode="all",
                    status="done",
                    result_enc=s.cipher.encrypt(b'{"links": ["shown once"]}', IMPORT_PURPOSE),
                )
            )
            ids = {"a": a.id, "b": b.id, "cred": cred.id}
        with s.sessions.begin() as db:  # b's citizen ID from before key ids
            db.execute(
                update(Account)
                .where(Account.id == ids["b"])
                .values(citizen_id_enc=_legacy_v1(OLD, CID2.encode(), CITIZEN_ID_PURPOSE))
            )
    finally:
        s.close()
    return ids


def _values(s: Services) -> dict[str, list[tuple[str, str]]]:
    with s.sessions() as db:
        return {
            c.name: [(v, c.purpose) for v in db.scalars(select(c.col).where(c.col.is_not(None)))]
            for c in data_rotation.columns()
        }


def test_rotation_rewrites_every_column_under_the_new_key(url):
    ids = _populate(url)
    s = _services(url, NEW, previous=OLD)
    try:
        before = _values(s)
        assert all(before.values()), {k: len(v) for k, v in before.items()}
        plain = {k: sorted(s.cipher.decrypt(v, p) for v, p in vs) for k, vs in before.items()}
        # Before the rotation, the keyring reads what the old key wrote.
        with s.sessions() as db:
            a = db.get(Account, ids["a"])
            assert s.cipher.decrypt(a.citizen_id_enc, CITIZEN_ID_PURPOSE).decode() == CID
            cred = db.get(mfa.MfaCredential, ids["cred"])
            mfa.totp_setup(s.cipher, a, cred, issuer_name="GovID")
            assert fed.config_for(db, a.agency, cipher=s.cipher).service_password == "s3cr3t"

        with s.sessions() as db:
            a = db.get(Account, ids["a"])
            versions = (a.version, a.updated_at)
        seen: list[tuple[str, int]] = []
        result = data_rotation.rotate(s, batch_size=2, progress=lambda c, n: seen.append((c, n)))
        assert result.rewritten["account.citizen_id_enc"] == 2
        assert result.rewritten["mfa_credential.secret_enc"] == 1
        assert result.rewritten["signing_key.private_key_enc"] == 4
        assert result.rewritten["agency_federation.service_password_enc"] == 1
        assert result.rewritten["idempotency_key.body_enc"] == 1
        assert result.rewritten["import_job.result_enc"] == 1
        assert not any(result.left.values())
        assert ("signing_key.private_key_enc", 2) in seen and (
            "signing_key.private_key_enc",
            4,
        ) in seen

        after = _values(s)
        new_only, old_only = DataCipher(_key(NEW)), DataCipher(_key(OLD))
        for column, vs in after.items():
            assert sorted(new_only.decrypt(v, p) for v, p in vs) == plain[column]
            for v, p in vs:
                assert v.startswith(f"v2:{new_only.key_id}:"), column
                with pytest.raises(DataKeyError):  # nothing readable with the old key alone
                    old_only.decrypt(v, p)
        with s.sessions() as db:
            # Not a change of the account: its version and lastModified stay.
            a_after = db.get(Account, ids["a"])
            assert (a_after.version, a_after.updated_at) == versions
            # The blind index follows the key: the old key's HMAC of the ID is gone.
            assert db.get(Account, ids["a"]).citizen_id_hmac == new_only.blind_index(
                CID, CITIZEN_ID_PURPOSE
            )
            assert not db.scalar(
                select(Account.id).where(
                    Account.citizen_id_hmac == old_only.blind_index(CID, CITIZEN_ID_PURPOSE)
                )
            )
            events = db.scalars(
                select(AuditEvent).where(AuditEvent.type == "keys.data_key.rotated")
            ).all()
            assert len(events) == 1 and events[0].details["key_id"] == new_only.key_id
            assert events[0].details["total"] == 10
            # The service keeps working with only the new key.
        s2 = _services(url, NEW)
        try:
            with s2.sessions() as db:
                a = db.get(Account, ids["a"])
                cred = db.get(mfa.MfaCredential, ids["cred"])
                mfa.totp_setup(s2.cipher, a, cred, issuer_name="GovID")
            with s2.sessions.begin() as db, pytest.raises(Conflict):
                factories.account(
                    db, "dup@rot.go.th", "rot", hasher=s2.hasher, cipher=s2.cipher, citizen_id=CID
                )
            # A re-run is a no-op: nothing rewritten, every value as it was.
            again = data_rotation.rotate(s2, batch_size=2)
            assert again.total == 0
            assert _values(s2) == after
        finally:
            s2.close()
    finally:
        s.close()


def test_a_missing_previous_key_stops_before_rewriting_anything(url):
    _populate(url)
    s = _services(url, NEW)  # IDP_DATA_KEY_PREVIOUS forgotten
    try:
        before = _values(s)
        with pytest.raises(data_rotation.RotationError) as exc:
            data_rotation.rotate(s, batch_size=2)
        old_id = DataCipher(_key(OLD)).key_id
        assert old_id in exc.value.message and "IDP_DATA_KEY_PREVIOUS" in exc.value.message
        assert _values(s) == before
    finally:
        s.close()


def test_a_wrong_previous_key_does_not_open_legacy_values(url):
    """A v1 value (no key id) that no configured key opens: the run stops and says so."""
    wrong = base64.b64encode(b"w" * 32).decode()
    s = _services(url, NEW, previous=wrong)
    try:
        with s.sessions.begin() as db:
            factories.agency(db, "rot", domains=["rot.go.th"])
        with s.sessions.begin() as db:
            a = factories.account(db, "a@rot.go.th", "rot", hasher=s.hasher, cipher=s.cipher)
            a.citizen_id_enc = _legacy_v1(OLD, CID.encode(), CITIZEN_ID_PURPOSE)
        with pytest.raises(data_rotation.RotationError) as exc:
            data_rotation.rotate(s, batch_size=2)
        assert "account.citizen_id_enc" in exc.value.message
        assert "IDP_DATA_KEY_PREVIOUS" in exc.value.message
        with s.sessions() as db:
            assert db.scalar(select(Account.citizen_id_enc)).startswith("v1:")
    finally:
        s.close()


def test_duplicate_citizen_id_refused_during_the_rotation_window(url):
    _populate(url)
    s = _services(url, NEW, previous=OLD)
    try:
        with s.sessions.begin() as db, pytest.raises(Conflict):
            factories.account(
                db, "dup@rot.go.th", "rot", hasher=s.hasher, cipher=s.cipher, citizen_id=CID
            )
    finally:
        s.close()


def test_keyring_settings_and_envelope(tmp_path, monkeypatch):
    path = tmp_path / "previous"
    path.write_text(OLD + "\n")
    monkeypatch.setenv("IDP_DATA_KEY_PREVIOUS_FILE", str(path))
    s = make_settings("sqlite://", data_key=NEW)
    assert s.data_keys_bytes == (_key(NEW), _key(OLD))
    ring = DataCipher(s.data_keys_bytes)
    token = DataCipher(_key(OLD)).encrypt(b"x", "p")
    assert ring.decrypt(token, "p") == b"x"
    assert ring.encrypt(b"x", "p").startswith(f"v2:{ring.key_id}:")
    with pytest.raises(ValueError, match="IDP_DATA_KEY_PREVIOUS"):
        make_settings("sqlite://", data_key=NEW, data_key_previous="not-base64!")
    with pytest.raises(ValueError, match="twice"):
        DataCipher([_key(NEW), _key(NEW)])


def test_cli_rotate_data_key(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    _populate(url)
    runner = CliRunner()
    env = {
        "IDP_DATABASE_URL": url,
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": NEW,
        "IDP_ARGON2_MEMORY_KIB": "8192",
        "IDP_ARGON2_TIME_COST": "1",
    }
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    r = runner.invoke(app, ["keys", "rotate-data-key", "--json"])
    assert r.exit_code == 1
    err = json.loads(r.stdout.strip().splitlines()[-1])
    assert err["error"] == "data_key_missing" and DataCipher(_key(OLD)).key_id in err["message"]

    keyfile = tmp_path / "old_key"
    keyfile.write_text(OLD + "\n")
    monkeypatch.setenv("IDP_DATA_KEY_PREVIOUS_FILE", str(keyfile))
    r = runner.invoke(app, ["keys", "data-key-status", "--json"])
    assert r.exit_code == 0, r.output
    status = json.loads(r.stdout.strip().splitlines()[-1])
    old_id = DataCipher(_key(OLD)).key_id
    assert status["columns"]["account.citizen_id_enc"] == {old_id: 1, "v1": 1}

    r = runner.invoke(app, ["keys", "rotate-data-key", "--batch-size", "1", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout.strip().splitlines()[-1])
    assert out["total"] == 10 and out["key_id"] == DataCipher(_key(NEW)).key_id
    assert "account.citizen_id_enc: 2 rewritten" in r.stderr

    r = runner.invoke(app, ["keys", "rotate-data-key", "--json"])
    assert json.loads(r.stdout.strip().splitlines()[-1])["total"] == 0


def test_every_encrypted_column_is_rotated():
    """A new column encrypted with the data key (named *_enc) must be in the rotation, or
    its values become unreadable once the previous key is dropped."""
    import idp.models  # noqa: F401 (every table)
    from idp.db import Base

    encrypted = {
        f"{t.name}.{c.name}"
        for t in Base.metadata.tables.values()
        for c in t.columns
        if c.name.endswith("_enc")
    }
    assert encrypted == {c.name for c in data_rotation.columns()}
