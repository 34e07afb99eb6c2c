"""The per-process client cache (idp/clients/cache.py) on a real SQLite database.

Database work is counted with a ``before_cursor_execute`` listener, so "served from the
cache" means "no SQL ran". Loads mimic a request: a session of its own (expiring on
commit, the strict setting), the loader the server uses (``clients.get_active``),
then the session commits and closes while the row lives on in the cache.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

import pytest
from sqlalchemy import Engine, event, select
from sqlalchemy.orm import Session, sessionmaker

from idp import migrate
from idp.agencies import service as agencies
from idp.authz.caller import caller_for_client
from idp.authz.context import Ctx
from idp.clients import manage as admin_clients
from idp.clients import service as clients
from idp.clients.cache import ClientCache
from idp.clients.models import Client
from idp.clock import FakeClock
from idp.db import make_engine

AGENCY = "cache-test"


@dataclass
class CacheDb:
    engine: Engine
    sessions: sessionmaker[Session]
    statements: list[str] = field(default_factory=list)

    def count(self, fn: Callable[[], object]) -> tuple[object, int]:
        """``fn()`` and the number of SQL statements it ran."""
        before = len(self.statements)
        result = fn()
        return result, len(self.statements) - before


@pytest.fixture(scope="module")
def cache_db(tmp_path_factory) -> Iterator[CacheDb]:
    url = f"sqlite:///{tmp_path_factory.mktemp('client_cache') / 'idp.db'}"
    migrate.upgrade(url)
    engine = make_engine(url)
    db = CacheDb(engine, sessionmaker(bind=engine))  # expire_on_commit=True: strict

    @event.listens_for(engine, "before_cursor_execute")
    def _count(_conn, _cursor, statement, *_args):
        db.statements.append(statement)

    with db.sessions.begin() as s:
        agencies.create(s, agencies.NewAgency(code=AGENCY, name_th="หน่วยงาน", name_en="Agency"))
    yield db
    engine.dispose()


def new_client(cache_db: CacheDb, **kw) -> str:
    kw.setdefault("grant_types", ("client_credentials",))
    kw.setdefault("scopes", ("govid", "admin:clients"))
    with cache_db.sessions.begin() as s:
        c, _secret = clients.create(
            s, clients.NewClient(agency_code=AGENCY, name_th="แอป", name_en="Before", **kw)
        )
        return c.client_id


@pytest.fixture
def client_id(cache_db) -> str:
    return new_client(cache_db)


def lookup(cache_db: CacheDb, cache: ClientCache, client_id: str) -> tuple[Client | None, int]:
    """One request's client lookup: (the row, SQL statements the lookup ran)."""
    with cache_db.sessions() as s, s.begin():
        row, n = cache_db.count(
            lambda: cache.get(client_id, lambda: clients.get_active(s, client_id))
        )
        if row is not None:  # what the request reads from it
            assert row.client_id == client_id and row.name_en and row.status
    if row is not None and cache.ttl > 0:
        # A cached entry outlives the request that loaded it: a detached snapshot that
        # the commit and close did not expire.
        assert row.client_id == client_id and row.name_en and row.status
    return row, n


def change(cache_db: CacheDb, client_id: str, *, commit: bool = True, **values) -> None:
    """Change the client through the ORM in a session of its own (as the admin API does)."""
    s = cache_db.sessions()
    try:
        s.begin()
        row = s.scalar(select(Client).where(Client.client_id == client_id))
        for k, v in values.items():
            setattr(row, k, v)
        s.flush()
        s.commit() if commit else s.rollback()
    finally:
        s.close()


# ------------------------------------------------------------------ TTL


def test_hit_within_ttl_runs_no_sql(cache_db, client_id):
    cache = ClientCache(60)
    first, n = lookup(cache_db, cache, client_id)
    assert first is not None and first.status == "active" and n >= 1
    for _ in range(3):
        again, n = lookup(cache_db, cache, client_id)
        assert n == 0 and again is first


def test_entry_expires_after_ttl(cache_db, client_id):
    clock = FakeClock()
    cache = ClientCache(30, clock=clock)
    assert lookup(cache_db, cache, client_id)[1] >= 1
    clock.advance(29.9)
    assert lookup(cache_db, cache, client_id)[1] == 0
    clock.advance(0.1)
    row, n = lookup(cache_db, cache, client_id)
    assert n >= 1 and row is not None


def test_ttl_zero_always_loads(cache_db, client_id):
    cache = ClientCache(0)
    for _ in range(3):
        row, n = lookup(cache_db, cache, client_id)  # (the row is the request's own)
        assert n >= 1 and row is not None


# ------------------------------------------------------------------ in-process freshness


def test_committed_change_in_another_session_drops_the_entry(cache_db, client_id):
    cache, other_cache = ClientCache(60), ClientCache(60)
    bystander = new_client(cache_db)
    for c in (cache, other_cache):
        assert lookup(cache_db, c, client_id)[0].name_en == "Before"
        assert lookup(cache_db, c, bystander)[0] is not None

    change(cache_db, client_id, name_en="After")
    for c in (cache, other_cache):  # every cache of the process
        row, n = lookup(cache_db, c, client_id)
        assert n >= 1 and row.name_en == "After"
    assert lookup(cache_db, cache, bystander)[1] == 0  # other clients stay cached

    change(cache_db, client_id, status="disabled")
    row, n = lookup(cache_db, cache, client_id)
    assert row is None and n >= 1  # a disabled client is at once no client
    assert lookup(cache_db, cache, client_id) == (None, 0)  # and that answer is cached

    change(cache_db, client_id, status="active")  # re-enabled: usable again at once
    row, n = lookup(cache_db, cache, client_id)
    assert row is not None and row.status == "active" and n >= 1


def test_rolled_back_change_does_not_matter(cache_db, client_id):
    cache = ClientCache(60)
    assert lookup(cache_db, cache, client_id)[0].status == "active"
    change(cache_db, client_id, commit=False, status="disabled", name_en="Never")
    row, _ = lookup(cache_db, cache, client_id)
    assert row is not None and row.status == "active" and row.name_en == "Before"
    # And a committed change afterwards still drops the entry.
    change(cache_db, client_id, name_en="Later")
    assert lookup(cache_db, cache, client_id)[0].name_en == "Later"


def test_admin_service_disable_and_secret_rotation_are_seen_at_once(cache_db, client_id):
    cache = ClientCache(60)
    admin_id = new_client(cache_db)
    target = lookup(cache_db, cache, client_id)[0]
    old_hash = target.secret_hash

    def admin(op) -> None:
        with cache_db.sessions() as s, s.begin():
            me = s.scalar(select(Client).where(Client.client_id == admin_id))
            caller = caller_for_client(s, me, frozenset({"admin:clients"}))
            op(Ctx(db=s, caller=caller, services=None))

    admin(lambda ctx: admin_clients.rotate_secret(ctx, client_id, "*"))
    row, n = lookup(cache_db, cache, client_id)
    assert n >= 1 and row.secret_hash != old_hash
    assert target.secret_hash == old_hash  # snapshots are never changed under a reader

    admin(lambda ctx: admin_clients.disable(ctx, client_id, "*"))
    assert lookup(cache_db, cache, client_id)[0] is None


# ------------------------------------------------------------------ unknown ids


def test_unknown_ids_are_cached_as_none_within_a_bound(cache_db):
    cache = ClientCache(60, max_entries=5)
    assert lookup(cache_db, cache, "no-such-client")[0] is None
    assert lookup(cache_db, cache, "no-such-client") == (None, 0)  # remembered
    for i in range(50):  # a caller spraying made-up ids
        assert lookup(cache_db, cache, f"made-up-{i}")[0] is None
        assert len(cache._entries) <= cache.max_entries  # (no public size to ask)


def test_a_change_committed_during_a_load_is_not_kept(cache_db, client_id):
    """The request read the row, then the admin API disabled the client and answered,
    then the request stored what it had read: that stale row must not be served to the
    next request for a whole TTL."""
    cache = ClientCache(60)

    def load_racing_with_admin():
        with cache_db.sessions() as s:
            row = clients.get_active(s, client_id)
            change(cache_db, client_id, status="disabled")  # commits meanwhile
            s.expunge(row)
            return row

    assert cache.get(client_id, load_racing_with_admin).status == "active"  # what it read
    row, n = lookup(cache_db, cache, client_id)
    assert row is None and n >= 1  # read again: disabled
