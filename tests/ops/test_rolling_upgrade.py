"""Rolling upgrades (issue 21): while instances of the previous release still run, the
next release's ``idp db upgrade`` has already moved the schema on. /readyz of the older
code must stay ready when the new schema only expands (a migration marked
``govid_expand = True``) and go unready when a migration contracts it (a migration
without the mark). The older code cannot know the newer migrations: it reads what the
upgrade recorded in the database (idp/migrate.py, "compatible since").

The "next release" here is this code's migrations plus two more, written by the test into
a copy of the migrations directory: an expand (a new nullable column) and a contract
(dropping it again). Before, /readyz refused any schema but its own head."""

from __future__ import annotations

import shutil

from fastapi.testclient import TestClient

from idp import migrate
from idp.main import create_app
from tests.conftest import make_settings

EXPAND = '''
"""rolling upgrade test: expand"""
import sqlalchemy as sa
from alembic import op

revision = "9901_rolling_expand"
down_revision = "{head}"
branch_labels = None
depends_on = None
govid_expand = True  # code at down_revision runs on this schema


def upgrade():
    op.add_column("agency", sa.Column("rolling_probe", sa.String(10), nullable=True))


def downgrade():
    op.drop_column("agency", "rolling_probe")
'''

CONTRACT = '''
"""rolling upgrade test: contract"""
import sqlalchemy as sa
from alembic import op

revision = "9902_rolling_contract"
down_revision = "9901_rolling_expand"
branch_labels = None
depends_on = None


def upgrade():
    op.drop_column("agency", "rolling_probe")


def downgrade():
    op.add_column("agency", sa.Column("rolling_probe", sa.String(10), nullable=True))
'''


def next_release(tmp_path, monkeypatch):
    """Point idp.migrate at this code's migrations plus the two above."""
    (head,) = migrate.head_revisions()
    root = tmp_path / "migrations"
    shutil.copytree(migrate.MIGRATIONS_DIR, root, ignore=shutil.ignore_patterns("__pycache__"))
    (root / "versions" / "9901_rolling_expand.py").write_text(EXPAND.format(head=head))
    (root / "versions" / "9902_rolling_contract.py").write_text(CONTRACT)
    monkeypatch.setattr(migrate, "MIGRATIONS_DIR", root)
    return head


def readyz(url: str):
    with TestClient(create_app(make_settings(url), start_workers=False)) as c:
        return c.get("/readyz")


def test_older_code_is_ready_on_an_expanded_schema_not_on_a_contracted_one(
    pg_fresh_url, tmp_path, monkeypatch
):
    migrate.upgrade(pg_fresh_url)
    assert readyz(pg_fresh_url).json()["status"] == "ready"

    # The next release migrates with an expand migration; this code still serves.
    with monkeypatch.context() as m:
        head = next_release(tmp_path, m)
        # This code's own migrations end in expands (0009-0013), so the run of expands
        # reaches back past this code's head: this code and older releases are served.
        since = migrate.compatible_since(head)
        assert migrate.compatible_since("9901_rolling_expand") == since
        assert since != head and since in {r.revision for r in migrate._script().walk_revisions()}
        assert migrate.compatible_since("9902_rolling_contract") == "9902_rolling_contract"
        migrate.upgrade(pg_fresh_url, "9901_rolling_expand")
    r = readyz(pg_fresh_url)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    assert body["schema"] == "9901_rolling_expand"
    assert body["code"] == head
    assert body["schema_compatible_since"] == since

    # The next release's own code on the same schema is ready too (it is its head... once
    # the contract has run; before, it is at an older revision of its own: not ready).
    with monkeypatch.context() as m:
        next_release(tmp_path / "again", m)
        assert readyz(pg_fresh_url).status_code == 503  # 9902 not applied yet

    # The contract migration runs once no instance of this code is left.
    with monkeypatch.context() as m:
        next_release(tmp_path / "third", m)
        migrate.upgrade(pg_fresh_url)
        assert readyz(pg_fresh_url).status_code == 200
    r = readyz(pg_fresh_url)
    assert r.status_code == 503
    assert r.json()["status"] == "unavailable"
    assert "9902_rolling_contract" in r.json()["reason"]
    assert int(r.headers["retry-after"]) > 0


def test_older_schema_is_still_not_ready(pg_fresh_url):
    (head,) = migrate.head_revisions()
    previous = migrate._script().get_revision(head).down_revision
    migrate.upgrade(pg_fresh_url, previous)
    r = readyz(pg_fresh_url)
    assert r.status_code == 503
    assert "idp db upgrade" in r.json()["reason"]
