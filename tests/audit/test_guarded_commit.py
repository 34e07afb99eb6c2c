"""A refresh's rotation committed by the audit group commit (``idp.audit.batch.Guard``,
``idp.tokens.rotation.ROTATE``, decision 0026), on the real PostgreSQL.

What a relying party and an auditor rely on: one refresh token is rotated at most once,
whoever presents it and however the presentations fall into batches or processes; a
rotation that loses writes nothing (no successor, no audit event for a token that is
never sent), and a winner's successor and its event are in the chain together; a
family revoked after the read cannot be rotated; the chain stays one gapless chain.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
import uuid

import psycopg
from sqlalchemy import delete, insert, select

from idp.audit import service as audit
from idp.audit.batch import Guard, make_batcher
from idp.audit.models import AuditEvent
from idp.db import utcnow
from idp.tokens import rotation
from idp.tokens.models import Grant, RefreshToken
from tests.audit.test_batch import stored


def _family(committed) -> rotation.Family:
    """A grant (no account: the column allows it) and one unused refresh token."""
    now = dt.datetime.now(dt.UTC)
    grant_id, token_id = uuid.uuid4(), uuid.uuid4()
    with committed.sessions.begin() as s:
        s.execute(delete(RefreshToken))
        s.execute(delete(Grant))
        s.execute(
            insert(Grant).values(
                id=grant_id,
                client_id="app",
                scope="openid",
                amr=[],
                created_at=now,
                expires_at=now + dt.timedelta(days=1),
            )
        )
        s.execute(
            insert(RefreshToken).values(
                id=token_id,
                token_hash=uuid.uuid4().hex,
                grant_id=grant_id,
                client_id="app",
                scope="openid",
                expires_at=now + dt.timedelta(days=1),
            )
        )
    token = rotation.FamilyToken(token_id, grant_id, "app", "openid", now, None, None)
    grant = rotation.FamilyGrant(
        grant_id, None, now + dt.timedelta(days=1), None, [], None, None, None
    )
    return rotation.Family("presented", token, grant, None)


def _rotate(family: rotation.Family, tag: str) -> tuple[list, Guard]:
    _, rot = rotation.new_rotation(
        family, client_id="app", scope="openid", lifetime=3600, now=utcnow()
    )
    evs = [audit.new_event("admin.account.resumed", actor=tag, subject="0")]
    return evs, Guard(rotation.ROTATE, rot.params, rot.order)


def _tokens(committed) -> list[tuple]:
    with committed.sessions() as s:
        q = select(RefreshToken.rotated_from, RefreshToken.used_at, RefreshToken.revoked_at)
        return [tuple(r) for r in s.execute(q)]


def test_one_token_rotated_twice_in_one_batch_rotates_once(committed_pg):
    family = _family(committed_pg)
    batcher = make_batcher(committed_pg.engine)

    async def main():
        plain = batcher.commit([audit.new_event("admin.account.resumed", actor="plain")])
        results = await asyncio.gather(
            batcher.commit(*_rotate(family, "first")),
            batcher.commit(*_rotate(family, "second")),
            plain,
        )
        await batcher.aclose()
        return results

    first, second, plain = asyncio.run(main())
    assert sorted([first, second]) == [False, True] and plain is True
    assert batcher.batches == 1  # the three calls shared one transaction
    winner = "first" if first else "second"
    # Only the winner's event and the neighbour's: the loser's token was never sent.
    assert sorted(r[1] for r in stored(committed_pg)) == sorted([winner, "plain"])
    rows = _tokens(committed_pg)
    successors = [r for r in rows if r[0] == family.token.id]
    assert len(successors) == 1, rows  # one successor, of the presented token
    assert [r for r in rows if r[0] is None][0][1] is not None  # the presented one is used


def test_a_revoked_family_is_not_rotated(committed_pg):
    family = _family(committed_pg)
    with committed_pg.sessions.begin() as s:  # revoked after the refresh read it
        s.execute(RefreshToken.__table__.update().values(revoked_at=dt.datetime.now(dt.UTC)))
    batcher = make_batcher(committed_pg.engine)

    async def main():
        outcome = await batcher.commit(*_rotate(family, "late"))
        await batcher.aclose()
        return outcome

    assert asyncio.run(main()) is False
    assert len(_tokens(committed_pg)) == 1  # no successor
    with committed_pg.sessions() as s:
        assert s.scalar(select(AuditEvent.seq).limit(1)) is None  # and no event


def test_a_rotation_by_another_process_is_waited_for_then_wins(committed_pg):
    """Another process (here a connection of its own) rotates the token and has not
    committed yet: this writer's rotation waits for that row, then finds it used."""
    family = _family(committed_pg)
    batcher = make_batcher(committed_pg.engine)
    dsn = committed_pg.url.replace("postgresql+psycopg://", "postgresql://")

    async def main():
        other = await psycopg.AsyncConnection.connect(dsn)
        async with other.transaction():
            await other.execute(
                "UPDATE refresh_token SET used_at = now() WHERE id = %s", (family.token.id,)
            )
            mine = asyncio.ensure_future(batcher.commit(*_rotate(family, "mine")))
            await _until_waiting_for_a_lock(dsn)
            assert not mine.done()
        await other.close()
        outcome = await asyncio.wait_for(mine, 30)
        await batcher.aclose()
        return outcome

    assert asyncio.run(main()) is False
    assert len(_tokens(committed_pg)) == 1
    with committed_pg.sessions() as s:
        assert s.scalar(select(AuditEvent.seq).limit(1)) is None


async def _until_waiting_for_a_lock(dsn: str) -> None:
    """Poll the database until a backend waits for a row lock (the writer's UPDATE)."""
    deadline = time.monotonic() + 20
    async with await psycopg.AsyncConnection.connect(dsn, autocommit=True) as conn:
        while time.monotonic() < deadline:
            cur = await conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                " AND query LIKE 'WITH used AS%%'"
            )
            if (await cur.fetchone())[0]:
                return
            await asyncio.sleep(0.05)
    raise AssertionError("the rotation never waited for the other process's row lock")
