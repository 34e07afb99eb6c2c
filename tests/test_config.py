import base64

import pytest
from pydantic import ValidationError

from idp.config import DEV_DATA_KEY, DEV_SECRET_KEY, Settings

GOOD_DATA_KEY = base64.b64encode(b"k" * 32).decode()
GOOD_SECRET = "s" * 40


def test_dev_accepts_builtin_secrets():
    s = Settings(env="dev")
    assert s.secret_key == DEV_SECRET_KEY
    assert len(s.data_key_bytes) == 32


@pytest.mark.parametrize("env", ["test", "prod"])
def test_refuses_builtin_secret_key_outside_dev(env):
    with pytest.raises(ValidationError, match="IDP_SECRET_KEY"):
        Settings(env=env, data_key=GOOD_DATA_KEY, issuer="https://id.example.go.th")


@pytest.mark.parametrize("env", ["test", "prod"])
def test_refuses_builtin_data_key_outside_dev(env):
    with pytest.raises(ValidationError, match="IDP_DATA_KEY"):
        Settings(env=env, secret_key=GOOD_SECRET, issuer="https://id.example.go.th")


def test_refuses_from_environment(monkeypatch):
    monkeypatch.setenv("IDP_ENV", "prod")
    monkeypatch.delenv("IDP_SECRET_KEY", raising=False)
    monkeypatch.delenv("IDP_DATA_KEY", raising=False)
    with pytest.raises(ValidationError, match="development value"):
        Settings()


def test_prod_with_own_secrets_is_accepted(monkeypatch):
    monkeypatch.setenv("IDP_ENV", "prod")
    monkeypatch.setenv("IDP_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("IDP_DATA_KEY", GOOD_DATA_KEY)
    monkeypatch.setenv("IDP_ISSUER", "https://id.mail.go.th/")
    s = Settings()
    assert s.issuer == "https://id.mail.go.th"  # trailing slash normalised
    assert s.data_key_bytes == b"k" * 32


def test_prod_requires_https_issuer():
    with pytest.raises(ValidationError, match="https"):
        Settings(
            env="prod",
            secret_key=GOOD_SECRET,
            data_key=GOOD_DATA_KEY,
            issuer="http://id.mail.go.th",
        )


def test_short_secret_key_refused():
    with pytest.raises(ValidationError, match="32 characters"):
        Settings(env="test", secret_key="short", data_key=GOOD_DATA_KEY)


@pytest.mark.parametrize("days", [0, 30, 89])
def test_audit_retention_below_90_days_refused(days):
    with pytest.raises(ValidationError, match="at least 90"):
        Settings(audit_retention_days=days)


def test_audit_retention_longer_is_fine():
    assert Settings(audit_retention_days=365).audit_retention_days == 365


@pytest.mark.parametrize(
    "key", ["not base64!!", base64.b64encode(b"short").decode(), DEV_DATA_KEY[:-4]]
)
def test_data_key_must_be_32_bytes_of_base64(key):
    with pytest.raises(ValidationError, match="IDP_DATA_KEY"):
        Settings(data_key=key)


@pytest.mark.parametrize("issuer", ["https://id.go.th?x=1", "https://id.go.th#f", "id.go.th"])
def test_issuer_shape(issuer):
    with pytest.raises(ValidationError):
        Settings(issuer=issuer)


def test_fastapi_telemetry_is_off_unless_asked_for(monkeypatch):
    """Unconfigured, FastAPI's OpenTelemetry hooks still cost every request a provider
    look-up; GovID turns them off by default and hands control back with IDP_TELEMETRY."""
    from idp.config import fastapi_telemetry
    from idp.main import create_app

    off = Settings(env="dev", database_url="sqlite://")
    assert fastapi_telemetry(off) == {"tracing": False, "metrics": False, "logs": False}
    app = create_app(off, start_workers=False)
    assert not app._native_telemetry.enabled()  # no per-request provider look-up
    monkeypatch.setenv("IDP_TELEMETRY", "true")
    on = Settings(env="dev", database_url="sqlite://")
    assert on.telemetry and fastapi_telemetry(on) is None  # FastAPI's own defaults


# --- IDP_*_FILE (issue 21: secrets from files) ---------------------------------------


def test_secrets_from_files(monkeypatch, tmp_path):
    (tmp_path / "secret").write_text(GOOD_SECRET + "\n")
    (tmp_path / "data").write_text(GOOD_DATA_KEY)
    (tmp_path / "db").write_text("postgresql://govid:p%40ss@db/govid\n")
    (tmp_path / "ldap").write_text("ldap-pass\n")
    for var in ("IDP_SECRET_KEY", "IDP_DATA_KEY", "IDP_DATABASE_URL", "IDP_LDAP_BIND_PASSWORD"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("IDP_ENV", "prod")
    monkeypatch.setenv("IDP_ISSUER", "https://id.example.go.th")
    monkeypatch.setenv("IDP_SECRET_KEY_FILE", str(tmp_path / "secret"))
    monkeypatch.setenv("IDP_DATA_KEY_FILE", str(tmp_path / "data"))
    monkeypatch.setenv("IDP_DATABASE_URL_FILE", str(tmp_path / "db"))
    monkeypatch.setenv("IDP_LDAP_BIND_PASSWORD_FILE", str(tmp_path / "ldap"))
    s = Settings()
    assert s.secret_key == GOOD_SECRET  # the trailing newline is not part of it
    assert s.data_key == GOOD_DATA_KEY
    assert s.database_url == "postgresql://govid:p%40ss@db/govid"
    assert s.ldap.bind_password.get_secret_value() == "ldap-pass"  # IDP_LDAP_BIND_PASSWORD


def test_secret_file_and_variable_together_is_an_error(monkeypatch, tmp_path):
    (tmp_path / "secret").write_text(GOOD_SECRET)
    monkeypatch.setenv("IDP_SECRET_KEY", GOOD_SECRET)
    monkeypatch.setenv("IDP_SECRET_KEY_FILE", str(tmp_path / "secret"))
    with pytest.raises(ValueError, match="IDP_SECRET_KEY and IDP_SECRET_KEY_FILE"):
        Settings()


def test_unreadable_secret_file_is_an_error(monkeypatch, tmp_path):
    monkeypatch.delenv("IDP_DATA_KEY", raising=False)
    monkeypatch.setenv("IDP_DATA_KEY_FILE", str(tmp_path / "missing"))
    with pytest.raises(ValueError, match="IDP_DATA_KEY_FILE: cannot read"):
        Settings()


@pytest.mark.parametrize("proxies", ["0.0.0.0/0", "10.0.0.1 ::/0", "0.0.0.0/4"])
def test_trusting_every_address_as_a_proxy_is_refused(proxies):
    """Trusting every peer would let any client pick its address in X-Forwarded-For
    (rate limits and throttling by address would be worthless; decision 0012)."""
    with pytest.raises(ValidationError, match="trusts"):
        Settings(env="dev", trusted_proxies=proxies)
    assert Settings(env="dev", trusted_proxies="10.0.0.0/8, 172.18.0.2").trusted_proxies == (
        "10.0.0.0/8,172.18.0.2/32"
    )
