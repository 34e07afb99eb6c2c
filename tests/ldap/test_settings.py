"""IDP_LDAP_* settings: parsing, the TLS rule, backoff."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from idp.directory.settings import DirectorySettings


def test_urls_from_env_as_list_or_json(monkeypatch):
    monkeypatch.setenv("IDP_LDAP_URLS", "ldaps://a.go.th:636, ldaps://b.go.th")
    assert DirectorySettings().urls == ["ldaps://a.go.th:636", "ldaps://b.go.th"]
    monkeypatch.setenv("IDP_LDAP_URLS", '["ldap://c.go.th"]')
    assert DirectorySettings().urls == ["ldap://c.go.th"]  # StartTLS by default
    monkeypatch.delenv("IDP_LDAP_URLS")
    assert not DirectorySettings().enabled


@pytest.mark.parametrize(
    "kwargs,match",
    [
        ({"urls": ["ldap://ldap.go.th"], "start_tls": False}, "in clear"),
        (
            {"urls": ["ldap://ldap.go.th"], "start_tls": False, "allow_plain": True},
            "ALLOW_PLAIN_REMOTE",
        ),
        ({"urls": ["http://ldap.go.th"]}, "ldap://"),
        ({"urls": ["ldaps://ldap.go.th/dc=x"]}, "host and port only"),
        ({"retry_base_seconds": 10, "retry_max_seconds": 1}, "RETRY_MAX"),
    ],
)
def test_refused(kwargs, match):
    with pytest.raises(ValidationError, match=match):
        DirectorySettings(**kwargs)


def test_plain_allowed_on_loopback_only_when_asked():
    s = DirectorySettings(urls=["ldap://127.0.0.1:3890"], start_tls=False, allow_plain=True)
    assert s.enabled
    DirectorySettings(
        urls=["ldap://openldap:389"], start_tls=False, allow_plain=True, allow_plain_remote=True
    )


def test_backoff_is_exponential_and_capped():
    s = DirectorySettings(retry_base_seconds=2, retry_max_seconds=60)
    assert [s.backoff(n) for n in range(1, 8)] == [2, 4, 8, 16, 32, 60, 60]


def test_password_is_not_in_repr():
    s = DirectorySettings(bind_password="very-secret-bind-password")
    assert "very-secret-bind-password" not in repr(s)
