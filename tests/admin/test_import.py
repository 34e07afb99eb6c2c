"""Bulk import: hash schemes, dry run vs real, all-or-nothing vs per-row, API and CLI."""

from __future__ import annotations

import base64
import hashlib
import io
import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from idp import migrate
from idp.accounts.importing.rows import RowError, hash_scheme, read_rows
from idp.accounts.importing.service import run_import
from idp.accounts.models import Account, AccountToken
from idp.audit.models import AuditEvent
from idp.authz.scope import Scope
from idp.directory.models import OutboxEntry
from idp.errors import InvalidInput
from tests import factories
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY

_SALTED = hashlib.sha1(b"pw" + b"salt1234").digest()  # noqa: S324 - the legacy format
SSHA = "{SSHA}" + base64.b64encode(_SALTED + b"salt1234").decode()
SSHA512 = (
    "{SSHA512}" + base64.b64encode(hashlib.sha512(b"pw" + b"salt").digest() + b"salt").decode()
)
CRYPT6 = "{CRYPT}$6$saltsalt$" + "a" * 86
BCRYPT = "$2b$12$" + "b" * 53
PBKDF2 = "{PBKDF2-SHA256}29000$N2bM2Zuzdg6h1DrHGIOQcg$" + "c" * 43


@pytest.mark.parametrize(
    ("value", "scheme"),
    [(SSHA, "ssha"), (SSHA512, "ssha512"), (CRYPT6, "sha512_crypt"), (CRYPT6[7:], "sha512_crypt"),
     (BCRYPT, "bcrypt"), ("{CRYPT}" + BCRYPT, "bcrypt"), (PBKDF2, "pbkdf2")],
)  # fmt: skip
def test_accepted_hash_schemes(value, scheme):
    assert hash_scheme(value) == scheme


@pytest.mark.parametrize(
    ("value", "needle"),
    [("{MD5}X03MO1qnZdYdgyfeuILPmQ==", "{MD5}"), ("{CLEARTEXT}secret", "{CLEARTEXT}"),
     ("hunter2", "plain text"), ("{SSHA}" + base64.b64encode(b"x" * 20).decode(), "no salt"),
     ("$1$abc$def", "$1$")],
)  # fmt: skip
def test_unknown_schemes_are_refused_clearly(value, needle):
    with pytest.raises(RowError) as exc:
        hash_scheme(value)
    assert needle in exc.value.message and exc.value.field == "password_hash"


def _csv(world, rows):
    head = (
        "email,agency,given_name_en,family_name_en,mailbox_quota_mb,aliases,citizen_id,"
        "password_hash\n"
    )
    return (head + "".join(",".join(r) + "\n" for r in rows)).encode()


def _rows(world, bad: bool):
    a, a1 = world.agencies["A"].code, world.agencies["A1"].code
    d = f"{world.u}.go.th"
    rows = [
        [f"imp1@{d}", a, "One", "Imp", "", f"imp1.alias@{d}", "1103702345679", SSHA],
        [f"imp2@{d}", a1, "Two", "Imp", "10240", "", "", CRYPT6],
        [f"imp3@{d}", a1, "Three", "Imp", "", "", "", ""],
    ]
    if bad:
        rows += [
            [f"imp4@{d}", a, "Bad", "Hash", "", "", "", "{MD5}X03MO1qnZdYdgyfeuILPmQ=="],
            [f"imp5@{d}", world.agencies["B"].code, "Other", "Agency", "", "", "", ""],
            [f"imp1@{d}", a, "Dup", "Row", "", "", "", ""],
            [f"user_a@{d}", a, "Exists", "Already", "", "", "", ""],
        ]
    return rows


def _count(db, world):
    return db.scalar(
        select(func.count()).select_from(Account).where(Account.email.like(f"imp%@{world.u}.go.th"))
    )


def test_dry_run_vs_real_and_modes(db, world):
    def go(data, **kw):
        return run_import(
            db, read_rows(io.BytesIO(data), "csv"), cipher=world.services.cipher,
            scope=Scope((world.agencies["A"],)), actor="test", **kw,
        )  # fmt: skip

    bad = _csv(world, _rows(world, bad=True))
    dry = go(bad, dry_run=True)
    assert (dry.rows, dry.valid, dry.failed, dry.created) == (7, 3, 4, 0)
    assert {(e["row"], e["field"]) for e in dry.errors} == {
        (4, "password_hash"),
        (5, "agency"),
        (6, "email"),
        (7, "email"),
    }
    assert _count(db, world) == 0
    real = go(bad)  # all-or-nothing: nothing written
    assert real.to_dict()["errors"] == dry.to_dict()["errors"] and real.created == 0
    assert _count(db, world) == 0
    per_row = go(bad, mode="per_row")
    assert per_row.created == 3 and per_row.failed == 4
    assert _count(db, world) == 3
    imp1 = db.scalar(select(Account).where(Account.email == f"imp1@{world.u}.go.th"))
    assert imp1.password_hash == SSHA and imp1.citizen_id_last4 == "5679"
    assert imp1.aliases == [f"imp1.alias@{world.u}.go.th"]
    assert (
        db.scalar(
            select(func.count()).select_from(OutboxEntry).where(OutboxEntry.account_id == imp1.id)
        )
        == 1
    )
    imp3 = db.scalar(select(Account).where(Account.email == f"imp3@{world.u}.go.th"))
    assert imp3.password_hash is None
    assert (
        db.scalar(select(AccountToken).where(AccountToken.account_id == imp3.id)).purpose
        == "activate"
    )
    assert len(per_row.activation_tokens) == 1
    ev = db.scalars(select(AuditEvent).where(AuditEvent.type == "admin.import.completed")).all()[-1]
    assert ev.details["created"] == 3 and ev.agency_id == world.agencies["A"].id
    assert ev.details["schemes"] == {"ssha": 1, "sha512_crypt": 1, "none": 1}


def test_import_api(client, db, world):
    h = {**world.headers("admin_a"), "content-type": "text/csv"}
    good = _csv(world, _rows(world, bad=False))
    r = client.post("/admin/v1/imports?dry_run=true", content=good, headers=h)
    assert r.status_code == 200 and r.json()["valid"] == 3 and r.json()["created"] == 0
    rows = [
        {"email": f"j{i}@{world.u}.go.th", "agency": world.agencies["A"].code}
        | {"password_hash": BCRYPT}
        for i in range(3)
    ]
    lines = "\n".join(json.dumps(r) for r in rows)
    r = client.post(
        "/admin/v1/imports", content=lines.encode(),
        headers={**h, "content-type": "application/x-ndjson"},
    )  # fmt: skip
    assert r.status_code == 200 and r.json()["created"] == 3, r.text
    r = client.post("/admin/v1/imports", content=good, headers=world.headers("auditor_a"))
    assert r.status_code == 403


def test_cli_import(tmp_path, monkeypatch, unique):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    for k, v in dict(
        IDP_DATABASE_URL=url,
        IDP_ENV="test",
        IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY,
    ).items():
        monkeypatch.setenv(k, v)
    from idp.cli import app
    from idp.db import make_engine, make_session_factory, transaction

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as db:
        factories.agency(db, "cli-m", domains=["cli.go.th"])
    f = tmp_path / "rows.csv"
    f.write_text(
        "email,agency,password_hash\n"
        f"a@cli.go.th,cli-m,{SSHA}\nb@cli.go.th,cli-m,\nc@cli.go.th,cli-m,{{MD5}}xxxx\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    r = runner.invoke(app, ["accounts", "import", str(f), "--dry-run", "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 2 and out["valid"] == 2 and out["errors"][0]["row"] == 3
    assert "unknown password hash scheme {MD5}" in out["errors"][0]["message"]
    r = runner.invoke(app, ["accounts", "import", str(f), "--json"])
    assert r.exit_code == 2 and json.loads(r.stdout)["created"] == 0
    tokens = tmp_path / "tokens.jsonl"
    r = runner.invoke(
        app,
        ["accounts", "import", str(f), "--mode", "per_row", "--tokens-out", str(tokens), "--json"],
    )
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["created"] == 2 and out["activation_tokens"] == 1
    assert json.loads(tokens.read_text())["email"] == "b@cli.go.th"
    assert oct(tokens.stat().st_mode)[-3:] == "600"
    r = runner.invoke(app, ["accounts", "import", str(tmp_path / "missing.csv")])
    assert r.exit_code == 2 and "no such file" in r.stderr
    r = runner.invoke(app, ["accounts", "purge", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["purged"] == 0
    engine.dispose()


def test_malformed_input_is_reported_per_row_or_as_a_clear_error(db, world):
    a = world.agencies["A"].code
    d = f"{world.u}.go.th"
    lines = [
        json.dumps({"email": 5, "agency": a}),
        "not json",
        "[1, 2]",
        json.dumps({"email": f"x@{d}", "agency": a, "password_hash": 7}),
        json.dumps({"email": f"y@{d}", "agency": a, "citizen_id": 1103702345679}),
        json.dumps({"email": f"z@{d}", "agency": a, "colour": "blue"}),
    ]
    result = run_import(
        db, read_rows(io.BytesIO("\n".join(lines).encode()), "jsonl"),
        cipher=world.services.cipher, scope=Scope(None), actor="test", dry_run=True,
    )  # fmt: skip
    assert [(e["row"], e["field"]) for e in result.errors] == [
        (1, "email"), (2, "row"), (3, "row"), (4, "password_hash"), (6, "colour")
    ]  # fmt: skip
    assert result.valid == 1
    with pytest.raises(InvalidInput, match="malformed CSV"):
        list(read_rows(io.BytesIO(b'email,agency\n"a@b.go.th,x\x00\n'), "csv"))


def test_a_dry_run_is_audited_and_never_says_whose_citizen_id_it_is(client, db, world):
    """Issue 17 rule 4: checking rows against every account (a dry run, or an
    all-or-nothing import that stopped) writes one admin.import.checked event with the
    number of rows whose address or citizen ID another account holds; the answer for a
    citizen ID registered in another ministry names neither the account nor its agency."""
    from idp.accounts.service import CITIZEN_ID_PURPOSE

    # The other ministry's account holds a citizen ID; department A's admin tries it.
    other = world.accounts["user_o"]
    other.citizen_id_hmac = world.services.cipher.blind_index("1103702345679", CITIZEN_ID_PURPOSE)
    db.flush()
    d = f"{world.u}.go.th"
    rows = [[f"probe@{d}", world.agencies["A"].code, "P", "Robe", "", "", "1103702345679", ""]]
    h = {**world.headers("admin_a"), "content-type": "text/csv"}
    r = client.post("/admin/v1/imports?dry_run=true", content=_csv(world, rows), headers=h)
    assert r.status_code == 200
    (err,) = r.json()["errors"]
    assert err["field"] == "citizen_id" and "another account" in err["message"]
    assert other.email not in r.text and world.agencies["O"].code not in r.text
    ev = db.scalars(select(AuditEvent).where(AuditEvent.type == "admin.import.checked")).all()[-1]
    assert ev.actor == str(world.accounts["admin_a"].id)
    assert ev.details["dry_run"] is True and ev.details["rows"] == 1
    assert ev.details["conflicts"] == 1 and ev.details["failed"] == 1
