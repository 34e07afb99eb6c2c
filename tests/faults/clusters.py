"""PostgreSQL clusters and Redis servers of a fault test's own, on loopback ports, that the
test may stop, freeze (SIGSTOP), restart or promote without touching the shared ones.

Every process started here is stopped by ``close()`` (the fixtures call it), and every
wait is bounded. PostgreSQL refuses to run as root, so when the tests run as root the
cluster belongs to the ``postgres`` user (Debian's packages create it).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
from pathlib import Path

import psycopg

from tests.server import free_port
from tests.waiting import listening, wait_until


def pg_bindir() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return str(Path(found[-1]).parent) if found else None


def _children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (from /proc; no psutil here)."""
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


class PgCluster:
    """One PostgreSQL cluster in a temporary directory, trust auth on 127.0.0.1:port."""

    def __init__(self, bindir: str, root: Path, name: str, port: int | None = None) -> None:
        self.bindir = bindir
        self.dir = root / name
        self.port = port or free_port()
        self.log = root / f"{name}.log"
        self.user = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")

    def _run(self, *args: str, timeout: float = 60, check: bool = True):
        cmd = [f"{self.bindir}/{args[0]}", *args[1:]]
        if self.user is not None:
            cmd = ["runuser", "-u", "postgres", "--", *cmd]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=check)

    def _own(self, path: Path) -> None:
        if self.user is not None:
            os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def init(self, **conf: str) -> PgCluster:
        self._own(self.dir.parent)
        self._run("initdb", "-D", str(self.dir), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--no-sync")  # fmt: skip
        self._configure(
            listen_addresses="'127.0.0.1'",
            unix_socket_directories=f"'{self.dir}'",
            fsync="off",
            full_page_writes="off",
            max_connections="100",
            shared_buffers="32MB",
            wal_level="replica",
            max_wal_senders="5",
            wal_keep_size="64MB",
            **conf,
        )
        with (self.dir / "pg_hba.conf").open("a") as f:
            f.write("host replication all 127.0.0.1/32 trust\n")
        return self

    def _configure(self, **conf: str) -> None:
        with (self.dir / "postgresql.conf").open("a") as f:
            for key, value in conf.items():
                f.write(f"{key} = {value}\n")

    def replica_of(self, primary: PgCluster) -> PgCluster:
        """A streaming replica made by ``pg_basebackup -R`` (standby.signal, primary_conninfo)."""
        self._own(self.dir.parent)
        self._run("pg_basebackup", "-h", "127.0.0.1", "-p", str(primary.port), "-U", "postgres",
                  "-D", str(self.dir), "-R", "-X", "stream", "--no-sync")  # fmt: skip
        self._configure(port=str(self.port), unix_socket_directories=f"'{self.dir}'")
        return self

    def start(self) -> PgCluster:
        self._own(self.dir.parent)
        if not self.log.exists():
            self.log.touch()
            self._own(self.log)
        self._run("pg_ctl", "-D", str(self.dir), "-l", str(self.log), "-o", f"-p {self.port}",
                  "-w", "-t", "30", "start")  # fmt: skip
        return self

    def stop(self, mode: str = "fast") -> None:
        self.thaw()
        self._run("pg_ctl", "-D", str(self.dir), "-m", mode, "-w", "-t", "30", "stop",
                  check=False)  # fmt: skip

    def restart(self) -> None:
        self.stop()
        self.start()

    def promote(self) -> None:
        self._run("pg_ctl", "-D", str(self.dir), "-w", "-t", "30", "promote")

    @property
    def pid(self) -> int | None:
        try:
            return int((self.dir / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError):
            return None

    def _signal(self, sig: int) -> None:
        pid = self.pid
        if pid is None:
            return
        for p in [pid, *_children(pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, sig)

    def freeze(self) -> None:
        """SIGSTOP the postmaster and every backend: the sockets accept, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        self._signal(signal.SIGCONT)

    def dsn(self, db: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=10) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def is_in_recovery(self) -> bool:
        with psycopg.connect(self.dsn(), autocommit=True, connect_timeout=5) as conn:
            return conn.execute("SELECT pg_is_in_recovery()").fetchone()[0]


class RedisServer:
    """redis-server (or a Sentinel: ``redis-server conf --sentinel``) on a loopback port."""

    def __init__(self, root: Path, name: str, port: int | None = None) -> None:
        self.root = root
        self.name = name
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None
        self.conf = root / f"{name}.conf"

    def start(self, *extra_lines: str, sentinel: bool = False) -> RedisServer:
        lines = [
            f"port {self.port}",
            "bind 127.0.0.1",
            "save ''",
            "appendonly no",
            f"dir {self.root}",
            f"logfile {self.root / (self.name + '.log')}",
            *extra_lines,
        ]
        if not self.conf.exists() or not sentinel:
            self.conf.write_text("\n".join(lines) + "\n")
        cmd = ["redis-server", str(self.conf)] + (["--sentinel"] if sentinel else [])
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import redis

        wait_until(
            listening(redis.Redis(port=self.port, socket_timeout=0.5).ping, redis.RedisError),
            10,
            f"redis {self.name} to answer PING",
        )
        return self

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self.proc = None


class Fleet:
    """What a test started; ``close()`` stops all of it."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="govid-faults-"))
        os.chmod(self.root, 0o755)  # noqa: S103 - the postgres user enters it
        self.clusters: list[PgCluster] = []
        self.redis: list[RedisServer] = []

    def pg(self, name: str, **conf: str) -> PgCluster:
        bindir = pg_bindir()
        if bindir is None:
            raise RuntimeError("no PostgreSQL binaries under /usr/lib/postgresql/*/bin")
        c = PgCluster(bindir, self.root, name)
        self.clusters.append(c)
        return c.init(port=str(c.port), **conf)

    def replica(self, name: str, primary: PgCluster) -> PgCluster:
        c = PgCluster(primary.bindir, self.root, name)
        self.clusters.append(c)
        return c.replica_of(primary)

    def redis_server(self, name: str) -> RedisServer:
        r = RedisServer(self.root, name)
        self.redis.append(r)
        return r

    def close(self) -> None:
        for r in self.redis:
            r.stop()
        for c in self.clusters:
            c.thaw()
            c.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)
