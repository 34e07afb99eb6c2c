"""No password, TOTP code, client secret, token, key or cookie value ever enters the log.

Two halves: the real services that handle secrets are driven and every stored event is
scanned for the secret values (and their hashes and ciphertexts); and ``record`` refuses
details that carry a secret under any key name or in any shape.
"""

import json

import pytest
from sqlalchemy import select

from idp import bootstrap
from idp.audit import service as audit
from idp.audit.models import AuditEvent
from idp.clients import service as clients
from idp.keys import service as keys
from idp.keys.models import SigningKey
from tests import factories


def _log_text(db) -> str:
    """Every stored event, every column, as one string."""
    db.flush()
    rows = db.execute(select(*AuditEvent.__table__.c)).all()
    return "\n".join(json.dumps(dict(r._mapping), default=str, ensure_ascii=False) for r in rows)


def test_no_secret_from_real_operations_reaches_the_log(db, hasher, cipher, unique):
    secrets_seen: list[str] = []
    factories.tree(db, unique)
    password = f"correct horse battery staple {unique}"
    acc = factories.account(
        db, f"a{unique}@{unique}.go.th", f"min-{unique}", hasher=hasher, cipher=cipher,
        password=password, citizen_id="1-1037-02345-67-9",
    )  # fmt: skip
    secrets_seen += [password, acc.password_hash, acc.citizen_id_enc, "1103702345679"]
    for method in ("client_secret_basic", "client_secret_post"):
        client, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"dept-{unique}",
                name_th="แอป",
                name_en="App",
                redirect_uris=("https://app.example.go.th/cb",),
                auth_method=method,
            ),
            actor="test",
        )
        assert secret
        secrets_seen += [secret, client.secret_hash]
    result = bootstrap.run(db, hasher=hasher, cipher=cipher)
    if result.created:  # the shared database may hold the demo data already
        secrets_seen += [a["password"] for a in result.accounts]
        secrets_seen += [a["totp_secret"] for a in result.accounts]
        secrets_seen.append(result.client["client_secret"])
        secrets_seen.append(result.console["client_secret"])
    keys.ensure_keys(db, cipher)
    keys.rotate(db, cipher, token_lifetime=600)
    for row in db.scalars(select(SigningKey)):
        private = json.loads(cipher.decrypt(row.private_key_enc, "signing_key.private"))
        secrets_seen += [row.private_key_enc, private["d"]]

    log = _log_text(db)
    assert "admin.account.created" in log and "keys.key.rotated" in log
    leaked = [s for s in secrets_seen if s and s in log]
    assert not leaked, f"secret values found in the audit log: {leaked}"


SECRET_DETAILS = [
    {"password": "hunter2"},
    {"new_password": "hunter2"},
    {"Current-Password": "hunter2"},
    {"client_secret": "s3cr3t"},
    {"totp": "123456"},
    {"otp": 123456},
    {"totp_code": "123456"},
    {"recovery_codes": ["a1b2", "c3d4"]},
    {"access_token": "opaque"},
    {"refresh_token": "opaque"},
    {"id_token_hint": "opaque"},
    {"code_verifier": "abc"},
    {"authorization_code": "abc"},
    {"cookie": "sid=abc"},
    {"Set-Cookie": "sid=abc"},
    {"session_cookie": "abc"},
    {"authorization": "anything"},
    {"private_key": "-----BEGIN"},
    {"api_key": "k"},
    {"reason": {"deep": [{"password": "hunter2"}]}},
    {"reason": "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"},  # a JWT in any field
    {"reason": ["Bearer abc.def"]},
    {"reason": "Basic dXNlcjpwYXNz"},
]


@pytest.mark.parametrize("details", SECRET_DETAILS, ids=lambda d: json.dumps(d)[:40])
def test_secret_shaped_details_are_refused(db, details):
    with pytest.raises(audit.SecretInDetails, match="secrets"):
        audit.record(db, "oidc.login.failed", details=details)


def test_non_secret_lookalikes_are_allowed(db):
    audit.record(db, "oidc.token.revoked", details={"token_type": "refresh_token"})
    audit.record(db, "admin.agency.created", details={"code": "moi", "parent": None})
    audit.record(db, "oidc.login.failed", details={"reason": "unknown_or_wrong_password"})
