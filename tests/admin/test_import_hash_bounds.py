"""Imports refuse password hashes beyond the work limits, per row (issue 17 item 5):
in the service (dry run and real, both modes), the admin API and the CLI."""

from __future__ import annotations

import io
import json

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from idp import migrate
from idp.accounts.importing.rows import read_rows
from idp.accounts.importing.service import run_import
from idp.accounts.models import Account
from idp.authz.scope import Scope
from idp.credentials.hash_bounds import HashBounds
from tests import factories
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY

OK6 = "$6$saltsalt$" + "a" * 86  # implicit rounds=5000
BIG6 = "$6$rounds=999999999$saltsalt$" + "a" * 86
BCRYPT31 = "{CRYPT}$2b$31$" + "b" * 53
ARGON2 = "$argon2id$v=19$m=4194304,t=100000,p=1$c2FsdHNhbHRzYWx0$" + "A" * 43


def _rows(world, prefix):
    a, d = world.agencies["A"].code, f"{world.u}.go.th"
    hashes = [OK6, BIG6, BCRYPT31, ARGON2]
    return [
        {"email": f"{prefix}{i}@{d}", "agency": a, "password_hash": ph}
        for i, ph in enumerate(hashes)
    ]


def _jsonl(rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def _count(db, world, prefix):
    like = f"{prefix}%@{world.u}.go.th"
    return db.scalar(select(func.count()).select_from(Account).where(Account.email.like(like)))


def _assert_refused(errors):
    by_row = {e["row"]: e for e in errors}
    assert set(by_row) == {2, 3, 4}
    assert all(e["field"] == "password_hash" for e in errors)
    assert "sha512_crypt rounds 999999999 is above the work limit 100000" in by_row[2]["message"]
    assert "IDP_HASH_MAX_SHA_CRYPT_ROUNDS" in by_row[2]["message"]
    assert "bcrypt cost 31 is above the work limit 12" in by_row[3]["message"]
    assert "argon2 m (KiB) 4194304" in by_row[4]["message"]
    assert "activation link" in by_row[4]["message"]


@pytest.mark.parametrize("mode", ["all_or_nothing", "per_row"])
def test_service_dry_run_and_real(db, world, mode):
    rows = _rows(world, f"hb-{mode[:3]}-")

    def go(**kw):
        return run_import(
            db, read_rows(io.BytesIO(_jsonl(rows)), "jsonl"), cipher=world.services.cipher,
            scope=Scope((world.agencies["A"],)), actor="test", mode=mode, **kw,
        )  # fmt: skip

    dry = go(dry_run=True)
    assert (dry.rows, dry.valid, dry.failed, dry.created) == (4, 1, 3, 0)
    _assert_refused(dry.errors)
    real = go()
    _assert_refused(real.errors)
    assert real.created == (1 if mode == "per_row" else 0)
    assert _count(db, world, f"hb-{mode[:3]}-") == real.created
    # An operator who raises a limit accepts the row (here bcrypt only).
    raised = go(dry_run=True, bounds=HashBounds(bcrypt_cost=31))
    assert {e["row"] for e in raised.errors} >= {2, 4} and 3 not in {
        e["row"] for e in raised.errors if e["field"] == "password_hash"
    }


def test_api(client, world):
    h = {**world.headers("admin_a"), "content-type": "application/x-ndjson"}
    body = _jsonl(_rows(world, "hb-api-"))
    r = client.post("/admin/v1/imports?dry_run=true", content=body, headers=h)
    assert r.status_code == 200 and r.json()["valid"] == 1, r.text
    _assert_refused(r.json()["errors"])
    r = client.post("/admin/v1/imports?mode=per_row", content=body, headers=h)
    assert r.status_code == 200 and r.json()["created"] == 1, r.text
    _assert_refused(r.json()["errors"])


def test_cli(tmp_path, monkeypatch):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    migrate.upgrade(url)
    for k, v in dict(
        IDP_DATABASE_URL=url, IDP_ENV="test", IDP_SECRET_KEY=TEST_SECRET_KEY,
        IDP_DATA_KEY=TEST_DATA_KEY, IDP_HASH_MAX_SHA_CRYPT_ROUNDS="200000",
    ).items():  # fmt: skip
        monkeypatch.setenv(k, v)
    from idp.cli import app
    from idp.db import make_engine, make_session_factory, transaction

    engine = make_engine(url)
    with transaction(make_session_factory(engine)) as db:
        factories.agency(db, "hb-m", domains=["hb.go.th"])
    f = tmp_path / "rows.csv"
    f.write_text(
        "email,agency,password_hash\n"
        f"a@hb.go.th,hb-m,{OK6}\nb@hb.go.th,hb-m,{BIG6}\n"
        f"c@hb.go.th,hb-m,{OK6.replace('$6$', '$6$rounds=150000$')}\n",
        encoding="utf-8",
    )
    runner = CliRunner()
    r = runner.invoke(app, ["accounts", "import", str(f), "--dry-run", "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 2 and out["valid"] == 2 and [e["row"] for e in out["errors"]] == [2]
    # the limit comes from IDP_HASH_MAX_SHA_CRYPT_ROUNDS (150,000 is inside 200,000)
    assert "work limit 200000 (IDP_HASH_MAX_SHA_CRYPT_ROUNDS)" in out["errors"][0]["message"]
    r = runner.invoke(app, ["accounts", "import", str(f)])
    assert r.exit_code == 2 and "row 2: password_hash: sha512_crypt rounds" in r.stdout
    r = runner.invoke(app, ["accounts", "import", str(f), "--mode", "per_row", "--json"])
    out = json.loads(r.stdout)
    assert r.exit_code == 0 and out["created"] == 2 and out["failed"] == 1
    engine.dispose()


def test_a_hash_that_could_never_verify_is_refused_not_imported(db, world):
    """A zero-padded ``rounds=05000`` or ``rounds=999`` matches the sha512-crypt shape,
    but passlib refuses to read it at every sign-in: the person could never sign in.
    The row is refused with the reason; a well-formed hash in the same file imports."""
    from passlib.hash import sha512_crypt

    good = sha512_crypt.using(rounds=5000).hash("Correct horse battery 1")
    body = good.split("$", 2)[2]  # salt$checksum (rounds=5000 is implicit)
    a, d = world.agencies["A"].code, f"{world.u}.go.th"
    rows = [
        {"email": f"mf-{i}@{d}", "agency": a, "password_hash": ph}
        for i, ph in enumerate([good, f"$6$rounds=05000${body}", f"{{CRYPT}}$6$rounds=999${body}"])
    ]
    result = run_import(
        db, read_rows(io.BytesIO(_jsonl(rows)), "jsonl"), cipher=world.services.cipher,
        scope=Scope((world.agencies["A"],)), actor="test", mode="per_row",
    )  # fmt: skip
    by_row = {e["row"]: e for e in result.errors}
    assert set(by_row) == {2, 3}, result.errors
    assert all(e["field"] == "password_hash" for e in result.errors)
    assert "zero-padded rounds" in by_row[2]["message"]
    assert "rounds (999) is too low" in by_row[3]["message"]
    assert result.created == 1 and _count(db, world, "mf-") == 1
