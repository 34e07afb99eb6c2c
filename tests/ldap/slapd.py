"""A throw-away OpenLDAP ``slapd`` on a loopback port, from a plain ``slapd.conf`` rendered
from ``deploy/slapd/slapd.conf.in`` (the same file the compose stack's openldap uses).

Used by the tests in this folder and by ``bench/ldap_provision.py``. Each instance has its
own temp directory (config, mdb data, pid file) and port; ``stop()`` terminates the
process (SIGTERM, then SIGKILL) and leaves nothing running. ``start()`` again after
``stop()`` reuses the same data and port (for outage tests).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.server import free_port
from tests.waiting import WaitTimeout, port_open, wait_until

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy" / "slapd"  # the same config as the compose stack's openldap
SBIN_PATH = os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def slapd_binary() -> str | None:
    return shutil.which("slapd", path=SBIN_PATH)


def _module_lines() -> str:
    # Debian builds back_mdb as a module; other builds have it compiled in.
    for d in ("/usr/lib/ldap", "/usr/lib/openldap", "/usr/lib64/openldap"):
        if Path(d, "back_mdb.la").exists() or Path(d, "back_mdb.so").exists():
            return f"modulepath {d}\nmoduleload back_mdb"
    return ""


@dataclass
class Slapd:
    workdir: Path
    suffix: str = "dc=govid,dc=test"
    rootpw: str = "test-root-secret"
    tls_cert: Path | None = None
    tls_key: Path | None = None
    nosync: bool = True

    def __post_init__(self) -> None:
        self.port = free_port()
        self.tls_port = free_port() if self.tls_cert else None
        self.proc: subprocess.Popen | None = None
        self.rootdn = f"cn=admin,{self.suffix}"
        (self.workdir / "data").mkdir(parents=True, exist_ok=True)
        tls = ""
        if self.tls_cert:
            tls = f"TLSCertificateFile {self.tls_cert}\nTLSCertificateKeyFile {self.tls_key}"
        self.conf = self.workdir / "slapd.conf"
        self.conf.write_text(self._render((DEPLOY / "slapd.conf.in").read_text(), tls))

    def _render(self, template: str, tls: str) -> str:
        from ldap3 import HASHED_SALTED_SHA
        from ldap3.utils.hashed import hashed

        values = {
            "CONF_DIR": str(DEPLOY),
            "RUN_DIR": str(self.workdir),
            "DATA_DIR": str(self.workdir / "data"),
            "SUFFIX": self.suffix,
            "ROOTPW_HASH": hashed(HASHED_SALTED_SHA, self.rootpw),
            "TLS": tls,
            "DB_OPTIONS": "dbnosync" if self.nosync else "",
        }
        for k, v in values.items():
            template = template.replace(f"@{k}@", v)
        return template.replace("modulepath /usr/lib/ldap\nmoduleload back_mdb", _module_lines())

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.tls_port}"

    def start(self, timeout: float = 15.0) -> Slapd:
        binary = slapd_binary()
        if binary is None:
            raise RuntimeError("slapd is not installed")
        urls = [f"{self.url}/"] + ([f"{self.ldaps_url}/"] if self.tls_port else [])
        log = open(self.workdir / "slapd.log", "ab")  # noqa: SIM115 - kept by the process
        # -d 0: stay in the foreground (so we own the process) without debug output.
        self.proc = subprocess.Popen(
            [binary, "-f", str(self.conf), "-h", " ".join(urls), "-d", "0"],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        log.close()

        def answers() -> bool:
            if self.proc.poll() is not None:
                out = (self.workdir / "slapd.log").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"slapd exited with {self.proc.returncode}: {out}")
            return port_open(self.port)

        try:
            wait_until(answers, timeout, f"slapd to answer on port {self.port}")
        except WaitTimeout:
            self.stop()
            raise
        return self

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self.proc = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def admin(self):
        """A bound ldap3 connection as the rootdn (plain LDAP on loopback)."""
        from ldap3 import Connection, Server

        return Connection(
            Server("127.0.0.1", port=self.port), self.rootdn, self.rootpw, auto_bind=True
        )

    def add_base(self) -> None:
        """The suffix entry (idempotent)."""
        dc = self.suffix.split(",")[0].split("=")[1]
        self.add_entry(self.suffix, ["dcObject", "organization"], {"dc": dc, "o": dc})

    def add_ou(self, dn: str) -> None:
        self.add_entry(dn, ["organizationalUnit"], {"ou": dn.split(",")[0].split("=")[1]})

    def add_entry(self, dn: str, object_class, attributes: dict) -> None:
        conn = self.admin()
        try:
            conn.add(dn, object_class, attributes)
            if conn.result["result"] not in (0, 68):  # 68: already exists
                raise RuntimeError(f"add {dn}: {conn.result}")
        finally:
            conn.unbind()
