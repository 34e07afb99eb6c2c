"""The sign-in service with an agency that keeps its own directory (real slapd)."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.credentials.login import password_login
from idp.credentials.throttle import DbThrottleStore
from idp.directory import agency_federation as fed
from tests import factories
from tests.conftest import make_settings
from tests.ldap.conftest import AGENCY_PEOPLE, AGENCY_USERS, SERVICE_DN, SERVICE_PASSWORD
from tests.server import free_port

LOCAL = "a local password nobody should use"
DIRECTORY = AGENCY_USERS["somchai"][0]


def configure_agency(db, code, cipher, agency_tls, servers, fallback=False):
    fed.configure(
        db,
        code,
        fed.FederationInput(
            servers=servers,
            start_tls=True,
            ca_pem=agency_tls["ca"].read_text(),
            search_base=AGENCY_PEOPLE,
            service_bind_dn=SERVICE_DN,
            service_password=SERVICE_PASSWORD,
            timeout_seconds=2,
            fallback_to_local=fallback,
        ),
        cipher=cipher,
    )


@pytest.fixture
def federated(db, unique, cipher, hasher, agency_slapd, agency_tls):
    agency = factories.agency(db, f"fl-{unique}", domains=["agency.go.th"])
    account = factories.account(
        db, "somchai@agency.go.th", agency.code, hasher=hasher, cipher=cipher, password=LOCAL
    )

    def configure(servers, fallback=False):
        configure_agency(db, agency.code, cipher, agency_tls, servers, fallback)

    return account, configure


def login(db, hasher, cipher, password):
    return password_login(
        db,
        hasher,
        make_settings("sqlite://"),
        DbThrottleStore(db),
        "somchai@agency.go.th",
        password,
        ip="192.0.2.7",
        cipher=cipher,
    )


def test_directory_password_counts_and_local_one_does_not(
    db, hasher, cipher, federated, agency_slapd
):
    account, configure = federated
    configure([agency_slapd.url])
    assert login(db, hasher, cipher, DIRECTORY).account.id == account.id
    assert not login(db, hasher, cipher, LOCAL).ok


def test_directory_down_is_try_again_later_and_audited(db, hasher, cipher, federated):
    account, configure = federated
    configure([f"ldap://127.0.0.1:{free_port()}"])
    result = login(db, hasher, cipher, DIRECTORY)
    assert result.unavailable and not result.ok
    assert not login(db, hasher, cipher, LOCAL).ok  # no silent fallback
    ev = db.scalars(
        select(AuditEvent).where(
            AuditEvent.type == "oidc.login.failed", AuditEvent.subject == str(account.id)
        )
    ).all()
    assert any(e.details["reason"] == "directory_unavailable" for e in ev)


def test_configured_fallback_uses_the_local_password(db, hasher, cipher, federated):
    _, configure = federated
    configure([f"ldap://127.0.0.1:{free_port()}"], fallback=True)
    assert login(db, hasher, cipher, LOCAL).ok


def test_a_thai_directory_password_is_sent_as_typed(
    db, unique, hasher, cipher, agency_slapd, agency_tls
):
    """NFKC (GovID's own hashes) and SASLprep (ldap3's default) both change "ำ"; the
    agency's directory compares against the password exactly as it was set there."""
    agency = factories.agency(db, f"th-{unique}", domains=["agency.go.th"])
    account = factories.account(
        db, "kamon@agency.go.th", agency.code, hasher=hasher, cipher=cipher, password=LOCAL
    )
    configure_agency(db, agency.code, cipher, agency_tls, [agency_slapd.url])

    def attempt(password):
        return password_login(
            db,
            hasher,
            make_settings("sqlite://"),
            DbThrottleStore(db),
            "kamon@agency.go.th",
            password,
            ip="192.0.2.8",
            cipher=cipher,
        )

    assert attempt(AGENCY_USERS["kamon"][0]).account.id == account.id
    # A password SASLprep would refuse (mixed scripts) is a wrong password, not an outage
    # (an outage answer would tell that the account exists).
    wrong = attempt("abc\u05d0")
    assert not wrong.ok and not wrong.unavailable
