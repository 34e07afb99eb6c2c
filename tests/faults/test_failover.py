"""PostgreSQL failover (issue 21): a primary and a streaming replica (pg_basebackup -R,
synchronous commit to the replica) on loopback; GovID is given both hosts with
``target_session_attrs=read-write``. Under a stream of token requests the primary dies
(immediate shutdown, as a crash) and the replica is promoted: GovID must find the new
primary by itself, nothing answered 200 may be missing from the promoted database, and
the audit chain must verify there.

Both URL forms: libpq's (``host=a,b&port=p,q``) and SQLAlchemy's (``host=a:p&host=b:q``).
Before, the audit group-commit connection was opened from the URL rendered back as text,
which libpq cannot read in the SQLAlchemy form: 8 of 9 tokens answered 500."""

from __future__ import annotations

import time

import httpx
import psycopg
import pytest

from tests.faults.conftest import (
    AccountWriter,
    Load,
    SignIns,
    audit_verify,
    audited_jtis,
    deployed,
    jti_of,
    machine_token,
    wait_until,
)


def replicated_pair(fleet):
    primary = fleet.pg("primary").start()
    replica = fleet.replica("replica", primary).start()

    def streaming() -> bool:
        with psycopg.connect(primary.dsn(), autocommit=True, connect_timeout=5) as conn:
            row = conn.execute("SELECT state FROM pg_stat_replication").fetchone()
        return bool(row) and row[0] == "streaming"

    wait_until(streaming, 30, "the replica to stream")
    # Synchronous commit: a commit is acknowledged once the replica has it, so a crash
    # of the primary loses nothing that was acknowledged (docs/operations.md).
    with psycopg.connect(primary.dsn(), autocommit=True, connect_timeout=5) as conn:
        conn.execute("ALTER SYSTEM SET synchronous_standby_names = '*'")
        conn.execute("SELECT pg_reload_conf()")
    primary.create_database("govid")
    return primary, replica


def urls(primary, replica) -> dict[str, str]:
    hosts = f"127.0.0.1:{primary.port}", f"127.0.0.1:{replica.port}"
    return {
        "libpq": (
            "postgresql://postgres@/govid?host=127.0.0.1,127.0.0.1"
            f"&port={primary.port},{replica.port}&target_session_attrs=read-write"
        ),
        "sqlalchemy": (
            f"postgresql://postgres@/govid?host={hosts[0]}&host={hosts[1]}"
            "&target_session_attrs=read-write"
        ),
    }


@pytest.mark.parametrize("form", ["libpq", "sqlalchemy"])
def test_promoting_the_replica_under_load_loses_nothing(fleet, form, capsys):
    primary, replica = replicated_pair(fleet)
    url = urls(primary, replica)[form]
    with deployed(url) as world:
        for _ in range(9):  # the group-commit writer's path (client cached)
            r = machine_token(world)
            assert r.status_code == 200, r.text
        with (
            Load(world, threads=2) as load,
            AccountWriter(world) as writer,
            SignIns(world) as people,
        ):
            # All three at work before the crash: tokens, an account, a whole sign-in.
            load.running()
            wait_until(
                lambda: writer.created and people.refresh_tokens,
                60,
                lambda: f"an account and a sign-in: {writer.statuses}, {people.failed} failed",
            )
            fault_at = time.monotonic()
            primary.stop("immediate")  # a crash: no shutdown checkpoint, connections cut
            replica.promote()
            promoted_at = time.monotonic()
            load.answered_again(since=promoted_at + 1)
        recovered, failures = load.recovery(fault_at)

        assert not replica.is_in_recovery()
        assert recovered is not None, f"no token after the failover: {load.statuses()}"
        assert set(load.statuses()) <= {200, 503}, load.statuses()
        ok = load.ok_tokens()
        missing = {jti_of(t) for t in ok} - audited_jtis(replica.dsn("govid"))
        assert not missing, f"{len(missing)} of {len(ok)} tokens answered 200 are not audited"
        # Accounts created through the admin API (ORM transactions): every 201 is there.
        assert writer.created, writer.statuses
        assert set(writer.statuses) <= {201, 503}, writer.statuses
        lost = writer.missing_in(replica.dsn("govid"))
        assert not lost, f"{len(lost)} of {len(writer.created)} accounts answered 201 are lost"
        # Every sign-in that completed (its refresh token handed out) is on the new primary.
        assert people.refresh_tokens, people.failed
        refreshed = people.refresh_all()
        assert refreshed == {200: len(people.refresh_tokens)}, refreshed
        verified = audit_verify(world, url)
        assert verified.returncode == 0, verified.stdout + verified.stderr
        ready = httpx.get(f"{world.base}/readyz").json()
        assert ready["status"] == "ready", ready

    with capsys.disabled():
        print(
            f"\npostgresql failover ({form} URL): promotion took {promoted_at - fault_at:.1f} s; "
            f"tokens answered again {recovered:.1f} s after the primary died; "
            f"{len(ok)} tokens 200, all audited on the new primary; "
            f"failures seen by clients {failures or 'none'}; accounts created through the "
            f"admin API: {writer.statuses}, all on the new primary; code-flow sign-ins: "
            f"{len(people.refresh_tokens)} completed (each refresh token refreshed on the new "
            f"primary), {people.failed} broken off by a 503"
        )
