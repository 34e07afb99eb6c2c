"""The admin API in-process (FastAPI TestClient) on the test's rolled-back transaction,
with real signed access tokens minted through idp.tokens and validated by the real code.

World (``u`` = unique suffix)::

    ministry M (u.go.th) ─┬─ dept A ── office A1
                          └─ dept B
    other ministry O (o<u>.go.th)
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session

from idp.accounts import roles
from idp.admin import app as admin_app
from idp.clients import service as clients
from idp.db import utcnow
from idp.deps import COMMIT_ON_ERROR, get_db
from idp.main import create_app
from idp.services import Services
from idp.sessions import service as sessions
from idp.tokens import service as tokens
from tests import factories
from tests.conftest import make_settings

PASSWORD = "correct horse battery staple"
# What the admin UI asks for when it signs an admin in.
ADMIN_UI_SCOPE = "openid profile admin:accounts admin:clients admin:audit scim"


@pytest.fixture(scope="session")
def _services_by_url() -> Iterator[dict[str, Services]]:
    made: dict[str, Services] = {}
    yield made
    for s in made.values():
        s.close()


@pytest.fixture
def services(database_url: str, _services_by_url) -> Services:
    if database_url not in _services_by_url:
        s = Services(make_settings(database_url))
        s.keys.jwks()  # create signing keys now, outside any test transaction
        _services_by_url[database_url] = s
    return _services_by_url[database_url]


@pytest.fixture(scope="session")
def _apps() -> dict[str, tuple[FastAPI, dict[str, Session]]]:
    return {}


@pytest.fixture
def app(services: Services, db: Session, _apps) -> Iterator[FastAPI]:
    """The whole app on this test's transaction. It is built once per database and
    reused: building it is ~0.1 s of CPU (FastAPI prepares every route), which per test
    was about half of the admin tests' setup. Nothing in it outlives a request but the
    shared ``services``; its database dependency reads the current test's session."""
    key = services.settings.database_url
    if key not in _apps:
        _apps[key] = (_app_on_test_sessions(services, current := {}), current)
    application, current = _apps[key]
    current["db"] = db
    yield application
    current.clear()


def _app_on_test_sessions(services: Services, current: dict[str, Session]) -> FastAPI:
    application = create_app(services.settings, services, start_workers=False)

    def test_db() -> Iterator[Session]:
        # One savepoint per request: an error rolls the request back, like production
        # (and keeps what the request asked to keep despite the error: a refusal's
        # audit event, idp.deps.COMMIT_ON_ERROR).
        db = current["db"]
        nested = db.begin_nested()
        try:
            yield db
        except BaseException:
            if db.info.pop(COMMIT_ON_ERROR, False):
                nested.commit()
            else:
                nested.rollback()
            raise
        nested.commit()

    for route in application.routes:
        sub = getattr(route, "app", None)
        if hasattr(sub, "dependency_overrides"):
            sub.dependency_overrides[get_db] = test_db
    application.dependency_overrides[get_db] = test_db
    return application


@pytest.fixture
def client(app) -> Iterator[TestClient]:
    with TestClient(app, raise_server_exceptions=True) as c:
        yield c


@dataclass
class World:
    db: Session
    services: Services
    u: str
    agencies: dict = field(default_factory=dict)
    accounts: dict = field(default_factory=dict)
    tokens: dict = field(default_factory=dict)
    apps: dict = field(default_factory=dict)
    sids: dict = field(default_factory=dict)  # account id -> sid of its latest session

    def headers(self, who: str, **extra: str) -> dict[str, str]:
        h = {"Authorization": f"Bearer {self.tokens[who]}"} if who else {}
        h.update(extra)
        return h

    def person(self, name: str, agency: str, role: str | None = None, acr: str | None = None):
        a = factories.account(
            self.db,
            f"{name}@{self.domain(agency)}",
            self.agencies[agency].code,
            hasher=self.services.hasher,
            cipher=self.services.cipher,
            password=PASSWORD,
            given_name_en=name.title(),
        )
        self.accounts[name] = a
        if role:
            roles.grant_role(self.db, a, role, self.agencies[agency])
        self.tokens[name] = self.person_token(a, acr)
        return a

    def person_token(self, account, acr: str | None = None, scope: str = ADMIN_UI_SCOPE) -> str:
        """An access token from a real sign-in session at ``acr`` (level 2 by default),
        as the admin console holds one."""
        s = self.services.settings
        app = self.apps["admin_ui"]
        now = self.services.clock.now()  # a test may have moved it
        sso = sessions.create(
            self.db,
            s,
            account,
            acr=acr or s.acr_level2,
            amr=["pwd", "otp", "mfa"],
            ip=None,
            user_agent=None,
            now=now,
        ).row
        self.sids[account.id] = sso.sid
        grant = tokens.create_grant(
            self.db,
            client=app,
            account=account,
            scope=scope,
            sid=sso.sid,
            acr=acr or s.acr_level2,
            amr=["pwd", "otp", "mfa"],
            auth_time=now,
            claims=None,
            lifetime=3600,
            now=now,
        )
        ctx = tokens.TokenContext(
            scope=scope,
            account=account,
            grant=grant,
            acr=acr or s.acr_level2,
            amr=("pwd", "otp", "mfa"),
            auth_time=now,
            sid=sso.sid,
        )
        tok, _ = tokens.issue_access_token(
            self.services.keys, issuer=s.issuer, client=app, ctx=ctx, lifetime=600, now=now
        )
        return tok

    def machine(self, name: str, agency: str, scopes: tuple[str, ...]) -> str:
        c, _ = clients.create(
            self.db,
            clients.NewClient(
                agency_code=self.agencies[agency].code,
                name_th=name,
                name_en=name,
                grant_types=("client_credentials",),
                scopes=scopes,
                client_id=f"{name}-{self.u}",
            ),
        )
        self.apps[name] = c
        tok, _ = tokens.issue_access_token(
            self.services.keys,
            issuer=self.services.settings.issuer,
            client=c,
            ctx=tokens.TokenContext(scope=" ".join(scopes)),
            lifetime=600,
            now=utcnow(),
        )
        self.tokens[name] = tok
        return tok

    def domain(self, agency: str) -> str:
        return f"o{self.u}.go.th" if agency == "O" else f"{self.u}.go.th"


@pytest.fixture
def world(db: Session, services: Services, unique: str) -> World:
    u = unique
    w = World(db, services, u)
    w.agencies["M"] = factories.agency(db, f"m-{u}", domains=[f"{u}.go.th"])
    w.agencies["A"] = factories.agency(db, f"a-{u}", parent=f"m-{u}")
    w.agencies["A1"] = factories.agency(db, f"a1-{u}", parent=f"a-{u}")
    w.agencies["B"] = factories.agency(db, f"b-{u}", parent=f"m-{u}")
    w.agencies["O"] = factories.agency(db, f"o-{u}", domains=[f"o{u}.go.th"])
    app, _ = clients.create(
        db,
        clients.NewClient(
            agency_code=f"m-{u}",
            name_th="admin ui",
            name_en="admin ui",
            redirect_uris=("https://admin.example.go.th/cb",),
            client_id=f"admin-ui-{u}",
        ),
    )
    w.apps["admin_ui"] = app
    w.person("operator", "M", "operator")
    w.person("admin_a", "A", "agency_admin")
    w.person("auditor_a", "A", "auditor")
    w.person("nobody", "A")
    for target in ("M", "A", "A1", "B", "O"):
        w.person(f"user_{target.lower()}", target)
    w.machine("bot_a", "A", ("admin:accounts", "admin:clients", "admin:audit"))
    w.machine("bot_plain", "A", ())
    return w


def later(days: int = 1) -> str:
    return (utcnow() + dt.timedelta(days=days)).isoformat()


__all__ = ["World", "admin_app", "later"]
