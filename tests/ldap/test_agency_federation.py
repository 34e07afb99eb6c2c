"""Per-agency federation settings in the database (PostgreSQL and SQLite), and the
account-level call the login page makes."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from idp.audit.models import AuditEvent
from idp.directory import agency_federation as fed
from idp.directory.federation import Outcome
from idp.directory.models import AgencyFederation
from idp.errors import InvalidInput, NotFound
from tests import factories
from tests.ldap.conftest import AGENCY_PEOPLE, AGENCY_USERS, SERVICE_DN, SERVICE_PASSWORD


@pytest.fixture
def tree(db, unique):
    t = {"ministry": factories.agency(db, f"fm-{unique}", domains=["agency.go.th"])}
    t["dept"] = factories.agency(db, f"fd-{unique}", parent=t["ministry"].code)
    t["office"] = factories.agency(db, f"fo-{unique}", parent=t["dept"].code)
    return t


def settings_for(slapd, ca_pem, **kw) -> fed.FederationInput:
    values = dict(
        servers=[slapd.url],
        start_tls=True,
        ca_pem=ca_pem,
        search_base=AGENCY_PEOPLE,
        service_bind_dn=SERVICE_DN,
        service_password=SERVICE_PASSWORD,
        timeout_seconds=2,
    )
    values.update(kw)
    return fed.FederationInput(**values)


def test_configure_encrypts_the_service_password_and_audits(
    db, tree, cipher, agency_slapd, agency_tls
):
    ca = agency_tls["ca"].read_text()
    row = fed.configure(
        db, tree["ministry"].code, settings_for(agency_slapd, ca), cipher=cipher, actor="op"
    )
    assert row.service_password_enc and SERVICE_PASSWORD not in row.service_password_enc
    assert fed.as_dict(row)["service_password"] == "set"
    ev = db.scalars(
        select(AuditEvent).where(AuditEvent.type == "admin.agency.federation_configured")
    ).all()[-1]
    assert ev.agency_id == tree["ministry"].id
    assert ev.details["mode"] == "search_then_bind" and ev.details["transport"] == "tls"
    assert SERVICE_PASSWORD not in str(ev.details)

    # Replacing without a password keeps the stored one.
    fed.configure(
        db,
        tree["ministry"].code,
        settings_for(agency_slapd, ca, service_password=None, timeout_seconds=3),
        cipher=cipher,
    )
    config = fed.config_for(db, tree["ministry"], cipher=cipher)
    assert config.service_password == SERVICE_PASSWORD and config.timeout == 3


def test_settings_apply_to_the_subtree_and_a_sub_agency_can_opt_out(
    db, tree, cipher, agency_slapd, agency_tls
):
    ca = agency_tls["ca"].read_text()
    assert fed.config_for(db, tree["office"], cipher=cipher) is None
    fed.configure(db, tree["ministry"].code, settings_for(agency_slapd, ca), cipher=cipher)
    assert fed.config_for(db, tree["office"], cipher=cipher).search_base == AGENCY_PEOPLE
    fed.configure(db, tree["dept"].code, settings_for(agency_slapd, ca), cipher=cipher)
    fed.disable(db, tree["dept"].code, actor="op")
    assert fed.config_for(db, tree["office"], cipher=cipher) is None  # nearest row wins
    assert fed.config_for(db, tree["ministry"], cipher=cipher) is not None
    with pytest.raises(NotFound):
        fed.disable(db, tree["office"].code)


def test_bad_settings_are_refused(db, tree, cipher, agency_slapd):
    with pytest.raises(InvalidInput, match="allow_plain"):
        fed.configure(
            db,
            tree["ministry"].code,
            settings_for(agency_slapd, None, start_tls=False),
            cipher=cipher,
        )
    with pytest.raises(InvalidInput, match="timeout"):
        fed.configure(
            db, tree["ministry"].code, settings_for(agency_slapd, None, timeout_seconds=0),
            cipher=cipher,
        )  # fmt: skip
    assert db.get(AgencyFederation, tree["ministry"].id) is None


def test_authenticate_account(db, tree, cipher, hasher, agency_slapd, agency_tls):
    account = factories.account(
        db, "somchai@agency.go.th", tree["office"].code, hasher=hasher, cipher=cipher
    )
    assert fed.authenticate_account(db, account, "whatever", cipher=cipher) is None
    fed.configure(
        db,
        tree["ministry"].code,
        settings_for(agency_slapd, agency_tls["ca"].read_text()),
        cipher=cipher,
    )
    ok = fed.authenticate_account(db, account, AGENCY_USERS["somchai"][0], cipher=cipher)
    assert ok.outcome is Outcome.OK and ok.amr == ("pwd",)
    bad = fed.authenticate_account(db, account, "wrong", cipher=cipher)
    assert bad.outcome is Outcome.BAD_CREDENTIALS


@pytest.mark.parametrize(
    ("change", "field", "text"),
    [
        ({"search_filter": "(&(uid={username})(x={x}))"}, "search_filter", "{x}"),
        ({"search_filter": "(&(uid={username})(mail={0}))"}, "search_filter", "{0}"),
        ({"search_filter": "(uid={username!r})"}, "search_filter", "{username!r}"),
        ({"search_filter": "(uid={username}"}, "search_filter", "RFC 4515"),
        ({"search_filter": "(uid={username})}"}, "search_filter", "brace"),
        ({"search_filter": "(objectClass=person)"}, "search_filter", "{username}"),
        ({"search_base": "not a dn"}, "search_base", "RFC 4514"),
        ({"service_bind_dn": "govid-search"}, "service_bind_dn", "RFC 4514"),
        ({"bind_dn_template": "{username}"}, "bind_dn_template", "RFC 4514"),
        ({"bind_dn_template": "uid={user},ou=people"}, "bind_dn_template", "{user}"),
        ({"servers": ["ldap://localhost:599730"]}, "servers", "1-65535"),
        ({"servers": ["ldaps://localhost:0"]}, "servers", "1-65535"),
        ({"ca_pem": "this is not a certificate"}, "ca_file", "PEM"),
        ({"ca_pem": ""}, "ca_file", "PEM"),
    ],
)
def test_settings_that_can_never_work_are_refused(
    db, tree, cipher, agency_slapd, agency_tls, change, field, text
):
    change = {"ca_pem": agency_tls["ca"].read_text(), **change}
    data = settings_for(agency_slapd, **change)
    with pytest.raises(InvalidInput) as err:
        fed.configure(db, tree["ministry"].code, data, cipher=cipher)
    assert err.value.field == field and text in err.value.message
    assert db.get(AgencyFederation, tree["ministry"].id) is None


def test_documented_placeholders_and_literal_braces_are_fine(db, tree, cipher, agency_slapd):
    flt = "(&(objectClass=person)(|(uid={username})(mail={email})(description={{x}})))"
    data = settings_for(agency_slapd, None, search_filter=flt, service_bind_dn=None)
    assert fed.configure(db, tree["ministry"].code, data, cipher=cipher).search_filter == flt
    tpl = "uid={username},ou=people,dc=agency,dc=test"
    data = settings_for(agency_slapd, None, bind_dn_template=tpl, search_base=None)
    assert fed.configure(db, tree["ministry"].code, data, cipher=cipher).bind_dn_template == tpl


def test_plain_ldap_to_a_remote_host_needs_the_explicit_override(
    db, tree, cipher, agency_slapd, monkeypatch
):
    plain = dict(start_tls=False, allow_plain=True, service_bind_dn=None)
    monkeypatch.delenv("IDP_LDAP_ALLOW_PLAIN_REMOTE", raising=False)
    # Loopback: allowed (tests, a local relay).
    fed.configure(db, tree["ministry"].code, settings_for(agency_slapd, None, **plain),
                  cipher=cipher)  # fmt: skip
    remote = settings_for(agency_slapd, None, servers=["ldap://ad1.agency.go.th:389"], **plain)
    with pytest.raises(InvalidInput, match="non-loopback") as err:
        fed.configure(db, tree["dept"].code, remote, cipher=cipher)
    assert err.value.field == "servers"
    monkeypatch.setenv("IDP_LDAP_ALLOW_PLAIN_REMOTE", "true")
    fed.configure(db, tree["dept"].code, remote, cipher=cipher)


def test_settings_stored_before_the_checks_give_unavailable_not_a_traceback(
    db, tree, cipher, hasher, agency_slapd
):
    account = factories.account(
        db, "somchai@agency.go.th", tree["office"].code, hasher=hasher, cipher=cipher
    )
    fed.configure(db, tree["ministry"].code, settings_for(agency_slapd, None), cipher=cipher)
    row = db.get(AgencyFederation, tree["ministry"].id)
    row.search_filter = "(&(uid={username})(x={x}))"  # as an older version stored it
    db.flush()
    r = fed.authenticate_account(db, account, "whatever", cipher=cipher)
    assert r.outcome is Outcome.UNAVAILABLE and r.reason == "bad_configuration"


def test_the_way_up_is_read_in_one_statement(db, tree, cipher, agency_slapd, agency_tls):
    """Every sign-in asks for its agency's settings (issue 22): one statement whether the
    settings are nobody's, the ministry's two levels up, or an opt-out on the way (was
    one for the ancestors and one per level)."""
    from sqlalchemy import event

    ca = agency_tls["ca"].read_text()
    statements: list[object] = []
    engine = db.get_bind()

    def count(*args) -> None:
        statements.append(args)

    def lookup():
        db.flush()
        db.expire_all()  # nothing from the identity map but the office itself:
        assert tree["office"].path  # a sign-in has its account's agency loaded
        statements.clear()
        event.listen(engine, "before_cursor_execute", count)
        try:
            return fed.config_for(db, tree["office"], cipher=cipher)
        finally:
            event.remove(engine, "before_cursor_execute", count)

    assert lookup() is None and len(statements) == 1
    fed.configure(db, tree["ministry"].code, settings_for(agency_slapd, ca), cipher=cipher)
    assert lookup().search_base == AGENCY_PEOPLE and len(statements) == 1
    fed.configure(db, tree["dept"].code, settings_for(agency_slapd, ca), cipher=cipher)
    fed.disable(db, tree["dept"].code, actor="op")
    assert lookup() is None and len(statements) == 1
