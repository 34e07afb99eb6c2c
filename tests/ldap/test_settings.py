"""IDP_LDAP_* settings: parsing, the TLS rule, backoff."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from idp.config import Settings
from idp.config.ldap import DirectorySettings


def test_urls_from_env_as_list_or_json(monkeypatch):
    """IDP_LDAP_* are read by the one settings class, as its ``ldap`` group."""
    monkeypatch.setenv("IDP_LDAP_URLS", "ldaps://a.go.th:636, ldaps://b.go.th")
    assert Settings().ldap.urls == ["ldaps://a.go.th:636", "ldaps://b.go.th"]
    monkeypatch.setenv("IDP_LDAP_URLS", '["ldap://c.go.th"]')
    monkeypatch.setenv("IDP_LDAP_PARK_AFTER", "7")
    assert Settings().ldap.urls == ["ldap://c.go.th"]  # StartTLS by default
    assert Settings().ldap.park_after == 7
    monkeypatch.delenv("IDP_LDAP_URLS")
    assert not Settings().ldap.enabled


def test_a_bad_directory_setting_stops_the_directory_only(monkeypatch):
    """Checked when the directory is used: a wrong IDP_LDAP_* value does not keep the
    server (sign-in) from starting, and is never shown back (a bind password)."""
    monkeypatch.setenv("IDP_LDAP_URLS", "http://ldap.go.th")
    monkeypatch.setenv("IDP_LDAP_BIND_PASSWORD", "very-secret-bind-password")
    settings = Settings()
    assert "very-secret-bind-password" not in repr(settings)
    with pytest.raises(ValidationError) as caught:
        settings.ldap  # noqa: B018
    assert caught.value.errors()[0]["loc"] == ("urls",)
    assert "very-secret-bind-password" not in str(caught.value)


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
