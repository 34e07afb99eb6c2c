"""Short-lived codes, session expiry, and the audit trail a login leaves behind."""

import datetime as dt

from sqlalchemy import select, update

from idp.audit.models import AuditEvent
from idp.sessions.models import SsoSession
from idp.tokens.models import AuthCode
from tests.protocol.conftest import Browser, callback_params
from tests.protocol.rp import authorize_url, login, rp_client, token_post


def test_a_code_is_refused_once_the_servers_clock_passes_its_sixty_seconds(world):
    rp = rp_client(world)
    b = Browser(world.base)
    url, verifier, _n, _s = authorize_url(world, rp)
    p = callback_params(b.login(b.go(url), world.users["bob"]))
    world.clock.advance(61)  # the server's time (DESIGN rule 4), not the database's
    r = token_post(
        world,
        "web",
        {
            "grant_type": "authorization_code",
            "code": p["code"],
            "redirect_uri": rp.redirect_uri,
            "code_verifier": verifier,
        },
    )
    assert r.status_code == 400 and r.json()["error"] == "invalid_grant"


def test_code_lifetime_is_sixty_seconds(world):
    rp = rp_client(world)
    b = Browser(world.base)
    url, _v, _n, _s = authorize_url(world, rp)
    callback_params(b.login(b.go(url), world.users["carol"]))
    with world.services.sessions() as db:
        row = db.scalars(select(AuthCode).order_by(AuthCode.created_at.desc())).first()
        assert 55 <= (row.expires_at - row.created_at).total_seconds() <= 61
        assert len(row.code_hash) == 64  # only a hash of the code is stored


def test_idle_session_needs_login_again(world):
    lg = login(world, user="carol")
    long_ago = world.clock.now() - dt.timedelta(hours=3)  # level-1 idle limit: 2 h
    with world.services.sessions.begin() as db:
        db.execute(
            update(SsoSession).where(SsoSession.ended_at.is_(None)).values(last_seen_at=long_ago)
        )
    url, *_ = authorize_url(world, rp_client(world))
    assert 'action="/login"' in lg.browser.go(url).text


def test_login_token_refresh_logout_are_audited_without_secrets(world):
    lg = login(world, user="alice")
    token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": lg.token["refresh_token"]}
    )
    token_post(
        world, "web", {"grant_type": "refresh_token", "refresh_token": lg.token["refresh_token"]}
    )  # reuse
    b = Browser(world.base)
    url, *_ = authorize_url(world, rp_client(world))
    b.login(b.go(url), world.users["alice"], "not the password at all")
    with world.services.sessions() as db:
        rows = db.scalars(select(AuditEvent).order_by(AuditEvent.seq)).all()
    types = {r.type for r in rows}
    assert {
        "oidc.login.succeeded",
        "oidc.login.failed",
        "oidc.token.issued",
        "oidc.refresh.reused",
    } <= types
    failed = [r for r in rows if r.type == "oidc.login.failed"][-1]
    assert failed.outcome == "failure" and failed.ip == "127.0.0.1"
    blob = " ".join(f"{r.details} {r.user_agent}" for r in rows)
    for secret in (
        lg.token["access_token"],
        lg.token["refresh_token"],
        lg.token["id_token"],
        "not the password at all",
        "correct horse battery staple",
        world.client("web")["secret"],
    ):
        assert secret not in blob
