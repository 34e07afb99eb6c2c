"""Real OpenLDAP for the directory tests (issue 9).

- ``slapd`` missing: ``apt-get install -y slapd ldap-utils`` (noninteractive). If that is
  impossible the tests skip on a laptop and FAIL under ``CI=true``
  (``tests.conftest.service_missing``). A system slapd that the package may start on port
  389 is ignored: every instance here has its own config, data and loopback port.
- ``mail_slapd``: the mail directory, one per run; each test works under its own
  ``ou=t<unique>`` so tests do not see each other's entries.
- ``agency_slapd``: a second instance playing an agency's directory (with LDAPS and
  StartTLS from a throw-away CA) for federation tests.
- Tests that stop the server get their own instance (``own_slapd``).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from idp.config.ldap import DirectorySettings
from idp.directory.mail import LdapMailDirectory
from idp.directory.models import OutboxEntry
from tests import factories
from tests.conftest import service_missing
from tests.ldap.slapd import Slapd, slapd_binary

AGENCY_SUFFIX = "dc=agency,dc=test"
AGENCY_PEOPLE = f"ou=people,{AGENCY_SUFFIX}"
SERVICE_DN = f"cn=govid-search,{AGENCY_SUFFIX}"
SERVICE_PASSWORD = "service-account-password-1"


def _apt_install() -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "slapd", "ldap-utils"]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
        if r.returncode != 0:  # stale package lists: refresh once and retry
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get failed: {exc}"
    return "" if r.returncode == 0 else (r.stderr or r.stdout)[-800:]


@pytest.fixture(scope="session")
def slapd_installed() -> str:
    binary = slapd_binary()
    if binary:
        return binary
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        service_missing("slapd is not installed (apt-get install -y slapd ldap-utils)")
    problem = _apt_install()
    binary = slapd_binary()
    if binary is None:
        service_missing(f"slapd is not installed and could not be installed: {problem}")
    return binary


def _started(slapd: Slapd) -> Slapd:
    try:
        return slapd.start()
    except RuntimeError as exc:
        service_missing(f"slapd would not start: {exc}")
        raise


@pytest.fixture(scope="session")
def mail_slapd(slapd_installed, tmp_path_factory) -> Iterator[Slapd]:
    slapd = _started(Slapd(tmp_path_factory.mktemp("mail-slapd")))
    try:
        slapd.add_base()
        yield slapd
    finally:
        slapd.stop()


@pytest.fixture
def own_slapd(slapd_installed, tmp_path) -> Iterator[Slapd]:
    """An instance of its own, for tests that stop and restart the server."""
    slapd = _started(Slapd(tmp_path / "slapd"))
    try:
        slapd.add_base()
        yield slapd
    finally:
        slapd.stop()


def directory_settings(slapd: Slapd, base: str, **overrides) -> DirectorySettings:
    values = dict(
        urls=[slapd.url],
        start_tls=False,
        allow_plain=True,  # loopback only (DirectorySettings refuses remote plain LDAP)
        bind_dn=slapd.rootdn,
        bind_password=slapd.rootpw,
        people_dn=f"ou=people,{base}",
        disabled_dn=f"ou=disabled,{base}",
        connect_timeout=1.0,
        op_timeout=3.0,
        retry_base_seconds=0.05,
        retry_max_seconds=0.4,
        poll_interval=0.05,
        park_after=2,
    )
    values.update(overrides)
    return DirectorySettings(**values)


def make_base(slapd: Slapd, unique: str) -> str:
    base = f"ou=t{unique},{slapd.suffix}"
    slapd.add_ou(base)
    slapd.add_ou(f"ou=people,{base}")
    slapd.add_ou(f"ou=disabled,{base}")
    return base


@pytest.fixture
def ldap_base(mail_slapd, unique) -> str:
    return make_base(mail_slapd, unique)


@pytest.fixture
def ldap_settings(mail_slapd, ldap_base) -> DirectorySettings:
    return directory_settings(mail_slapd, ldap_base)


@pytest.fixture
def directory(ldap_settings) -> Iterator[LdapMailDirectory]:
    d = LdapMailDirectory(ldap_settings)
    yield d
    d.close()


@pytest.fixture
def sessions(db: Session):
    """Session factory for the worker, inside the test's rolled-back transaction."""
    conn = db.get_bind()

    def factory() -> Session:
        return Session(bind=conn, join_transaction_mode="create_savepoint", expire_on_commit=False)

    return factory


@pytest.fixture
def mail_agency(db, unique):
    return factories.agency(db, f"mail-{unique}", domains=[f"m{unique}.go.th"])


def outbox_rows(db: Session) -> list[OutboxEntry]:
    return list(
        db.scalars(
            select(OutboxEntry).order_by(OutboxEntry.id).execution_options(populate_existing=True)
        )
    )


# ------------------------------------------------------------------ agency directory


def _make_ca(tmp: Path) -> dict[str, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = dt.datetime.now(dt.UTC)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def write(path: Path, data: bytes) -> Path:
        path.write_bytes(data)
        return path

    def key_pem(key) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    out: dict[str, Path] = {}
    for label in ("ca", "other_ca"):
        ca_key = ec.generate_private_key(ec.SECP256R1())
        ca = (
            x509.CertificateBuilder()
            .subject_name(name(f"GovID test {label}"))
            .issuer_name(name(f"GovID test {label}"))
            .public_key(ca_key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        out[label] = write(tmp / f"{label}.pem", ca.public_bytes(serialization.Encoding.PEM))
        if label == "ca":
            key = ec.generate_private_key(ec.SECP256R1())
            san = x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            )
            cert = (
                x509.CertificateBuilder()
                .subject_name(name("localhost"))
                .issuer_name(ca.subject)
                .public_key(key.public_key())
                .serial_number(x509.random_serial_number())
                .not_valid_before(now - dt.timedelta(minutes=5))
                .not_valid_after(now + dt.timedelta(days=1))
                .add_extension(san, critical=False)
                .sign(ca_key, hashes.SHA256())
            )
            out["cert"] = write(tmp / "server.pem", cert.public_bytes(serialization.Encoding.PEM))
            out["key"] = write(tmp / "server.key", key_pem(key))
    return out


AGENCY_USERS = {
    # uid: (password, mail)
    "somchai": ("correct horse battery", "somchai@agency.go.th"),
    "malee": ("another long password", "malee@agency.go.th"),
    "*": ("star user password", "star@agency.go.th"),  # a uid that is a filter metachar
    # A Thai password with "ำ" (U+0E33), which NFKC/SASLprep would change.
    "kamon": ("รหัสผ่านภาษาไทยคำยาวน้ำ", "kamon@agency.go.th"),
}


@pytest.fixture(scope="session")
def agency_tls(tmp_path_factory) -> dict[str, Path]:
    return _make_ca(tmp_path_factory.mktemp("agency-ca"))


@pytest.fixture(scope="session")
def agency_slapd(slapd_installed, tmp_path_factory, agency_tls) -> Iterator[Slapd]:
    from ldap3.utils.hashed import hashed

    slapd = Slapd(
        tmp_path_factory.mktemp("agency-slapd"),
        suffix=AGENCY_SUFFIX,
        tls_cert=agency_tls["cert"],
        tls_key=agency_tls["key"],
    )
    _started(slapd)
    try:
        slapd.add_base()
        slapd.add_ou(AGENCY_PEOPLE)
        from ldap3 import HASHED_SALTED_SHA

        slapd.add_entry(
            SERVICE_DN,
            ["simpleSecurityObject", "organizationalRole"],
            {"cn": "govid-search", "userPassword": hashed(HASHED_SALTED_SHA, SERVICE_PASSWORD)},
        )
        for uid, (password, mail) in AGENCY_USERS.items():
            rdn = "cn=star" if uid == "*" else f"uid={uid}"
            slapd.add_entry(
                f"{rdn},{AGENCY_PEOPLE}",
                ["inetOrgPerson"],
                {
                    "uid": uid,
                    "cn": "star" if uid == "*" else uid,
                    "sn": uid,
                    "mail": mail,
                    "userPassword": hashed(HASHED_SALTED_SHA, password),
                },
            )
        yield slapd
    finally:
        slapd.stop()
