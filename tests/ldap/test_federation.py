"""Sign-in against an agency's own directory: a second real slapd with StartTLS and LDAPS
from a throw-away CA; failover, timeouts, escaping and the empty-password trap."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from idp.directory.federation import FederationConfig, Outcome, authenticate
from tests.ldap.conftest import (
    AGENCY_PEOPLE,
    AGENCY_SUFFIX,
    AGENCY_USERS,
    SERVICE_DN,
    SERVICE_PASSWORD,
)
from tests.server import free_port

SOMCHAI_PW = AGENCY_USERS["somchai"][0]


@pytest.fixture
def ca_pem(agency_tls) -> str:
    return agency_tls["ca"].read_text()


@pytest.fixture
def search_config(agency_slapd, ca_pem) -> FederationConfig:
    return FederationConfig(
        servers=(agency_slapd.url,),
        start_tls=True,
        ca_pem=ca_pem,
        search_base=AGENCY_PEOPLE,
        service_bind_dn=SERVICE_DN,
        service_password=SERVICE_PASSWORD,
        timeout=2,
    )


def with_(config: FederationConfig, **changes) -> FederationConfig:
    from dataclasses import replace

    return replace(config, **changes)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Accepts TCP connections (kernel backlog) and never answers."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind(("127.0.0.1", 0))
    s.listen(16)
    yield f"ldap://127.0.0.1:{s.getsockname()[1]}"
    s.close()


def dead_url() -> str:
    return f"ldap://127.0.0.1:{free_port()}"  # nothing listens there


def test_search_then_bind_over_starttls(search_config):
    r = authenticate(search_config, "somchai@agency.go.th", SOMCHAI_PW)
    assert r.outcome is Outcome.OK and r.ok
    assert r.dn == f"uid=somchai,{AGENCY_PEOPLE}" and r.mail == "somchai@agency.go.th"
    assert r.amr == ("pwd",)  # the password factor only: level 2 still needs GovID MFA
    assert authenticate(search_config, "somchai", SOMCHAI_PW).ok  # a bare username too


@pytest.mark.parametrize(
    "login,password,reason",
    [
        ("somchai@agency.go.th", "wrong password", "invalid_credentials"),
        ("nobody@agency.go.th", SOMCHAI_PW, "unknown_user"),
        ("malee@agency.go.th", SOMCHAI_PW, "invalid_credentials"),
    ],
)
def test_wrong_credentials(search_config, login, password, reason):
    r = authenticate(search_config, login, password)
    assert (r.outcome, r.reason) == (Outcome.BAD_CREDENTIALS, reason)


@pytest.mark.parametrize("password", ["", None])
def test_empty_password_is_never_success(agency_slapd, search_config, password):
    """RFC 4513 §5.1.2: a DN with an empty password is an unauthenticated bind, which
    slapd answers with success when allowed. We refuse before any network traffic."""
    template = with_(search_config, bind_dn_template=f"uid={{username}},{AGENCY_PEOPLE}")
    for config in (search_config, template):
        r = authenticate(config, "somchai@agency.go.th", password)
        assert (r.outcome, r.reason) == (Outcome.BAD_CREDENTIALS, "empty_or_invalid_password")


@pytest.mark.parametrize(
    "login",
    ["*)(uid=*", "*", "somchai)(|(uid=*", "*)(objectClass=*))(|(uid=*", "\\2a", "som*"],
)
def test_ldap_injection_in_usernames_matches_nobody(search_config, login):
    """RFC 4515 §3: the values are escaped, so filter syntax in a login is literal text."""
    r = authenticate(search_config, login, SOMCHAI_PW)
    assert r.outcome is Outcome.BAD_CREDENTIALS
    assert r.dn is None


def test_a_literal_star_uid_matches_only_itself(search_config):
    star_pw = AGENCY_USERS["*"][0]
    r = authenticate(search_config, "*", star_pw)
    assert r.ok and r.dn == f"cn=star,{AGENCY_PEOPLE}"


def test_bind_dn_template_with_escaping(search_config):
    config = with_(
        search_config,
        search_base=None,
        service_bind_dn=None,
        service_password=None,
        bind_dn_template=f"uid={{username}},{AGENCY_PEOPLE}",
    )
    assert authenticate(config, "somchai@agency.go.th", SOMCHAI_PW).ok
    bad = authenticate(config, "somchai@agency.go.th", "nope")
    assert (bad.outcome, bad.reason) == (Outcome.BAD_CREDENTIALS, "invalid_credentials")
    # RFC 4514 §2.4: a "," in the login cannot add RDNs to the DN.
    r = authenticate(config, f"somchai,{AGENCY_PEOPLE.split(',')[0]}", SOMCHAI_PW)
    assert r.outcome is Outcome.BAD_CREDENTIALS


def test_ldaps_with_the_right_ca(agency_slapd, search_config):
    r = authenticate(
        with_(search_config, servers=(agency_slapd.ldaps_url,)), "malee", AGENCY_USERS["malee"][0]
    )
    assert r.ok and r.server == agency_slapd.ldaps_url


@pytest.mark.parametrize("scheme", ["starttls", "ldaps"])
def test_certificate_from_another_ca_is_refused(agency_slapd, search_config, agency_tls, scheme):
    url = agency_slapd.url if scheme == "starttls" else agency_slapd.ldaps_url
    config = with_(search_config, servers=(url,), ca_pem=agency_tls["other_ca"].read_text())
    r = authenticate(config, "somchai", SOMCHAI_PW)
    assert (r.outcome, r.reason) == (Outcome.UNAVAILABLE, "tls_failed")


def test_plain_ldap_only_when_explicitly_allowed(agency_slapd, search_config):
    with pytest.raises(ValueError, match="allow_plain"):
        with_(search_config, start_tls=False)
    plain = with_(search_config, start_tls=False, allow_plain=True, ca_pem=None)
    assert authenticate(plain, "somchai", SOMCHAI_PW).ok


def test_failover_to_the_second_server_of_the_pool(agency_slapd, search_config):
    config = with_(search_config, servers=(dead_url(), agency_slapd.url))
    r = authenticate(config, "somchai", SOMCHAI_PW)
    assert r.ok and r.server == agency_slapd.url


def test_a_silent_server_times_out_and_the_next_one_answers(
    agency_slapd, search_config, silent_server
):
    config = with_(search_config, servers=(silent_server, agency_slapd.url), timeout=1)
    started = time.monotonic()
    r = authenticate(config, "somchai", SOMCHAI_PW)
    assert r.ok and r.server == agency_slapd.url
    assert time.monotonic() - started < 5


def test_all_servers_down_is_unavailable_not_bad_credentials(search_config, silent_server):
    config = with_(search_config, servers=(dead_url(), silent_server), timeout=1)
    started = time.monotonic()
    r = authenticate(config, "somchai", SOMCHAI_PW)
    assert (r.outcome, r.reason) == (Outcome.UNAVAILABLE, "unreachable")
    assert time.monotonic() - started < 5


def test_wrong_service_password_is_a_configuration_problem(search_config):
    r = authenticate(with_(search_config, service_password="wrong"), "somchai", SOMCHAI_PW)
    assert (r.outcome, r.reason) == (Outcome.UNAVAILABLE, "service_bind_refused")


def test_anonymous_search_when_no_service_account(search_config):
    config = with_(search_config, service_bind_dn=None, service_password=None)
    assert authenticate(config, "somchai", SOMCHAI_PW).ok


def test_ambiguous_match_is_refused(search_config):
    config = with_(search_config, search_filter="(|(uid={username})(objectClass=person))")
    r = authenticate(config, "somchai", SOMCHAI_PW)
    assert (r.outcome, r.reason) == (Outcome.BAD_CREDENTIALS, "ambiguous_user")


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"search_base": None}, "bind DN template or a search base"),
        ({"search_filter": "(uid=fixed)"}, "must contain"),
        ({"servers": ("http://x",)}, "ldap://"),
        ({"servers": ()}, "at least one"),
        ({"service_password": None}, "needs its password"),
    ],
)
def test_config_is_checked_up_front(search_config, kwargs, match):
    with pytest.raises(ValueError, match=match):
        with_(search_config, **kwargs)


def test_result_repr_and_config_repr_hide_the_service_password(search_config):
    assert SERVICE_PASSWORD not in repr(search_config)
    assert AGENCY_SUFFIX in repr(search_config)
