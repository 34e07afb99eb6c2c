"""`idp accounts suspend | resume | delete | reset-password | reset-factors | show |
sessions | end-sessions` and `idp roles grant | revoke | list`: the admin API's account
and role use cases from the host's shell. What the operator sees, what the database then
holds, and the audit trail (actor ``cli``); the refusals as the API refuses."""

from __future__ import annotations

import json
import shutil
from contextlib import contextmanager

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from idp.accounts import links
from idp.accounts.models import Account, AccountToken, RoleGrant
from idp.audit.models import AuditEvent
from idp.cli import app
from idp.clients.models import Client
from idp.config import Settings
from idp.credentials.models import MfaCredential
from idp.db import utcnow
from idp.directory.models import OutboxEntry
from idp.services import Services
from idp.sessions import service as sessions
from idp.sessions.models import LogoutDelivery, SessionClient, SsoSession
from idp.tokens import service as tokens
from idp.tokens.models import Grant, RefreshToken
from tests.conftest import TEST_DATA_KEY, TEST_SECRET_KEY

ADMIN = "admin@dept.demo.go.th"  # agency_admin over demo-department (idp bootstrap)
AUDITOR = "auditor@demo.go.th"
OPERATOR = "operator@demo.go.th"
BC = "https://hr.demo.go.th/backchannel"

STATUS_EVENTS = ("suspended", "resumed", "deleted")
runner = CliRunner()


def run(*args, input=None):
    return runner.invoke(app, [str(a) for a in args], input=input)


def run_json(*args, input=None) -> tuple[int, dict]:
    r = run(*args, "--json", input=input)
    return r.exit_code, json.loads(r.stdout.strip().splitlines()[-1])


@contextmanager
def database():
    services = Services(Settings())
    try:
        with services.sessions.begin() as db:
            yield db
    finally:
        services.close()


def account(db, email: str) -> Account:
    return db.scalar(select(Account).where(Account.email == email))


def events(db, subject, type_: str) -> list[AuditEvent]:
    return list(
        db.scalars(
            select(AuditEvent)
            .where(AuditEvent.type == type_, AuditEvent.subject == str(subject))
            .order_by(AuditEvent.seq)
        )
    )


def _environment(monkeypatch, db_file) -> None:
    for k, v in {
        "IDP_DATABASE_URL": f"sqlite:///{db_file}",
        "IDP_ENV": "test",
        "IDP_SECRET_KEY": TEST_SECRET_KEY,
        "IDP_DATA_KEY": TEST_DATA_KEY,
        "IDP_ARGON2_MEMORY_KIB": "8192",
        "IDP_ARGON2_TIME_COST": "1",
    }.items():
        monkeypatch.setenv(k, v)


@pytest.fixture(scope="module")
def demo_database(tmp_path_factory):
    """The demo world of `idp bootstrap` and one app with back-channel logout, made once;
    each test gets a copy."""
    db_file = tmp_path_factory.mktemp("cli-demo") / "demo.db"
    with pytest.MonkeyPatch.context() as mp:
        _environment(mp, db_file)
        assert run("db", "upgrade").exit_code == 0
        assert run("bootstrap").exit_code == 0
        code, hr = run_json(
            "clients", "create", "--agency", "demo-department", "--name-en", "HR",
            "--redirect-uri", "https://hr.demo.go.th/cb", "--backchannel-logout-uri", BC,
        )  # fmt: skip
        assert code == 0, hr
    return db_file, hr["client_id"]


@pytest.fixture
def world(demo_database, tmp_path, monkeypatch):
    """The client_id of the app; the environment points at this test's copy."""
    template, client_id = demo_database
    copy = tmp_path / "cli.db"
    for suffix in ("", "-wal", "-shm"):  # WAL: the last close folds it in; copy it anyway
        if template.with_name(template.name + suffix).exists():
            shutil.copyfile(template.with_name(template.name + suffix), f"{copy}{suffix}")
    _environment(monkeypatch, copy)
    return client_id


def signed_in(email: str, client_id: str) -> tuple[str, object]:
    """A live session of ``email`` used with the app, its grant and refresh token."""
    with database() as db:
        s = Settings()
        a = account(db, email)
        new = sessions.create(db, s, a, acr=s.acr_level2, amr=["pwd"], ip=None, user_agent=None)
        rp = db.scalar(select(Client).where(Client.client_id == client_id))
        db.add(SessionClient(session_id=new.row.id, client_id=client_id))
        grant = tokens.create_grant(
            db, client=rp, account=a, scope="openid", sid=new.row.sid, acr=s.acr_level2,
            amr=["pwd"], auth_time=utcnow(), claims=None, lifetime=3600, now=utcnow(),
        )  # fmt: skip
        tokens.issue_refresh_token(
            db, grant=grant, client=rp, scope="openid", lifetime=3600, now=utcnow()
        )
        return new.row.sid, grant.id


def ended(sid: str, grant_id) -> tuple[bool, bool, bool]:
    with database() as db:
        row = db.scalar(select(SsoSession).where(SsoSession.sid == sid))
        grant = db.get(Grant, grant_id)
        refresh = db.scalar(select(RefreshToken).where(RefreshToken.grant_id == grant_id))
        return (
            row.ended_at is not None,
            grant.revoked_at is not None,
            refresh.revoked_at is not None,
        )


# ------------------------------------------------------------------ suspend, resume, delete


def test_suspend_ends_everything_tells_the_app_and_is_audited_as_the_host_operator(world):
    sid, grant_id = signed_in(ADMIN, world)
    r = run("accounts", "suspend", ADMIN, "--reason", "left the ministry")
    assert r.exit_code == 0, r.output
    assert f"{ADMIN} suspended" in r.stdout and "every session and grant ended" in r.stdout
    assert ended(sid, grant_id) == (True, True, True)
    with database() as db:
        a = account(db, ADMIN)
        assert a.status == "suspended"
        (ev,) = events(db, a.id, "admin.account.suspended")
        assert ev.actor == "cli" and ev.details == {"reason": "left the ministry"}
        (logout,) = events(db, a.id, "oidc.logout")
        assert logout.actor == "cli" and logout.details["reason"] == "account_suspended"
        assert logout.details["notified"] == [world]
        delivery = db.scalar(select(LogoutDelivery).where(LogoutDelivery.client_id == world))
        assert delivery.uri == BC and delivery.logout_token.count(".") == 2
        ops = db.scalars(select(OutboxEntry.op).where(OutboxEntry.account_id == a.id)).all()
        assert ops[-1] == "disable"  # the mailbox is disabled in the directory
    # Again: nothing changes and nothing more is recorded.
    r = run("accounts", "suspend", ADMIN, "--reason", "again")
    assert r.exit_code == 0 and "was already suspended" in r.stdout
    code, out = run_json("accounts", "resume", ADMIN, "--reason", "came back")
    assert code == 0 and out["status"] == "active" and out["changed"] is True
    assert out["email"] == ADMIN and out["version"] > 1
    with database() as db:
        a = account(db, ADMIN)
        assert len(events(db, a.id, "admin.account.suspended")) == 1
        (ev,) = events(db, a.id, "admin.account.resumed")
        assert ev.actor == "cli" and ev.details == {"reason": "came back"}
        assert (
            db.scalars(select(OutboxEntry.op).where(OutboxEntry.account_id == a.id)).all()[-1]
            == "enable"
        )


def test_delete_ends_sessions_and_role_grants_and_cannot_be_undone(world):
    sid, grant_id = signed_in(ADMIN, world)
    code, out = run_json("accounts", "delete", ADMIN, "--reason", "retired")
    assert code == 0, out
    assert out["status"] == "deleted" and out["deleted_at"] and out["changed"] is True
    assert ended(sid, grant_id) == (True, True, True)
    with database() as db:
        a = account(db, ADMIN)
        assert db.scalar(select(func.count()).where(RoleGrant.account_id == a.id)) == 0
        (ev,) = events(db, a.id, "admin.account.deleted")
        assert ev.actor == "cli" and ev.details == {"reason": "retired"}
    code, out = run_json("accounts", "resume", ADMIN, "--reason", "oops")
    assert code == 4 and out["error"] == "conflict" and "deleted" in out["message"]
    code, out = run_json("accounts", "reset-password", ADMIN)
    assert code == 2 and out["field"] == "status"


@pytest.mark.parametrize(
    ("reason", "message"),
    [
        (None, "Missing option '--reason'"),
        ("   ", "--reason must say why"),
        ("x" * 201, "limited to 200 characters"),
        ("left\x07", "control characters"),
    ],
)
@pytest.mark.parametrize("action", ["suspend", "resume", "delete"])
def test_a_reason_is_required_and_held_to_the_apis_rule(world, action, reason, message):
    args = ["accounts", action, ADMIN] + ([] if reason is None else ["--reason", reason])
    code, out = run_json(*args)
    assert code == 2 and out["error"] == "invalid_input" and out["field"] == "reason"
    assert message in out["message"]
    r = run(*args)
    assert r.exit_code == 2 and message in r.output and "Traceback" not in r.output
    with database() as db:
        a = account(db, ADMIN)
        assert a.status == "active" and a.version == 1
        assert not db.scalars(
            select(AuditEvent).where(
                AuditEvent.subject == str(a.id),
                AuditEvent.type.in_([f"admin.account.{v}" for v in STATUS_EVENTS]),
            )
        ).all()


@pytest.mark.parametrize(
    "args",
    [
        ("accounts", "show"),
        ("accounts", "suspend", "--reason", "r"),
        ("accounts", "resume", "--reason", "r"),
        ("accounts", "delete", "--reason", "r"),
        ("accounts", "reset-password"),
        ("accounts", "reset-factors"),
        ("accounts", "sessions"),
        ("accounts", "end-sessions"),
        ("roles", "grant", "--role", "auditor", "--agency", "demo-office"),
        ("roles", "revoke", "--role", "auditor", "--agency", "demo-office"),
    ],
)
def test_an_unknown_address_is_not_found(world, args):
    code, out = run_json(*args[:2], "nobody@demo.go.th", *args[2:])
    assert code == 3 and out == {
        "error": "not_found",
        "message": "no account has the address 'nobody@demo.go.th'",
        "field": "email",
    }
    r = run(*args[:2], "nobody@demo.go.th", *args[2:])
    assert r.exit_code == 3 and r.stderr.startswith("error: no account has the address")


def test_an_alias_names_its_account_and_an_operator_account_is_not_protected_from_the_host(
    world,
):
    with database() as db:
        a = account(db, ADMIN)
        a.aliases = ["hr.head@dept.demo.go.th"]
        from idp.accounts import addresses

        addresses.sync(db, a)
    code, out = run_json("accounts", "show", "HR.Head@dept.demo.go.th")
    assert code == 0 and out["email"] == ADMIN
    # The host operator has an operator's authority: an operator's account can be
    # suspended from the shell (through the API only another operator may).
    code, out = run_json("accounts", "suspend", OPERATOR, "--reason", "key holder left")
    assert code == 0 and out["status"] == "suspended"


# ---------------------------------------------------------------- password, second factors


def test_reset_password_shows_a_one_time_link_once_and_ends_sessions(world):
    sid, grant_id = signed_in(AUDITOR, world)
    r = run("accounts", "reset-password", AUDITOR)
    assert r.exit_code == 0, r.output
    assert "1 session(s) ended" in r.stdout and "shown only now" in r.stdout
    link = r.stdout.strip().splitlines()[-1].strip()
    assert link.startswith(f"{Settings().issuer}/password/set?token=")
    first = link.split("token=", 1)[1]
    assert ended(sid, grant_id) == (True, True, True)
    with database() as db:
        a = account(db, AUDITOR)
        assert a.password_hash is None
        found = links.peek(db, first, utcnow())
        assert found is not None and found.id == a.id
        (ev,) = events(db, a.id, "admin.account.password_reset")
        assert ev.actor == "cli" and first not in json.dumps(ev.details)
    # A second reset: a new link, and the first stops working.
    code, out = run_json("accounts", "reset-password", AUDITOR)
    assert code == 0 and out["sessions_ended"] == 0 and out["account"]["has_password"] is False
    second = out["link"].split("token=", 1)[1]
    assert second != first and out["link_expires_at"]
    with database() as db:
        now = utcnow()
        assert links.peek(db, first, now) is None and links.peek(db, second, now) is not None
        assert db.scalar(select(func.count()).where(AccountToken.used_at.is_(None))) >= 1


def test_reset_password_from_stdin_follows_the_password_policy(world):
    code, out = run_json("accounts", "reset-password", AUDITOR, "--password-stdin", input="short\n")
    assert code == 2 and out["error"] == "weak_password"
    with database() as db:
        assert account(db, AUDITOR).password_hash is not None  # unchanged
    good = "a long enough passphrase kept by the records clerk"
    code, out = run_json("accounts", "reset-password", AUDITOR, "--password-stdin", input=good)
    assert code == 0 and out["link"] is None and out["account"]["has_password"] is True
    with database() as db:
        from idp.credentials.passwords import PasswordHasher

        assert PasswordHasher(Settings()).verify(good, account(db, AUDITOR).password_hash)


def test_reset_factors_removes_every_second_factor(world):
    sid, grant_id = signed_in(OPERATOR, world)
    with database() as db:
        a = account(db, OPERATOR)
        held = db.scalar(select(func.count()).where(MfaCredential.account_id == a.id))
    assert held >= 1  # bootstrap gives each demo role an authenticator app
    code, out = run_json("accounts", "reset-factors", OPERATOR)
    assert code == 0, out
    assert (out["credentials_removed"], out["sessions_ended"]) == (held, 1)
    assert ended(sid, grant_id) == (True, True, True)
    with database() as db:
        a = account(db, OPERATOR)
        assert db.scalar(select(func.count()).where(MfaCredential.account_id == a.id)) == 0
        (ev,) = events(db, a.id, "admin.account.mfa_reset")
        assert ev.actor == "cli" and ev.details == {"credentials": held, "sessions": 1}
    r = run("accounts", "show", OPERATOR)
    assert r.exit_code == 0 and "second factor  no" in r.stdout


# ------------------------------------------------------------------------------ sessions


def test_sessions_are_listed_and_ended_one_or_all(world):
    first, g1 = signed_in(ADMIN, world)
    second, g2 = signed_in(ADMIN, world)
    code, out = run_json("accounts", "sessions", ADMIN)
    assert code == 0 and out["count"] == 2
    assert {s["sid"] for s in out["sessions"]} == {first, second}
    assert all(s["clients"] == [world] for s in out["sessions"])
    code, out = run_json("accounts", "end-sessions", ADMIN, "--sid", first)
    assert code == 0 and out == {"email": ADMIN, "sessions_ended": 1}
    assert ended(first, g1) == (True, True, True) and ended(second, g2)[0] is False
    code, out = run_json("accounts", "end-sessions", ADMIN, "--sid", first)
    assert code == 3 and out["field"] == "sid"  # already ended
    code, out = run_json("accounts", "end-sessions", OPERATOR, "--sid", second)
    assert code == 3 and out["field"] == "sid"  # another account's session
    r = run("accounts", "end-sessions", ADMIN)
    assert r.exit_code == 0 and f"{ADMIN}: 1 session(s) ended" in r.stdout
    assert ended(second, g2) == (True, True, True)
    with database() as db:
        a = account(db, ADMIN)
        evs = events(db, a.id, "admin.account.sessions_ended")
        assert [(e.actor, e.details) for e in evs] == [
            ("cli", {"sessions": 1, "sid": first}),
            ("cli", {"sessions": 1, "sid": None}),
        ]
    r = run("accounts", "sessions", ADMIN)
    assert r.exit_code == 0 and "(none)" in r.stdout


# --------------------------------------------------------------------------------- roles


def test_grant_with_expiry_list_and_revoke_audited(world):
    r = run(
        "roles", "grant", AUDITOR, "--role", "agency_admin", "--agency", "demo-office",
        "--expires", "2031-03-31T17:00:00+07:00",
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert f"granted agency_admin over demo-office to {AUDITOR}" in r.stdout
    with database() as db:
        a = account(db, AUDITOR)
        g = db.scalar(
            select(RoleGrant).where(RoleGrant.account_id == a.id, RoleGrant.role == "agency_admin")
        )
        assert g.expires_at.isoformat() == "2031-03-31T10:00:00+00:00" and g.granted_by is None
        ev = events(db, a.id, "admin.role.granted")[-1]  # after the bootstrap's
        assert ev.actor == "cli" and ev.details["agency"] == "demo-office"
        assert ev.details["expires_at"].startswith("2031-03-31T17:00:00+07:00")
    code, out = run_json("roles", "list", "--email", AUDITOR)
    assert code == 0 and out["count"] == 2
    assert {(g["role"], g["agency"]) for g in out["role_grants"]} == {
        ("auditor", "demo-ministry"),
        ("agency_admin", "demo-office"),
    }
    code, out = run_json("roles", "list", "--role", "agency_admin")
    assert {g["email"] for g in out["role_grants"]} == {ADMIN, AUDITOR}
    r = run("roles", "list", "--agency", "demo-office")
    assert AUDITOR in r.stdout and "2031-03-31" in r.stdout and ADMIN not in r.stdout
    code, out = run_json("accounts", "show", AUDITOR)
    assert len(out["roles"]) == 2
    # The same grant twice: refused as the API refuses it.
    code, out = run_json(
        "roles", "grant", AUDITOR, "--role", "agency_admin", "--agency", "demo-office"
    )
    assert code == 4 and out["error"] == "conflict" and out["field"] == "role"
    code, out = run_json(
        "roles", "revoke", AUDITOR, "--role", "agency_admin", "--agency", "demo-office"
    )
    assert code == 0 and out["revoked"] is True and out["agency"] == "demo-office"
    with database() as db:
        a = account(db, AUDITOR)
        assert [
            g.role for g in db.scalars(select(RoleGrant).where(RoleGrant.account_id == a.id))
        ] == ["auditor"]
        (ev,) = events(db, a.id, "admin.role.revoked")
        assert ev.actor == "cli" and ev.details == {"role": "agency_admin", "agency": "demo-office"}
    code, out = run_json(
        "roles", "revoke", AUDITOR, "--role", "agency_admin", "--agency", "demo-office"
    )
    assert code == 3 and out["field"] == "role_grant"


@pytest.mark.parametrize(
    ("extra", "code", "field", "message"),
    [
        (("--expires", "2020-01-01T00:00:00Z"), 2, "expires_at", "in the future"),
        (("--expires", "2031-01-01T00:00:00"), 2, "expires_at", "time zone"),
        (("--expires", "next tuesday"), 2, "expires_at", "ISO 8601"),
        (("--role", "superuser"), 2, "role", "role must be one of"),
        (("--agency", "no-such"), 3, "agency", "unknown agency"),
    ],
)
def test_a_bad_grant_is_refused_and_nothing_is_written(world, extra, code, field, message):
    opts = {"--role": "auditor", "--agency": "demo-office"}
    opts.update(dict(zip(extra[::2], extra[1::2], strict=True)))
    args = [x for kv in opts.items() for x in kv]
    got, out = run_json("roles", "grant", ADMIN, *args)
    assert (got, out["field"]) == (code, field) and message in out["message"]
    with database() as db:
        a = account(db, ADMIN)
        assert db.scalar(select(func.count()).where(RoleGrant.account_id == a.id)) == 1
        assert len(events(db, a.id, "admin.role.granted")) == 1  # the bootstrap's


def test_a_role_is_granted_to_active_accounts_only(world):
    assert run("accounts", "suspend", AUDITOR, "--reason", "on leave").exit_code == 0
    code, out = run_json("roles", "grant", AUDITOR, "--role", "auditor", "--agency", "demo-office")
    assert code == 4 and "active accounts" in out["message"]
    code, out = run_json("roles", "revoke", AUDITOR, "--role", "owner", "--agency", "demo-office")
    assert code == 2 and out["field"] == "role"


# -------------------------------------------------------------------------------- update


def test_update_changes_names_aliases_and_quota_audited_and_sent_to_the_directory(world):
    r = run(
        "accounts", "update", ADMIN, "--family-name-en", "Jaidee",
        "--add-alias", "HR.Head@dept.demo.go.th", "--mailbox-quota-mb", 10240,
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "family_name_en: Demo → Jaidee" in r.stdout
    assert "aliases: (none) → hr.head@dept.demo.go.th" in r.stdout
    with database() as db:
        a = account(db, ADMIN)
        assert (a.family_name_en, a.aliases, a.mailbox_quota_mb) == (
            "Jaidee",
            ["hr.head@dept.demo.go.th"],
            10240,
        )
        (ev,) = events(db, a.id, "admin.account.updated")
        assert ev.actor == "cli"
        assert ev.details == {"changed": ["aliases", "family_name_en", "mailbox_quota_mb"]}
        ops = db.scalars(select(OutboxEntry.op).where(OutboxEntry.account_id == a.id)).all()
        assert ops[-1] == "modify"
    code, out = run_json("accounts", "show", "hr.head@dept.demo.go.th")
    assert code == 0 and out["email"] == ADMIN  # the alias names the account at once
    # The same again: nothing changes, nothing is written.
    code, out = run_json("accounts", "update", ADMIN, "--family-name-en", "Jaidee")
    assert code == 0 and out["changed"] == []
    code, out = run_json("accounts", "update", ADMIN, "--remove-alias", "hr.head@dept.demo.go.th")
    assert code == 0 and out["changed"] == ["aliases"] and out["aliases"] == []
    with database() as db:
        assert len(events(db, account(db, ADMIN).id, "admin.account.updated")) == 2


@pytest.mark.parametrize(
    ("args", "code", "error", "field"),
    [
        (("--mailbox-quota-mb", 10_000_001), 2, "invalid_input", "mailbox_quota_mb"),
        (("--attachment-limit-mb", 0), 2, "invalid_input", "attachment_limit_mb"),
        (("--given-name-en", "x" * 256), 2, "invalid_input", "given_name_en"),
        (("--given-name-th", "a\x00b"), 2, "invalid_input", "given_name_th"),
        (("--locale", "fr"), 2, "invalid_input", "locale"),
        (("--add-alias", "x@other.go.th"), 2, "address_outside_domains", "aliases"),
        (("--add-alias", AUDITOR), 4, "duplicate_email", "aliases"),  # another's address
        (("--remove-alias", "none@dept.demo.go.th"), 2, "invalid_input", "aliases"),
        ((), 2, "invalid_input", None),  # nothing to change
    ],
)
def test_a_bad_update_is_refused_as_the_api_refuses_it(world, args, code, error, field):
    got, out = run_json("accounts", "update", ADMIN, *args)
    assert (got, out["error"], out.get("field")) == (code, error, field), out
    with database() as db:
        a = account(db, ADMIN)
        assert a.version == 1 and not events(db, a.id, "admin.account.updated")


def test_a_deleted_account_cannot_be_updated(world):
    assert run("accounts", "delete", ADMIN, "--reason", "retired").exit_code == 0
    code, out = run_json("accounts", "update", ADMIN, "--family-name-en", "X")
    assert code == 4 and out["error"] == "conflict" and out["field"] == "status"
