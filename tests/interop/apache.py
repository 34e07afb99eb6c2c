"""A real Apache httpd for interop tests (Debian's ``apache2`` plus module packages such as
``libapache2-mod-auth-openidc`` or ``libapache2-mod-oauth2``).

- ``ensure_apache(*modules)``: the Debian packages are installed with apt-get when missing
  (as tests/ldap does for slapd); if that is impossible the test skips on a laptop and
  FAILS under ``CI=true`` (``tests.conftest.service_missing``).
- ``Apache(body, modules=...)``: one ``apache2 -f <conf> -DFOREGROUND`` with its own
  generated config, PidFile, logs and runtime files in a temporary directory, listening
  on loopback ports only; nothing under /etc/apache2 is read, a system Apache (if any) is
  ignored. ``start()`` checks the config (``apache2 -t``) and waits for the port;
  ``stop()`` ends only the process it started. Errors carry the tail of the error log.

Usage::

    ensure_apache("auth_openidc")
    with Apache(body, modules=("auth_openidc", "headers"), port=port) as httpd:
        httpd.url  # http://localhost:PORT
        httpd.error_log()

``body`` is the site part of the config (``<Location>``, ``OIDC*`` directives ...); it may
use ``{dir}`` (the server's directory) and ``{port}`` (plain text replacement). Extra
files (CGI scripts, pages) go in ``files={"relative/path": (text, mode)}``.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from tests.conftest import service_missing
from tests.server import free_port
from tests.waiting import WaitTimeout, port_open, wait_until

APACHE = "/usr/sbin/apache2"
MODULES_DIR = Path("/usr/lib/apache2/modules")
# Module name -> the Debian package that ships it (anything else is in apache2-bin).
PACKAGES = {
    "auth_openidc": "libapache2-mod-auth-openidc",
    "oauth2": "libapache2-mod-oauth2",
}
# Always loaded: the MPM, authn/authz cores (+ `Require valid-user`), MIME types, CGI.
BASE_MODULES = (
    "mpm_event",
    "authn_core",
    "authz_core",
    "authz_user",
    "mime",
    "cgid",
    "alias",
    "env",
)
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def module_path(name: str) -> Path:
    """The .so of a module (``auth_openidc`` -> /usr/lib/apache2/modules/mod_auth_openidc.so)."""
    return MODULES_DIR / f"mod_{name}.so"


def _missing(modules: Iterable[str]) -> list[str]:
    absent = [] if os.access(APACHE, os.X_OK) else ["apache2"]
    return absent + [m for m in modules if not module_path(m).exists()]


def _apt_install(packages: list[str]) -> str:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    cmd = ["apt-get", "install", "-y", "-q", "--no-install-recommends", *packages]
    try:
        r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
        if r.returncode != 0:  # stale package lists: refresh once and retry
            subprocess.run(["apt-get", "update", "-q"], env=env, capture_output=True, timeout=600)
            r = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"apt-get failed: {exc}"
    return "" if r.returncode == 0 else (r.stderr or r.stdout)[-800:]


def ensure_apache(*modules: str) -> str:
    """The apache2 binary, with the named modules present (installed with apt if not)."""
    wanted = list(BASE_MODULES) + list(modules)
    missing = _missing(wanted)
    if not missing:
        return APACHE
    packages = ["apache2"] + sorted({PACKAGES[m] for m in missing if m in PACKAGES})
    if shutil.which("apt-get") is None or os.geteuid() != 0:
        service_missing(
            f"Apache modules missing ({', '.join(missing)}): apt-get install -y "
            + " ".join(packages)
        )
    problem = _apt_install(packages)
    missing = _missing(wanted)
    if missing:
        service_missing(
            f"Apache or modules missing ({', '.join(missing)}) and could not be installed "
            f"(apt-get install -y {' '.join(packages)}): {problem}"
        )
    return APACHE


def _fill(text: str, directory: Path, port: int) -> str:
    """``{dir}`` and ``{port}`` filled in; every other brace is left alone (Apache's
    ``%{VAR}e`` and regex quantifiers, a script's own code)."""
    return text.replace("{dir}", str(directory)).replace("{port}", str(port))


def _run_as() -> tuple[str, str] | None:
    """httpd refuses to serve as root: children switch to an unprivileged user."""
    if os.geteuid() != 0:
        return None
    for user in ("www-data", "nobody"):
        try:
            entry = pwd.getpwnam(user)
        except KeyError:
            continue
        return user, grp.getgrgid(entry.pw_gid).gr_name
    raise RuntimeError("running as root and neither www-data nor nobody exists")


class Apache:
    """One apache2 process with a generated config on a loopback port."""

    def __init__(
        self,
        body: str,
        *,
        modules: Iterable[str] = (),
        port: int | None = None,
        extra_ports: Iterable[int] = (),
        files: Mapping[str, tuple[str, int]] | None = None,
        host: str = "localhost",
        log_level: str = "warn",
    ) -> None:
        self.port = port or free_port()
        self.extra_ports = list(extra_ports)
        self.host = host
        self.body = body
        self.modules = list(dict.fromkeys([*BASE_MODULES, *modules]))
        self.files = dict(files or {})
        self.log_level = log_level
        self.dir: Path | None = None
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ------------------------------------------------------------------ config

    def config(self) -> str:
        assert self.dir is not None
        d = self.dir
        lines = [
            f'ServerRoot "{d}"',
            f"ServerName {self.host}:{self.port}",
            f'PidFile "{d}/httpd.pid"',
            f'DefaultRuntimeDir "{d}/run"',
            f"Mutex file:{d}/run default",
            f'ErrorLog "{d}/error.log"',
            f"LogLevel {self.log_level}",
            'LogFormat "%h \\"%r\\" %>s %b" short',
            f'CustomLog "{d}/access.log" short',
            f'ScriptSock "{d}/run/cgid.sock"',
            f'DocumentRoot "{d}/htdocs"',
            "TypesConfig /etc/mime.types",
            "Timeout 30",
            "KeepAliveTimeout 2",
            # Small: one child of 8 threads, a second only under load.
            "StartServers 1",
            "ServerLimit 2",
            "ThreadsPerChild 8",
            "MaxRequestWorkers 16",
            "MinSpareThreads 1",
            "MaxSpareThreads 16",
            "ServerTokens Prod",
            "TraceEnable off",
        ]
        for port in [self.port, *self.extra_ports]:
            lines.insert(0, f"Listen 127.0.0.1:{port}")
        for name in self.modules:
            # mod_<name>.so exports <name>_module (Debian's .load files agree, dumpio too)
            lines.insert(0, f'LoadModule {name}_module "{module_path(name)}"')
        run_as = _run_as()
        if run_as:
            lines += [f"User {run_as[0]}", f"Group {run_as[1]}"]
        lines += [
            f'<Directory "{d}">',
            "    Require all granted",
            "</Directory>",
            "<Directory />",
            "    AllowOverride None",
            "    Require all denied",
            "</Directory>",
        ]
        return "\n".join(lines) + "\n\n" + _fill(self.body, d, self.port) + "\n"

    # ------------------------------------------------------------------ process

    def start(self, timeout: float = START_TIMEOUT) -> Apache:
        # Our own directory, world-traversable: the children run as www-data when the
        # tests run as root, and pytest's tmp_path is private to its owner.
        self.dir = Path(tempfile.mkdtemp(prefix="govid-apache-"))
        self.dir.chmod(0o755)
        for sub in ("run", "htdocs"):
            (self.dir / sub).mkdir()
            (self.dir / sub).chmod(0o755)
        run_as = _run_as()
        if run_as:  # cgid's socket and mutexes live here
            shutil.chown(self.dir / "run", user=run_as[0], group=run_as[1])
        for rel, (text, mode) in self.files.items():
            path = self.dir / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(_fill(text, self.dir, self.port))
            path.chmod(mode)
        conf = self.dir / "httpd.conf"
        conf.write_text(self.config())
        env = {k: v for k, v in os.environ.items() if not k.startswith("APACHE_")}
        env["LANG"] = "C.UTF-8"
        check = subprocess.run(
            [APACHE, "-t", "-f", str(conf)], env=env, capture_output=True, text=True, timeout=30
        )
        if check.returncode != 0:
            text = conf.read_text()
            self.stop()
            raise RuntimeError(f"apache2 -t refused the config:\n{check.stderr}\n{text}")
        self._out = open(self.dir / "stdout.log", "w")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [APACHE, "-f", str(conf), "-DFOREGROUND"],
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
        )

        def listens() -> bool:
            if self.proc.poll() is not None:
                logs = self.logs()
                self.stop()
                raise RuntimeError(f"apache2 exited early ({self.proc.returncode}):\n{logs}")
            return port_open(self.port)

        try:
            wait_until(listens, timeout, f"apache2 to listen on port {self.port}")
        except WaitTimeout as exc:
            logs = self.logs()
            self.stop()
            raise RuntimeError(f"{exc}:\n{logs}") from None
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM to the parent: children stop with it
            try:
                self.proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if getattr(self, "_out", None):
            self._out.close()
            self._out = None
        if self.dir is not None and not os.environ.get("GOVID_KEEP_APACHE"):
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Apache:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # ------------------------------------------------------------------ logs

    def error_log(self, tail: int = 20000) -> str:
        if self.dir is None:
            return ""
        parts = []
        for name in ("stdout.log", "error.log"):
            path = self.dir / name
            if path.exists():
                parts.append(path.read_text(errors="replace"))
        return "\n".join(parts)[-tail:]

    def access_log(self) -> str:
        path = self.dir / "access.log" if self.dir else None
        return path.read_text(errors="replace") if path and path.exists() else ""

    def logs(self) -> str:
        access = self.access_log()[-4000:]
        return f"--- error log ---\n{self.error_log()}\n--- access log ---\n{access}"
