"""GovID never sends a request to a private or loopback target outside dev (issue 17
rule 9, SSRF): at registration (admin API, CLI, domain with the server's settings) and
again at delivery, since DNS can change in between."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy.orm import sessionmaker

from idp.clients import service as clients
from idp.errors import InvalidInput
from idp.outbound import OutboundPolicy, is_public, system_resolver
from idp.sessions.logout import MAX_ATTEMPTS, deliver_due
from idp.sessions.models import LogoutDelivery
from tests import factories
from tests.conftest import make_settings
from tests.oidc.test_backchannel_delivery import FlakyRP


def fake(answers: dict[str, list[str]]):
    def resolve(host: str, port: int) -> list[str]:
        if host not in answers:
            raise OSError("no such host")
        return answers[host]

    return resolve


STRICT = OutboundPolicy(
    resolver=fake(
        {
            "rp.example.go.th": ["8.8.8.8"],
            "internal.example.go.th": ["10.1.2.3"],
            "rebind.example.go.th": ["8.8.4.4", "169.254.169.254"],
            "v6.example.go.th": ["::ffff:127.0.0.1"],
        }
    )
)


@pytest.mark.parametrize(
    "uri, refused",
    [
        ("https://rp.example.go.th/bc", None),
        ("http://rp.example.go.th/bc", "must use https"),
        ("https://127.0.0.1:8443/bc", "non-public address (127.0.0.1)"),
        ("https://[::1]/bc", "non-public address (::1)"),
        ("https://169.254.169.254/latest/meta-data", "non-public"),
        ("https://internal.example.go.th/bc", "non-public address (10.1.2.3)"),
        ("https://rebind.example.go.th/bc", "non-public address (169.254.169.254)"),
        ("https://v6.example.go.th/bc", "non-public"),
        ("https://100.64.0.1/bc", "non-public"),
        # IPv6 forms that carry a loopback or private IPv4 address (independent check)
        ("https://[64:ff9b::7f00:1]/bc", "non-public"),  # NAT64 of 127.0.0.1
        ("https://[2002:7f00:1::]/bc", "non-public"),  # 6to4 of 127.0.0.1
        ("https://[2002:a00:1::]/bc", "non-public"),  # 6to4 of 10.0.0.1
        ("https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/bc", "non-public"),  # Teredo
        ("https://nowhere.example.go.th/bc", None),  # not in DNS: nothing reached
    ],
)
def test_policy(uri, refused):
    reason = STRICT.refusal(uri)
    if refused is None:
        assert reason is None
    else:
        assert reason and refused in reason


def test_allowed_hosts_and_dev():
    allowed = OutboundPolicy(allowed_hosts=frozenset({"internal.example.go.th"}))
    assert allowed.refusal("http://internal.example.go.th:8080/bc") is None
    assert OutboundPolicy(allow_any=True).refusal("http://127.0.0.1/bc") is None
    settings = make_settings("sqlite://", outbound_allowed_hosts="a.go.th, B.go.th.")
    assert OutboundPolicy.of(settings).allowed_hosts == {"a.go.th", "b.go.th"}
    assert not OutboundPolicy.of(settings).allow_any  # test env is not dev


def test_system_resolver_contract():
    """The real resolver, through the same policy: localhost is loopback, refused."""
    assert all(not is_public(a) for a in system_resolver("localhost", 443))
    reason = OutboundPolicy().refusal("https://localhost/bc")
    assert reason and "non-public" in reason


def test_registration_refuses_a_private_backchannel_uri(db, unique):
    factories.agency(db, f"ob-{unique}", domains=[f"{unique}.go.th"])
    limits = clients.Limits.of(make_settings("sqlite://"))
    data = clients.NewClient(
        agency_code=f"ob-{unique}",
        name_th="แอป",
        name_en="App",
        redirect_uris=("https://app.example.go.th/cb",),
        backchannel_logout_uri="https://127.0.0.1:9/bc",
    )
    with pytest.raises(InvalidInput) as err:
        clients.create(db, data, limits=limits)
    assert err.value.field == "backchannel_logout_uri"
    assert "IDP_OUTBOUND_ALLOWED_HOSTS" in err.value.message
    # An operator allows the internal receiver: accepted.
    ok = clients.Limits.of(make_settings("sqlite://", outbound_allowed_hosts="127.0.0.1"))
    row, _ = clients.create(db, data, limits=ok)
    assert row.backchannel_logout_uri == "https://127.0.0.1:9/bc"


def test_delivery_to_a_target_that_became_private_is_never_sent(db):
    """Registered while it was allowed (or public); refused at delivery: not contacted,
    not retried, the reason kept on the row."""
    rp = FlakyRP(failures=0)
    row = LogoutDelivery(client_id="c", uri=f"http://127.0.0.1:{rp.port}/bc", logout_token="t")
    db.add(row)
    db.flush()
    factory = sessionmaker(bind=db.connection(), join_transaction_mode="create_savepoint")
    with httpx.Client(timeout=5) as http:
        assert deliver_due(factory, http, outbound=OutboundPolicy()) == 1
    db.refresh(row)
    assert rp.calls == 0 and row.done_at is None and row.attempts == MAX_ATTEMPTS
    assert row.last_error.startswith("refused: must use https")
    rp.srv.shutdown()
