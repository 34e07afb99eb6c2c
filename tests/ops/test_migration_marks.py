"""Every migration from 0009 on says whether it only expands the schema
(``govid_expand = True``: the previous release keeps running on it during a rolling
upgrade) or contracts it (``govid_expand = False``), and a migration that says "expand"
really only expands: run step by step on SQLite and PostgreSQL, no table or column the
previous code uses disappears or changes type, no column becomes NOT NULL, every new
column on an existing table is nullable or has a server default, and no new unique or
check constraint or foreign key binds columns the previous code already writes.

Operators rely on the mark: ``idp db upgrade`` records "compatible since" from it and
``/readyz`` of the older instances trusts that record (docs/operations.md "Upgrades
without downtime"); a wrong mark keeps old instances in the load balancer on a schema
they break on."""

from __future__ import annotations

import re

import pytest
import sqlalchemy as sa
from alembic.script import ScriptDirectory

from idp import migrate

# Migrations before this one were written before the marks existed.
FIRST_DECIDED = 9


def _chain() -> list:
    """This code's revisions, oldest first (one line of history)."""
    script = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    return list(reversed(list(script.walk_revisions())))


def _number(rev) -> int:
    m = re.match(r"(\d+)_", rev.revision)
    return int(m.group(1)) if m else 0


def _decided() -> list:
    return [r for r in _chain() if _number(r) >= FIRST_DECIDED]


def test_every_new_migration_decides_expand_or_contract():
    undecided = [
        r.revision
        for r in _decided()
        if not isinstance(getattr(r.module, "govid_expand", None), bool)
    ]
    assert not undecided, (
        f"{undecided}: say `govid_expand = True` (the previous release runs on the result) "
        "or `govid_expand = False` (a contract) in the module; docs/operations.md, "
        "'Upgrades without downtime (rolling)'"
    )


def test_the_shipped_expands_keep_release_0008_ready():
    """0009-0013 only add: code at 0008 runs on a schema at 0013."""
    assert migrate.compatible_since("0013_account_agency_status") == "0008_mail_addresses"


# --------------------------------------------------------------------- the schema check


def snapshot(url: str) -> dict:
    engine = sa.create_engine(migrate.normalise_url(url))
    try:
        insp = sa.inspect(engine)
        out = {}
        for table in insp.get_table_names():
            if table == "alembic_version":
                continue
            cols = {
                c["name"]: (
                    str(c["type"]).upper(),
                    bool(c["nullable"]),
                    c.get("default") is not None or bool(c.get("autoincrement") is True),
                )
                for c in insp.get_columns(table)
            }
            unique = {frozenset(u["column_names"]) for u in insp.get_unique_constraints(table)}
            unique |= {
                frozenset(c for c in i["column_names"] if c)
                for i in insp.get_indexes(table)
                if i.get("unique")
            }
            pk = insp.get_pk_constraint(table).get("constrained_columns") or []
            checks = {c.get("sqltext") for c in insp.get_check_constraints(table)}
            fks = {frozenset(f["constrained_columns"]) for f in insp.get_foreign_keys(table)}
            out[table] = {
                "columns": cols,
                "unique": unique,
                "pk": frozenset(pk),
                "checks": checks,
                "fks": fks,
            }
        return out
    finally:
        engine.dispose()


def expand_problems(before: dict, after: dict) -> list[str]:
    """What in ``after`` the code that ran on ``before`` could trip on."""
    problems = []
    for table, old in before.items():
        new = after.get(table)
        if new is None:
            problems.append(f"table {table} dropped or renamed")
            continue
        for col, (type_, nullable, _default) in old["columns"].items():
            if col not in new["columns"]:
                problems.append(f"column {table}.{col} dropped or renamed")
                continue
            ntype, nnull, _ = new["columns"][col]
            if ntype != type_:
                problems.append(f"column {table}.{col} changed type {type_} -> {ntype}")
            if nullable and not nnull:
                problems.append(f"column {table}.{col} became NOT NULL")
        added = set(new["columns"]) - set(old["columns"])
        for col in sorted(added):
            _type, nullable, default = new["columns"][col]
            if not nullable and not default:
                problems.append(
                    f"new column {table}.{col} is NOT NULL without a server default: "
                    "the previous code's INSERTs fail"
                )
        old_cols = set(old["columns"])
        for cols in new["unique"] - old["unique"]:
            if cols & old_cols:
                problems.append(f"new unique constraint on {table} {sorted(cols)}")
        for check in new["checks"] - old["checks"]:
            problems.append(f"new check constraint on {table}: {check}")
        for cols in new["fks"] - old["fks"]:
            if cols & old_cols:
                problems.append(f"new foreign key on {table} {sorted(cols)}")
        if new["pk"] != old["pk"]:
            problems.append(f"primary key of {table} changed")
    return problems


def test_the_check_finds_contracts():
    """The check itself: each way a contract breaks the previous code is reported."""
    base = {
        "agency": {
            "columns": {"id": ("UUID", False, False), "note": ("VARCHAR(10)", True, False)},
            "unique": set(),
            "pk": frozenset({"id"}),
            "checks": set(),
            "fks": set(),
        }
    }

    def changed(**cols) -> dict:
        t = {**base["agency"], "columns": {**base["agency"]["columns"], **cols}}
        return {"agency": t}

    assert expand_problems(base, base) == []
    assert expand_problems(base, changed(extra=("TEXT", True, False))) == []
    assert expand_problems(base, changed(extra=("TEXT", False, True))) == []
    dropped = {"agency": {**base["agency"], "columns": {"id": ("UUID", False, False)}}}
    assert expand_problems(base, dropped) == ["column agency.note dropped or renamed"]
    assert (
        "became NOT NULL" in expand_problems(base, changed(note=("VARCHAR(10)", False, False)))[0]
    )
    assert "changed type" in expand_problems(base, changed(note=("VARCHAR(5)", True, False)))[0]
    assert (
        "without a server default"
        in expand_problems(base, changed(extra=("TEXT", False, False)))[0]
    )
    unique = {"agency": {**base["agency"], "unique": {frozenset({"note"})}}}
    assert "unique" in expand_problems(base, unique)[0]
    assert expand_problems(base, {}) == ["table agency dropped or renamed"]


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_migrations_marked_expand_only_expand(backend, request):
    url = request.getfixturevalue("sqlite_fresh_url" if backend == "sqlite" else "pg_fresh_url")
    found = {}
    for rev in _chain():  # one step at a time: the schema is at rev's down_revision
        marked = getattr(rev.module, "govid_expand", False)
        before = snapshot(url) if marked else None
        migrate.upgrade(url, rev.revision)
        if before is not None and (problems := expand_problems(before, snapshot(url))):
            found[rev.revision] = problems
    assert _decided(), "no migration from 0009 on?"
    assert not found, found
