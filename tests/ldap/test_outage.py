"""slapd stopped mid-stream: changes queue, nothing is lost or duplicated, the directory
converges once slapd is back. Real commits, a worker thread, PostgreSQL and SQLite."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import func, select

from idp import migrate
from idp.accounts import service as accounts
from idp.accounts.models import Account
from idp.db import transaction
from idp.directory import outbox, worker
from idp.directory.mail import LdapMailDirectory
from idp.directory.models import OutboxEntry
from idp.services import Services
from tests import factories
from tests.conftest import make_settings
from tests.ldap.conftest import directory_settings, make_base
from tests.ldap.test_provisioning import ldap_entries
from tests.waiting import wait_until


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request) -> Iterator[Services]:
    url = request.getfixturevalue(
        "pg_fresh_url" if request.param == "postgresql" else "sqlite_fresh_url"
    )
    migrate.upgrade(url)
    svc = Services(make_settings(url))
    yield svc
    svc.close()


def pending(services: Services) -> int:
    with services.sessions() as s:
        return outbox.counts(s).pending


def create_accounts(services: Services, code: str, domain: str, names) -> list:
    ids = []
    with transaction(services.sessions) as s:
        for n in names:
            a = factories.account(
                s, f"{n}@{domain}", code, hasher=services.hasher, cipher=services.cipher
            )
            ids.append(a.id)
    return ids


def change(services: Services, account_id, fn) -> None:
    with transaction(services.sessions) as s:
        fn(s, s.get(Account, account_id))


def test_outage_mid_stream_then_convergence(services, own_slapd, unique):
    base = make_base(own_slapd, unique)
    s = directory_settings(own_slapd, base)
    domain = f"o{unique}.go.th"
    with transaction(services.sessions) as db:
        factories.agency(db, f"out-{unique}", domains=[domain])
    ids = create_accounts(services, f"out-{unique}", domain, [f"u{i}" for i in range(20)])

    stop = threading.Event()
    t = threading.Thread(target=worker.run, args=(services, stop), kwargs={"settings": s})
    t.start()
    try:
        wait_until(lambda: pending(services) == 0, 15, "the first 20 accounts")
        assert len(ldap_entries(own_slapd, base)) == 20

        own_slapd.stop()  # the mail directory goes down mid-stream
        for i in range(5):
            change(
                services,
                ids[i],
                lambda db, a, i=i: accounts.update(
                    db, a, accounts.AccountChanges(email=f"renamed{i}@{domain}"), actor="t"
                ),
            )
        for i in range(5, 8):
            change(services, ids[i], lambda db, a: accounts.suspend(db, a, actor="t"))
        for i in range(8, 11):
            change(services, ids[i], lambda db, a: accounts.soft_delete(db, a, actor="t"))
        # Several changes to one account while down: applied in order, last one wins.
        change(
            services,
            ids[11],
            lambda db, a: accounts.update(
                db, a, accounts.AccountChanges(given_name_en="First"), actor="t"
            ),
        )
        change(services, ids[11], lambda db, a: accounts.suspend(db, a, actor="t"))
        change(
            services,
            ids[11],
            lambda db, a: accounts.update(
                db, a, accounts.AccountChanges(given_name_en="Last"), actor="t"
            ),
        )
        ids += create_accounts(services, f"out-{unique}", domain, [f"new{i}" for i in range(5)])

        def failed_attempts() -> int:
            with services.sessions() as db:
                return db.scalar(select(func.max(OutboxEntry.attempts))) or 0

        wait_until(lambda: failed_attempts() >= 2, 10, "the worker to retry and back off")
        assert pending(services) == 5 + 3 + 3 + 3 + 5  # queued, none lost

        own_slapd.start()  # back, same data and port
        wait_until(lambda: pending(services) == 0, 20, "convergence after the outage")
    finally:
        stop.set()
        t.join(timeout=10)
    assert not t.is_alive()

    with services.sessions() as db:
        expected = {str(a.id): a for a in db.scalars(select(Account)) if a.status != "deleted"}
        assert outbox.counts(db).parked == 0
    found = ldap_entries(own_slapd, base)
    assert set(found) == set(expected)  # deleted ones gone, new ones there, no extras
    for uid, a in expected.items():
        e = found[uid]
        assert e["mail"] == [a.email]
        want = "active" if a.status == "active" else "disabled"
        assert e["govidaccountstatus"] == [want]
    assert found[str(ids[11])]["givenname"] == ["Last"]
    assert found[str(ids[11])]["govidaccountstatus"] == ["disabled"]


def test_two_workers_share_the_queue_without_applying_a_row_twice(services, mail_slapd, unique):
    base = make_base(mail_slapd, unique)
    s = directory_settings(mail_slapd, base, batch_size=25)
    domain = f"c{unique}.go.th"
    with transaction(services.sessions) as db:
        factories.agency(db, f"con-{unique}", domains=[domain])
    create_accounts(services, f"con-{unique}", domain, [f"p{i}" for i in range(150)])

    results: list[worker.BatchResult] = []

    def drain() -> None:
        d = LdapMailDirectory(s)
        try:
            results.append(worker.run_once(services.sessions, d, s))
        finally:
            d.close()

    threads = [threading.Thread(target=drain) for _ in range(2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join(timeout=60)
    assert sum(r.claimed for r in results) == 150  # SKIP LOCKED / one writer: no overlap
    assert sum(r.actions.get("added", 0) for r in results) == 150
    assert pending(services) == 0
    assert len(ldap_entries(mail_slapd, base)) == 150
