"""The token endpoint's fast path, seen from outside: a relying party's token is audited
(committed) before it arrives, concurrent machine tokens keep one gapless chain,
private_key_jwt still works and refuses replays, a disabled or re-keyed client stops
getting tokens, and form bodies decode like RFC 6749 Appendix B says.

Each test registers clients of its own so the seeded ones (and other tests) are untouched.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import quote

import httpx
from joserfc import jwt
from joserfc.jwk import RSAKey
from sqlalchemy import select, update

from idp.audit.models import AuditEvent
from idp.auditing.verify import verify_chain
from idp.clients import service as clients
from idp.clients.models import Client
from tests.protocol.conftest import World, decode_jwt

CC = {"grant_type": "client_credentials"}
FORM = {"Content-Type": "application/x-www-form-urlencoded"}
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def register(world: World, **kw) -> tuple[str, str | None]:
    """A client_credentials client of the seeded department; returns (client_id, secret)."""
    suffix = world.client("web")["client_id"].rsplit("-", 1)[1]
    client_id = f"fast-{uuid.uuid4().hex[:10]}"
    kw.setdefault("grant_types", ("client_credentials",))
    kw.setdefault("scopes", ("govid", "email", "profile"))
    with world.services.sessions.begin() as db:
        c, secret = clients.create(
            db,
            clients.NewClient(
                agency_code=f"d-{suffix}",
                name_th="แอปทดสอบ",
                name_en="Fast path app",
                client_id=client_id,
                **kw,
            ),
        )
        return c.client_id, secret


def cc_token(world: World, cid: str, secret: str, **extra) -> httpx.Response:
    return httpx.post(f"{world.base}/token", data={**CC, **extra}, auth=(cid, secret), timeout=30)


def unverified_claims(token: str) -> dict:
    payload = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))


def issued_events(world: World, cid: str) -> list[AuditEvent]:
    with world.services.sessions() as db:
        return list(
            db.scalars(
                select(AuditEvent)
                .where(AuditEvent.type == "oidc.token.issued", AuditEvent.client_id == cid)
                .order_by(AuditEvent.seq)
            )
        )


def assert_chain_intact(world: World) -> None:
    with world.services.sessions() as db:
        seqs = list(db.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        assert seqs == list(range(1, len(seqs) + 1)), "the audit seq has a gap"
        assert verify_chain(db) is None


def assertion_for(world: World, cid: str, **over) -> str:
    now = int(time.time())
    claims = {
        "iss": cid,
        "sub": cid,
        "aud": f"{world.base}/token",
        "iat": now,
        "exp": now + 60,
        "jti": uuid.uuid4().hex,
        **over,
    }
    return jwt.encode({"alg": "RS256", "kid": "rp-1"}, claims, world.rp_key)


def pkjwt_token(world: World, assertion: str) -> httpx.Response:
    data = {**CC, "client_assertion_type": ASSERTION_TYPE, "client_assertion": assertion}
    return httpx.post(f"{world.base}/token", data=data, timeout=30)


def assert_invalid_client(r: httpx.Response) -> None:
    assert r.status_code in (400, 401), (r.status_code, r.text)
    assert r.json()["error"] == "invalid_client"
    assert "access_token" not in r.json()


# ------------------------------------------------------------------ (a) audited first


def test_machine_token_is_audited_before_the_response_arrives(world):
    cid, secret = register(world)
    jtis = []
    for _ in range(12):  # the first reads the client; the rest are answered inline
        r = httpx.post(
            f"{world.base}/token",
            data={**CC, "scope": "govid"},
            auth=(cid, secret),
            headers={"User-Agent": "fast-path-test/1"},
            timeout=30,
        )
        assert r.status_code == 200, r.text
        jti = unverified_claims(r.json()["access_token"])["jti"]
        jtis.append(jti)
        # No waiting: the event must already be committed when the token is in hand.
        found = [e for e in issued_events(world, cid) if e.details.get("jti") == jti]
        assert len(found) == 1, f"token {jti} arrived before its audit event was committed"
        ev = found[0]
        assert ev.outcome == "success" and ev.actor == cid
        assert ev.details["grant_type"] == "client_credentials"
        assert ev.details["scope"] == "govid" and ev.details["refresh"] is False
        assert ev.ip == "127.0.0.1" and ev.user_agent == "fast-path-test/1"
    # The token is the one audited, and genuinely ours.
    _, claims = decode_jwt(world.base, r.json()["access_token"])
    assert claims["jti"] == jtis[-1] and claims["client_id"] == cid
    assert [e.details["jti"] for e in issued_events(world, cid)] == jtis
    assert_chain_intact(world)


# ------------------------------------------------------------------ (b) concurrency


def test_concurrent_machine_tokens_keep_one_gapless_chain(world):
    cid, secret = register(world)
    assert cc_token(world, cid, secret).status_code == 200  # the client is now cached
    n = 40
    barrier = threading.Barrier(n)

    def one(_i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            return http.post(f"{world.base}/token", data=CC, auth=(cid, secret))

    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(one, range(n)))
    assert [r.status_code for r in responses] == [200] * n, [r.text for r in responses][:3]
    jtis = {unverified_claims(r.json()["access_token"])["jti"] for r in responses}
    assert len(jtis) == n
    events = issued_events(world, cid)
    assert len(events) == n + 1  # one per token, the priming one included
    assert jtis <= {e.details["jti"] for e in events}
    assert_chain_intact(world)


# ------------------------------------------------------------------ (c) private_key_jwt


def test_private_key_jwt_client_credentials_and_replay(world):
    jwks = {"keys": [world.rp_key.as_dict(private=False)]}
    cid, secret = register(world, auth_method="private_key_jwt", jwks=jwks)
    assert secret is None
    first = pkjwt_token(world, assertion_for(world, cid))  # client not yet cached
    assert first.status_code == 200, first.text
    reused = assertion_for(world, cid)
    second = pkjwt_token(world, reused)  # client cached: the replay check needs the DB
    assert second.status_code == 200, second.text
    assert_invalid_client(pkjwt_token(world, reused))
    # Another key, or a secret instead of an assertion, is no way in either.
    stranger = RSAKey.generate_key(2048, parameters={"kid": "rp-1", "alg": "RS256"})
    now = int(time.time())
    forged = jwt.encode(
        {"alg": "RS256", "kid": "rp-1"},
        {"iss": cid, "sub": cid, "aud": f"{world.base}/token", "exp": now + 60, "jti": "x1"},
        stranger,
    )
    assert_invalid_client(pkjwt_token(world, forged))
    assert_invalid_client(
        httpx.post(f"{world.base}/token", data=CC, auth=(cid, "not-a-secret"), timeout=30)
    )

    # One fresh assertion sent eight times at once: exactly one token.
    racing = assertion_for(world, cid)
    barrier = threading.Barrier(8)

    def race(_i: int) -> httpx.Response:
        with httpx.Client(timeout=60) as http:
            barrier.wait()
            data = {**CC, "client_assertion_type": ASSERTION_TYPE, "client_assertion": racing}
            return http.post(f"{world.base}/token", data=data)

    with ThreadPoolExecutor(8) as pool:
        raced = list(pool.map(race, range(8)))
    winners = [r for r in raced if r.status_code == 200]
    assert len(winners) == 1, [(r.status_code, r.text) for r in raced]
    for r in raced:
        if r.status_code != 200:
            assert_invalid_client(r)

    issued = [first, second, *winners]
    events = issued_events(world, cid)
    assert [e.details["jti"] for e in events] == [
        unverified_claims(r.json()["access_token"])["jti"] for r in issued
    ]
    assert_chain_intact(world)


# ------------------------------------------------------------------ (d) client changes


def admin_token(world: World) -> str:
    cid, secret = register(world, scopes=("admin:clients",))
    r = cc_token(world, cid, secret, scope="admin:clients")
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def test_client_disabled_by_the_admin_api_is_refused_at_once(world):
    cid, secret = register(world)
    for _ in range(2):
        assert cc_token(world, cid, secret).status_code == 200  # cached by the server
    bearer = {"Authorization": f"Bearer {admin_token(world)}", "If-Match": "*"}
    r = httpx.delete(f"{world.base}/admin/v1/clients/{cid}", headers=bearer, timeout=30)
    assert r.status_code == 200 and r.json()["status"] == "disabled", r.text
    # Same process as the admin API: the cached registration is gone at commit.
    assert_invalid_client(cc_token(world, cid, secret))


def test_rotated_secret_takes_effect_at_once(world):
    cid, old = register(world)
    for _ in range(2):
        assert cc_token(world, cid, old).status_code == 200
    bearer = {"Authorization": f"Bearer {admin_token(world)}", "If-Match": "*"}
    r = httpx.post(f"{world.base}/admin/v1/clients/{cid}/secret", headers=bearer, timeout=30)
    assert r.status_code == 200, r.text
    new = r.json()["client_secret"]
    assert_invalid_client(cc_token(world, cid, old))
    assert cc_token(world, cid, new).status_code == 200


def test_client_disabled_elsewhere_is_refused_within_the_cache_lifetime(world):
    """A change this server did not make itself (another worker, a SQL console) shows
    within ``client_cache_seconds``."""
    ttl = world.services.settings.client_cache_seconds  # the server runs the default
    cid, secret = register(world)
    for _ in range(2):
        assert cc_token(world, cid, secret).status_code == 200
    with world.services.sessions.begin() as db:
        db.execute(update(Client).where(Client.client_id == cid).values(status="disabled"))
    # The server may answer from its cache until the lifetime is over; then it reads the row.
    world.clock.advance(ttl)
    assert_invalid_client(cc_token(world, cid, secret))
    for _ in range(3):  # and it stays refused
        assert_invalid_client(cc_token(world, cid, secret))


# ------------------------------------------------------------------ (e) form bodies


def test_plus_is_a_space_and_percent_escapes_decode(world):
    cid, secret = register(world)
    r = httpx.post(
        f"{world.base}/token",
        content="grant_type=client%5Fcredentials&scope=govid+email",
        headers=FORM,
        auth=(cid, secret),
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "govid email"
    _, claims = decode_jwt(world.base, r.json()["access_token"])
    assert claims["scope"] == "govid email"

    post_id, post_secret = register(world, auth_method="client_secret_post")

    def every_byte(s: str) -> str:
        return "".join(f"%{b:02X}" for b in s.encode())

    body = f"grant_type=client_credentials&client_id={every_byte(post_id)}"
    r = httpx.post(
        f"{world.base}/token",
        content=f"{body}&client_secret={every_byte(post_secret)}&scope=profile%20govid",
        headers=FORM,
        timeout=30,
    )
    assert r.status_code == 200, r.text
    assert r.json()["scope"] == "profile govid"
    # Undecodable escapes and raw bytes match nothing, and break nothing.
    for bad in ("%FF%FE", quote(post_secret[:-1]) + "%C3"):
        r = httpx.post(
            f"{world.base}/token",
            content=f"{body}&client_secret={bad}",
            headers=FORM,
            timeout=30,
        )
        assert_invalid_client(r)
    r = httpx.post(
        f"{world.base}/token",
        content=b"grant_type=client_credentials&client_id=\xff\xfe&client_secret=x",
        headers=FORM,
        timeout=30,
    )
    assert_invalid_client(r)


def test_form_field_limit(world):
    cid, secret = register(world)
    filler = "&".join(f"f{i}=x" for i in range(999))
    ok = httpx.post(
        f"{world.base}/token",
        content=f"grant_type=client_credentials&{filler}",  # 1000 fields
        headers=FORM,
        auth=(cid, secret),
        timeout=30,
    )
    assert ok.status_code == 200, ok.text
    before = len(issued_events(world, cid))
    for grant in ("client_credentials", "refresh_token"):
        r = httpx.post(
            f"{world.base}/token",
            content=f"grant_type={grant}&{filler}&one=more",  # 1001 fields
            headers=FORM,
            auth=(cid, secret),
            timeout=30,
        )
        assert r.status_code == 400, (grant, r.status_code, r.text[:200])
        assert r.json()["error"] == "invalid_request"  # RFC 6749 §5.2, not a bare 400
        assert r.headers["cache-control"] == "no-store"
    assert len(issued_events(world, cid)) == before


# ------------------------------------------------------------------ (f) methods


def test_token_endpoint_only_accepts_post(world):
    cid, secret = register(world)
    for method in ("GET", "PUT", "DELETE"):
        r = httpx.request(
            method,
            f"{world.base}/token",
            params={"grant_type": "client_credentials"},
            auth=(cid, secret),
            timeout=30,
        )
        assert r.status_code == 405, (method, r.status_code, r.text[:200])
        assert "POST" in r.headers.get("allow", ""), r.headers
        assert "access_token" not in r.text
    assert issued_events(world, cid) == []
