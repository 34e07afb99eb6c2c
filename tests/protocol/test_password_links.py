"""Activation / reset links from the admin API, used by a person in a browser."""

from sqlalchemy import select

from idp.accounts import links
from idp.accounts.models import Account
from tests.protocol.conftest import Browser, form_fields
from tests.protocol.rp import authorize_url, rp_client


def test_reset_link_sets_a_password_once(world):
    email = world.users["grace"]
    with world.services.sessions.begin() as db:
        acc = db.scalar(select(Account).where(Account.email == email))
        token, _ = links.issue(db, acc, "reset", actor="test-admin", now=world.clock.now())
    b = Browser(world.base)
    page = b.go(f"/password/set?token={token}")
    assert page.status_code == 200 and 'action="/password/set"' in page.text

    def submit(pw):
        f = form_fields(page.text)
        return b.go(
            "/password/set",
            method="POST",
            data={"csrf_token": f["csrf_token"], "token": token, "new_password": pw},
        )

    assert submit("passwordpassword").status_code == 400  # breached list: try again
    assert submit("short").status_code == 400
    new_pw = "she walks her dog by the river at dawn"
    done = submit(new_pw)
    assert done.status_code == 200 and 'role="status"' in done.text, done.text[-1500:]
    assert submit("another fine long passphrase").status_code == 400  # used up
    url, *_ = authorize_url(world, rp_client(world))
    r = b.login(b.go(url), email, new_pw)
    assert r.status_code in (302, 303)
    with world.services.sessions.begin() as db:  # put the usual password back
        from idp.credentials.passwords import PasswordHasher
        from tests.protocol.conftest import PASSWORD

        acc = db.scalar(select(Account).where(Account.email == email))
        acc.password_hash = PasswordHasher(world.services.settings).hash(PASSWORD)


def test_forged_link_is_refused(world):
    b = Browser(world.base)
    page = b.go("/password/set?token=not-a-real-token")
    # Refused when opened (issue 19, 10): no password field to type into.
    assert page.status_code == 400 and "invalid_link" in page.text
    assert 'name="new_password"' not in page.text
    with world.services.sessions.begin() as db:  # a form token from a live link's page
        acc = db.scalar(select(Account).where(Account.email == world.users["grace"]))
        token, _ = links.issue(db, acc, "reset", actor="test-admin", now=world.clock.now())
    f = form_fields(b.go(f"/password/set?token={token}").text)
    r = b.go(
        "/password/set",
        method="POST",
        data={
            "csrf_token": f["csrf_token"],
            "token": "not-a-real-token",
            "new_password": "a perfectly reasonable passphrase",
        },
    )
    assert r.status_code == 400 and "invalid_link" in r.text


def test_reset_link_revokes_refresh_tokens_that_outlived_their_session(world):
    """A reset by link ends everything the account holds, as a password change, an
    admin reset, suspension and deletion do (one use case, sessions.logout.end_everything):
    also the grants of a session that ended by time, whose refresh tokens still work."""
    from idp.sessions.models import SsoSession
    from tests.protocol.rp import login, token_post

    email = world.users["grace"]
    rt = login(world, user="grace").token["refresh_token"]
    with world.services.sessions.begin() as db:
        acc = db.scalar(select(Account).where(Account.email == email))
        for row in db.scalars(select(SsoSession).where(SsoSession.account_id == acc.id)):
            row.expires_at = world.clock.now()  # at its absolute lifetime; the app refreshes on
        token, _ = links.issue(db, acc, "reset", actor="test-admin", now=world.clock.now())
    refreshed = token_post(world, "web", {"grant_type": "refresh_token", "refresh_token": rt})
    assert refreshed.status_code == 200, refreshed.text
    rt = refreshed.json()["refresh_token"]
    b = Browser(world.base)
    f = form_fields(b.go(f"/password/set?token={token}").text)
    new_pw = "lanterns drift slowly over the quiet canal"
    try:
        done = b.go(
            "/password/set",
            method="POST",
            data={"csrf_token": f["csrf_token"], "token": token, "new_password": new_pw},
        )
        assert done.status_code == 200 and 'role="status"' in done.text, done.text[-800:]
        r = token_post(world, "web", {"grant_type": "refresh_token", "refresh_token": rt})
        assert r.status_code == 400 and r.json()["error"] == "invalid_grant", r.text
    finally:
        with world.services.sessions.begin() as db:  # put the usual password back
            from idp.credentials.passwords import PasswordHasher
            from tests.protocol.conftest import PASSWORD

            acc = db.scalar(select(Account).where(Account.email == email))
            acc.password_hash = PasswordHasher(world.services.settings).hash(PASSWORD)


def test_a_reset_link_works_for_two_days_by_the_servers_clock(world):
    email = world.users["heidi"]
    with world.services.sessions.begin() as db:
        acc = db.scalar(select(Account).where(Account.email == email))
        token, _ = links.issue(db, acc, "reset", actor="test-admin", now=world.clock.now())
    b = Browser(world.base)
    world.clock.advance(links.RESET_TTL.total_seconds() - 60)
    page = b.go(f"/password/set?token={token}")
    assert page.status_code == 200 and 'name="new_password"' in page.text  # a minute left
    world.clock.advance(61)
    f = form_fields(page.text)
    r = b.go(
        "/password/set",
        method="POST",
        data={"csrf_token": f["csrf_token"], "token": token, "new_password": "a long river path"},
    )
    assert r.status_code == 400 and "invalid_link" in r.text  # expired while the page was open
    page = b.go(f"/password/set?token={token}")
    assert page.status_code == 400 and 'name="new_password"' not in page.text
