"""`idp db upgrade` takes a PostgreSQL advisory lock (issue 21): replicas or a one-shot
migration service started together run one after the other, never interleaved."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from idp import migrate
from idp.db import make_engine

pytestmark = pytest.mark.postgres


def _upgrade(url: str) -> subprocess.Popen:
    env = {**os.environ, "IDP_DATABASE_URL": url, "IDP_ENV": "dev"}
    return subprocess.Popen(
        [str(Path(sys.executable).with_name("idp")), "db", "upgrade", "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def test_upgrade_waits_for_the_lock(pg_fresh_url):
    with psycopg.connect(_libpq(pg_fresh_url), autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (migrate.UPGRADE_LOCK_KEY,))
        proc = _upgrade(pg_fresh_url)
        try:
            # Unlocked, a migration of an empty database takes ~2 s here; give it 8.
            try:
                out, err = proc.communicate(timeout=8)
                pytest.fail(f"db upgrade did not wait for the lock: {out} {err}")
            except subprocess.TimeoutExpired:
                pass  # waiting, not migrating
        finally:
            holder.execute("SELECT pg_advisory_unlock(%s)", (migrate.UPGRADE_LOCK_KEY,))
        out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert '"revision"' in out


def test_two_upgrades_at_once_both_succeed(pg_fresh_url):
    procs = [_upgrade(pg_fresh_url) for _ in range(2)]
    results = [(p.communicate(timeout=90), p.returncode) for p in procs]
    for (_out, err), rc in results:
        assert rc == 0, err
    engine = make_engine(pg_fresh_url)
    try:
        assert migrate.current_revisions(engine) == migrate.head_revisions()
    finally:
        engine.dispose()
