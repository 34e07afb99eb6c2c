"""The code exchange's audit event (issue 22, S3): on PostgreSQL it goes through the
group-commit writer, as a refresh's does, so the exchange's own transaction never takes
the audit chain's lock; yet every token it issues is audited before it arrives, and
sign-ins redeemed at once keep the chain whole (one event each, no gap)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from tests.protocol.rp import login
from tests.protocol.test_token_fast_path import (
    assert_chain_intact,
    issued_events,
    unverified_claims,
)


def _issued_for(world, cid: str, token: dict) -> list:
    jti = unverified_claims(token["access_token"])["jti"]
    return [e for e in issued_events(world, cid) if e.details.get("jti") == jti]


def test_every_code_exchange_is_audited_before_its_tokens_arrive(world):
    cid = world.client("web")["client_id"]
    for _ in range(3):
        token = login(world).token
        found = _issued_for(world, cid, token)
        assert len(found) == 1, "a code's tokens arrived before their audit event"
        assert found[0].details["grant_type"] == "authorization_code"
        assert found[0].details["refresh"] is ("refresh_token" in token)
    assert_chain_intact(world)


def test_sign_ins_redeemed_at_once_are_each_audited_once(world):
    cid = world.client("web")["client_id"]
    with ThreadPoolExecutor(6) as pool:
        tokens = list(pool.map(lambda _: login(world).token, range(6)))
    for token in tokens:
        assert len(_issued_for(world, cid, token)) == 1
    assert_chain_intact(world)
