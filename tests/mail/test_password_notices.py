"""The notice of a password reset or change reaches the person's mail address through a
real SMTP server (aiosmtpd, started here on a loopback port): what the person receives,
STARTTLS with a checked certificate and AUTH, implicit TLS, and the failure paths (a
relay that is down or not trusted never fails the change; nothing sent on rollback)."""

from __future__ import annotations

import datetime as dt
import logging
import socket
import ssl
import time

# aiosmtpd is a test extra (pyproject): missing, this module fails to import, never skips.
import aiosmtpd.controller as aiosmtpd_controller
import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from sqlalchemy.orm import sessionmaker

from idp import metrics
from idp.audit.models import AuditEvent
from idp.credentials import service as creds
from idp.db import utcnow
from idp.keys.service import KeyRing
from idp.mail import sending
from tests import factories
from tests.conftest import make_settings
from tests.mail_relay import Inbox, subject

RELAY_USER, RELAY_PASSWORD = "govid", "relay-secret-9f3c"
NEW_PASSWORD = "a brand new passphrase 77"


def _authenticator(server, session, envelope, mechanism, auth_data):
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login.decode(),
        auth_data.password.decode(),
    ) == (RELAY_USER, RELAY_PASSWORD)
    return AuthResult(success=ok)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 (the relay's), written as PEM files."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "relay.test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    d = tmp_path_factory.mktemp("relay")
    (d / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return d / "cert.pem", d / "key.pem"


def _tls_context(certificate) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(*map(str, certificate))
    return ctx


@pytest.fixture
def starttls_relay(certificate):
    """A submission relay: STARTTLS required before AUTH, AUTH required before mail."""
    inbox = Inbox()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        tls_context=_tls_context(certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=_authenticator,
    )
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def account(db, unique, hasher, cipher):
    factories.agency(db, f"ml-{unique}", domains=[f"{unique}.go.th"])
    return factories.account(
        db, f"somchai@{unique}.go.th", f"ml-{unique}", hasher=hasher, cipher=cipher
    )


@pytest.fixture
def keys(engine, cipher):
    return KeyRing(sessionmaker(engine), cipher)


def _relay_settings(database_url, certificate, port, **over):
    values = dict(
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="starttls",
        smtp_ca_file=str(certificate[0]),
        smtp_username=RELAY_USER,
        smtp_password=RELAY_PASSWORD,
        smtp_from="no-reply@govid.go.th",
        smtp_timeout_seconds=5,
        helpdesk_phone="02 123 4567",
    )
    values.update(over)
    return make_settings(database_url, **values)


def _reset(db, hasher, keys, settings, account, by="recovery"):
    creds.replace_password(
        db, hasher, keys, settings, account, NEW_PASSWORD, keep=None, by=by, now=utcnow(),
        details={"method": "totp"} if by == "recovery" else None,
    )  # fmt: skip


def _audit(db, account):
    return (
        db.query(AuditEvent)
        .filter(
            AuditEvent.type == "credentials.password.changed",
            AuditEvent.subject == str(account.id),
        )
        .one()
    )


def _failed_count(kind: str) -> float:
    return (
        metrics.REGISTRY.get_sample_value(
            "govid_mail_sent_total", {"kind": kind, "result": "failed"}
        )
        or 0.0
    )


def test_a_recovery_mails_the_person_in_thai_and_english(
    db, database_url, hasher, keys, account, certificate, starttls_relay
):
    inbox, port = starttls_relay
    settings = _relay_settings(database_url, certificate, port)
    _reset(db, hasher, keys, settings, account)
    assert not inbox.messages  # nothing before the commit
    db.commit()
    sending.wait_idle(20)
    assert inbox.arrived.wait(10)
    assert len(inbox.messages) == 1
    envelope, msg = inbox.messages[0]
    assert envelope.rcpt_tos == [account.email]
    assert msg["To"] == account.email
    assert msg["From"].addresses[0].addr_spec == "no-reply@govid.go.th"
    title = subject(msg)
    assert "รหัสผ่าน GovID ของคุณถูกตั้งใหม่" in title
    assert "Your GovID password was reset" in title
    assert msg["Auto-Submitted"] == "auto-generated"
    body = msg.get_content()
    # What happened, when (Bangkok time; the Buddhist era in Thai), how, whom to call.
    now = dt.datetime.now(dt.UTC).astimezone(dt.timezone(dt.timedelta(hours=7)))
    assert f"{now.year + 543} เวลา" in body and f"{now.year} at" in body
    assert "Bangkok time" in body
    assert "รหัสจากแอปยืนยันตัวตน" in body and "a code from your authenticator app" in body
    assert "ถูกออกจากระบบแล้ว" in body and "has been signed out" in body
    assert "02 123 4567" in body and "helpdesk@govid.go.th" in body
    # Nothing that grants access: no link at all, no password, no issuer address.
    assert "http" not in body.lower() and "://" not in body
    assert NEW_PASSWORD not in msg.as_string() and settings.issuer not in msg.as_string()
    d = _audit(db, account).details
    assert d["notified_to"] == account.email
    assert d["notification"] == creds.AFTER_COMMIT


def test_a_password_change_mails_a_notice_too(
    db, database_url, hasher, keys, account, certificate, starttls_relay
):
    inbox, port = starttls_relay
    settings = _relay_settings(database_url, certificate, port)
    _reset(db, hasher, keys, settings, account, by="self")
    db.commit()
    sending.wait_idle(20)
    assert inbox.arrived.wait(10)
    _, msg = inbox.messages[0]
    title = subject(msg)
    assert "ถูกเปลี่ยน" in title and "Your GovID password was changed" in title
    assert "Every other device" in msg.get_content()


def test_nothing_is_sent_when_the_change_rolls_back(
    db, database_url, hasher, keys, account, certificate, starttls_relay
):
    inbox, port = starttls_relay
    settings = _relay_settings(database_url, certificate, port)
    nested = db.begin_nested()
    _reset(db, hasher, keys, settings, account)  # a recovery, rolled back
    nested.rollback()
    db.commit()
    sending.wait_idle(20)
    assert inbox.messages == []
    # The relay works: the change the person then makes (committed) is the one notice.
    _reset(db, hasher, keys, settings, account, by="self")
    db.commit()
    sending.wait_idle(20)
    assert inbox.arrived.wait(10)
    [(_, msg)] = inbox.messages  # and no "password was reset" notice before it
    assert "Your GovID password was changed" in subject(msg)


def test_a_relay_that_is_down_never_fails_the_reset_and_is_logged_and_counted(
    db, database_url, hasher, keys, account, certificate, caplog
):
    port = _free_port()  # nothing listens here
    settings = _relay_settings(database_url, certificate, port, smtp_timeout_seconds=2)
    before = _failed_count("password_reset")
    caplog.set_level(logging.INFO, logger="idp.mail.sending")
    started = time.monotonic()
    _reset(db, hasher, keys, settings, account)
    db.commit()
    assert time.monotonic() - started < 2  # the reset did not wait for the relay
    sending.wait_idle(20)
    assert _failed_count("password_reset") == before + 1
    lines = [r.getMessage() for r in caplog.records if r.name == "idp.mail.sending"]
    assert any("not sent" in line and str(account.id) in line for line in lines), lines
    text = "\n".join(lines)
    assert RELAY_PASSWORD not in text and NEW_PASSWORD not in text and account.email not in text
    assert hasher.verify(NEW_PASSWORD, account.password_hash)  # the reset stands


def test_an_untrusted_relay_certificate_is_refused(
    db, database_url, hasher, keys, account, certificate, starttls_relay, caplog
):
    inbox, port = starttls_relay
    settings = _relay_settings(database_url, certificate, port, smtp_ca_file="")
    before = _failed_count("password_reset")
    caplog.set_level(logging.WARNING, logger="idp.mail.sending")
    _reset(db, hasher, keys, settings, account)
    db.commit()
    sending.wait_idle(20)
    assert inbox.messages == [] and _failed_count("password_reset") == before + 1
    assert any("SSLCertVerificationError" in r.getMessage() for r in caplog.records)


def test_a_wrong_relay_password_is_counted_and_not_logged(
    db, database_url, hasher, keys, account, certificate, starttls_relay, caplog
):
    inbox, port = starttls_relay
    settings = _relay_settings(database_url, certificate, port, smtp_password="wrong-pass-x")
    caplog.set_level(logging.WARNING, logger="idp.mail.sending")
    before = _failed_count("password_reset")
    _reset(db, hasher, keys, settings, account)
    db.commit()
    sending.wait_idle(20)
    assert inbox.messages == [] and _failed_count("password_reset") == before + 1
    text = "\n".join(r.getMessage() for r in caplog.records)
    # smtplib tries each mechanism the relay offers; aiosmtpd hangs up after the refusals
    assert "not sent: SMTP" in text and "wrong-pass-x" not in text and RELAY_USER not in text


def test_implicit_tls(db, database_url, hasher, keys, account, certificate):
    inbox = Inbox()
    port = _free_port()
    controller = aiosmtpd_controller.Controller(
        inbox, hostname="127.0.0.1", port=port, ssl_context=_tls_context(certificate)
    )
    controller.start()
    try:
        settings = _relay_settings(
            database_url, certificate, port, smtp_tls="tls", smtp_username="", smtp_password=""
        )
        _reset(db, hasher, keys, settings, account)
        db.commit()
        sending.wait_idle(20)
        assert inbox.arrived.wait(10) and inbox.messages[0][0].rcpt_tos == [account.email]
    finally:
        controller.stop()


def test_without_a_relay_the_audit_event_says_not_sent(db, settings, hasher, keys, account):
    assert not settings.smtp_host
    _reset(db, hasher, keys, settings, account)
    db.flush()
    d = _audit(db, account).details
    assert d["notified_to"] == account.email and d["notification"] == creds.NOT_SENT


def test_relay_credentials_in_clear_are_refused(database_url):
    with pytest.raises(ValueError, match="IDP_SMTP_TLS=none"):
        make_settings(database_url, smtp_host="relay", smtp_tls="none", smtp_username="u")
