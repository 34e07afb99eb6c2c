"""``GovIDOAuth2Request`` sets Authlib's request attributes itself (issue 22: Authlib's
constructor parsed the URI on every request for its https check). An Authlib upgrade
that adds an attribute must not leave ours without it, and the check must still refuse
plain http to anything but loopback."""

import pytest
from authlib.oauth2.rfc6749 import InsecureTransportError, OAuth2Request

from idp.oidc.server import GovIDOAuth2Request


def test_every_attribute_of_authlibs_request_is_set():
    ours = GovIDOAuth2Request("POST", "https://id.example.go.th/token", form=[("a", "1")])
    theirs = OAuth2Request("POST", "https://id.example.go.th/token")
    assert set(vars(theirs)) <= set(vars(ours))
    for name in vars(theirs):
        if name not in ("payload", "headers"):
            assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.payload.data == {"a": "1"}


@pytest.mark.parametrize("uri", ["http://id.example.go.th/token", "ftp://x/token", "/token"])
def test_plain_http_elsewhere_than_loopback_is_refused_every_time(uri, monkeypatch):
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT", raising=False)
    for _ in range(2):  # not remembered as secure
        with pytest.raises(InsecureTransportError):
            GovIDOAuth2Request("POST", uri)


def test_a_uri_let_through_by_the_insecure_switch_is_not_remembered(monkeypatch):
    uri = "http://switch.example.go.th/token"
    monkeypatch.setenv("AUTHLIB_INSECURE_TRANSPORT", "1")
    GovIDOAuth2Request("POST", uri)
    monkeypatch.delenv("AUTHLIB_INSECURE_TRANSPORT")
    with pytest.raises(InsecureTransportError):
        GovIDOAuth2Request("POST", uri)


def test_loopback_http_and_https_are_accepted():
    for uri in ("https://id.example.go.th/token", "http://127.0.0.1:8000/token"):
        assert GovIDOAuth2Request("POST", uri).uri == uri
