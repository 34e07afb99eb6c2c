"""The two-host reference (deploy/two-host/, issue 21), checked as far as a machine
without a Docker engine or the compose plugin allows: the compose files parse and every
service is a production one (restart, health check, limits, log rotation, host
networking); every ``IDP_*`` variable they set is a GovID setting (GovID ignores unknown
ones silently, so a typo would be a silent misconfiguration); every ``${VAR}`` they use
is in two-host.env.example; make-secrets.sh, run for real, writes every secret the files
name, and the URLs it writes are the ones GovID accepts (the libpq multi-host form with
read-write targeting; Redis through three Sentinels, quorum 2 of 3); the proxy balances
over exactly the GovID processes both hosts run and checks /readyz; the primary waits
for the replica under the name the replica streams with; every PostgreSQL setting named
exists; and the Sentinel configuration the containers write starts a real Sentinel."""

from __future__ import annotations

import glob
import os
import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.conftest import service_missing
from tests.waiting import listening, poll

REPO = Path(__file__).resolve().parents[2]
HERE = REPO / "deploy" / "two-host"
HOSTS = ("host-a.yaml", "host-b.yaml", "witness.yaml")
EXAMPLE = {
    k: v
    for k, v in (
        line.split("=", 1)
        for line in (HERE / "two-host.env.example").read_text().splitlines()
        if line and not line.startswith("#")
    )
}


def _load(name: str) -> dict:
    return yaml.safe_load((HERE / name).read_text())


def _resolved(name: str) -> dict[str, dict]:
    """The host file's services with `extends` applied (compose's merge: mappings such
    as `environment` merged, everything else replaced)."""
    out = {}
    for svc_name, svc in _load(name)["services"].items():
        svc = dict(svc)
        ext = svc.pop("extends", None)
        if ext:
            base = dict(_load(ext["file"])["services"][ext["service"]])
            for key, value in svc.items():
                if isinstance(value, dict) and isinstance(base.get(key), dict):
                    base[key] = {**base[key], **value}
                else:
                    base[key] = value
            svc = base
        out[svc_name] = svc
    return out


def _idp_services() -> dict[str, dict]:
    return {
        f"{h}:{n}": s
        for h in HOSTS
        for n, s in _resolved(h).items()
        if str(s.get("image", "")).startswith("${GOVID_IMAGE")
    }


def _sub(value: str, env: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)(?::-[^}]*)?\}", lambda m: env.get(m.group(1), ""), value)


def test_every_service_is_a_production_one():
    for host in HOSTS:
        services = _resolved(host)
        assert services, host
        for name, svc in services.items():
            where = f"{host}:{name}"
            assert svc.get("network_mode") == "host", where
            assert "restart" in svc, where
            assert svc.get("logging", {}).get("options", {}).get("max-size"), where
            hc = svc.get("healthcheck", {})
            if name == "migrate":
                assert svc["restart"] == "no" and hc.get("disable") is True
                assert svc["command"] == ["db", "upgrade"]
            else:
                assert hc.get("test"), where
            assert svc.get("deploy", {}).get("resources", {}).get("limits"), where
            for secret in svc.get("secrets", []):
                assert secret in _load(host)["secrets"], f"{where}: secret {secret} undefined"
    # Two GovID processes on each of the two hosts, one migration, on host A only.
    idp = _idp_services()
    serving = [k for k, s in idp.items() if s.get("command") == ["serve", "--with-worker"]]
    assert sorted(serving) == sorted(f"host-{h}.yaml:idp-{i}" for h in "ab" for i in (1, 2)), (
        serving
    )
    assert [k for k, s in idp.items() if s.get("command") == ["db", "upgrade"]] == [
        "host-a.yaml:migrate"
    ]
    # A Sentinel on each of three machines.
    assert all("sentinel" in _resolved(h) for h in HOSTS)


def test_every_idp_variable_is_a_govid_setting():
    from idp.config import SECRET_SETTINGS, Settings
    from idp.config.ldap import DirectorySettings

    fields = set(Settings.model_fields)
    ldap_fields = set(DirectorySettings.model_fields)
    for where, svc in _idp_services().items():
        for var in svc["environment"]:
            if var.startswith("IDP_LDAP_"):  # the mail directory's group (settings.ldap)
                name = var.removeprefix("IDP_LDAP_").lower()
                if name.endswith("_file"):
                    name = name.removesuffix("_file")
                    assert name == "bind_password", f"{where}: {var} is not a secret"
                assert name in ldap_fields, f"{where}: {var} is not a directory setting"
                continue
            if not var.startswith("IDP_"):
                continue
            name = var.removeprefix("IDP_").lower()
            if name.endswith("_file"):
                name = name.removesuffix("_file")
                assert name in SECRET_SETTINGS, f"{where}: {var} is not a secret setting"
            assert name in fields, f"{where}: {var} is not a GovID setting"
        for needed in ("IDP_HOST", "IDP_PORT", "IDP_DATABASE_URL_FILE", "IDP_REDIS_URL_FILE"):
            assert needed in svc["environment"], f"{where}: {needed}"


def test_every_variable_used_is_documented_in_the_example_and_none_is_stale():
    used = set()
    for path in [*glob.glob(str(HERE / "*.yaml")), str(HERE / "Caddyfile")]:
        text = Path(path).read_text()
        text = re.sub(r"\$\$\{?\w+", "", text)  # $$VAR: the container's shell, not compose
        used |= set(re.findall(r"\$\{(\w+)(?::-[^}]*)?\}", text))
        used |= set(re.findall(r"\{\$(\w+)", text))  # Caddy's {$VAR}
    assert used <= set(EXAMPLE) | {"GOVID_IMAGE"}, used - set(EXAMPLE)
    assert set(EXAMPLE) <= used | {"GOVID_IMAGE"}, set(EXAMPLE) - used


def test_the_proxy_balances_over_every_govid_process_and_checks_readyz():
    from idp.config import Settings

    caddy = (HERE / "Caddyfile").read_text()
    line = next(x for x in caddy.splitlines() if "reverse_proxy" in x)
    upstreams = set(line.split("reverse_proxy", 1)[1].strip().removesuffix("{").split())
    expected = set()
    for where, svc in _idp_services().items():
        if svc.get("command") != ["serve", "--with-worker"]:
            continue
        env = svc["environment"]
        host = "{$HOST_A_ADDR}" if where.startswith("host-a") else "{$HOST_B_ADDR}"
        assert env["IDP_HOST"] == host.replace("{$", "${")
        expected.add(f"{host}:{env['IDP_PORT']}")
        # Either host's proxy may forward to it: both addresses are trusted, and GovID
        # accepts the value.
        proxies = _sub(env["IDP_TRUSTED_PROXIES"], EXAMPLE)
        assert set(proxies.split(",")) == {EXAMPLE["HOST_A_ADDR"], EXAMPLE["HOST_B_ADDR"]}
        Settings(env="dev", trusted_proxies=proxies)
    assert upstreams == expected
    assert "health_uri /readyz" in caddy and "respond /metrics 404" in caddy
    assert "X-Request-ID" in caddy
    ports = {
        (w.split(":")[0], s["environment"]["IDP_PORT"], s["environment"].get("IDP_METRICS_PORT"))
        for w, s in _idp_services().items()
        if s.get("command") == ["serve", "--with-worker"]
    }
    for host in ("host-a.yaml", "host-b.yaml"):  # no two processes on one port of a host
        mine = [p for p in ports if p[0] == host]
        used = [p[1] for p in mine] + [p[2] for p in mine]
        assert len(used) == len(set(used)), host


@pytest.fixture
def secrets_dir(tmp_path):
    env = tmp_path / ".env"
    env.write_text((HERE / "two-host.env.example").read_text())
    out = tmp_path / "secrets"
    r = subprocess.run(
        ["sh", str(HERE / "make-secrets.sh"), str(out), str(env)], capture_output=True, text=True
    )
    assert r.returncode == 0, r.stderr
    return out


def test_make_secrets_writes_every_secret_and_urls_govid_accepts(secrets_dir):
    for host in HOSTS:
        for name, spec in _load(host)["secrets"].items():
            f = secrets_dir / Path(spec["file"]).name
            assert f.exists() and f.read_text(), f"{host}: {name}"
            assert f.stat().st_mode & 0o777 == 0o444
    # GovID's database: both hosts, libpq's way; the engine takes it as it is.
    from psycopg.conninfo import conninfo_to_dict

    from idp.db import make_engine

    url = (secrets_dir / "database_url").read_text()
    info = conninfo_to_dict(url)
    assert info["host"] == f"{EXAMPLE['HOST_A_ADDR']},{EXAMPLE['HOST_B_ADDR']}"
    assert info["port"] == "5432,5432" and info["target_session_attrs"] == "read-write"
    assert info["password"] == (secrets_dir / "postgres_password").read_text()
    engine = make_engine(url)
    try:
        assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()
    # Redis through the three Sentinels, as GovID's own client reads the URL (no
    # connection is made here).
    from idp.redis_client import make_client

    client = make_client((secrets_dir / "redis_url").read_text(), 0.5)
    pool = client.connection_pool
    assert pool.service_name == "govid"
    sentinels = {
        (s.connection_pool.connection_kwargs["host"], s.connection_pool.connection_kwargs["port"])
        for s in pool.sentinel_manager.sentinels
    }
    addrs = ("HOST_A_ADDR", "HOST_B_ADDR", "WITNESS_ADDR")
    assert sentinels == {(EXAMPLE[a], 26379) for a in addrs}
    # A second run changes nothing (a secret in use is never overwritten).
    before = {p.name: p.read_text() for p in secrets_dir.iterdir()}
    env = secrets_dir.parent / ".env"
    subprocess.run(["sh", str(HERE / "make-secrets.sh"), str(secrets_dir), str(env)], check=True)
    assert {p.name: p.read_text() for p in secrets_dir.iterdir()} == before


def _sentinel_script() -> str:
    return _resolved("host-a.yaml")["sentinel"]["entrypoint"][2]


def test_the_primary_waits_for_the_replica_by_the_name_it_streams_with():
    primary = " ".join(_resolved("host-a.yaml")["postgres"]["command"])
    assert "synchronous_standby_names=ANY 1 (govid_b)" in primary
    replica = (HERE / "postgres" / "replica-start.sh").read_text()
    assert "application_name=govid_b" in replica and "-S govid_b" in replica
    assert (
        "pg_create_physical_replication_slot('govid_b')"
        in (HERE / "postgres" / "primary-init.sh").read_text()
    )
    # After a promotion host B waits for host A rebuilt as `govid_a`.
    assert "ANY 1 (govid_a)" in replica
    for script in ("primary-init.sh", "replica-start.sh"):
        assert subprocess.run(["sh", "-n", str(HERE / "postgres" / script)]).returncode == 0
    assert subprocess.run(["sh", "-n", str(HERE / "make-secrets.sh")]).returncode == 0
    # Sentinel: the master it watches is host A's Redis, quorum 2 of the 3 Sentinels.
    assert "sentinel monitor govid ${HOST_A_ADDR} 6379 2" in _sentinel_script().replace("$${", "${")


def test_every_postgresql_setting_named_exists():
    binary = next(iter(sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"))), None)
    if binary is None:
        service_missing("PostgreSQL's server binary is not installed")
    described = subprocess.run(
        [binary, "--describe-config"],
        capture_output=True,
        text=True,
        user="postgres" if os.geteuid() == 0 else None,  # the server refuses root
    ).stdout
    known = {line.split("\t", 1)[0] for line in described.splitlines()}
    assert "synchronous_standby_names" in known
    primary = _resolved("host-a.yaml")["postgres"]["command"]
    names = [a.split("=", 1)[0] for a in primary if "=" in a and not a.startswith("-")]
    replica = (HERE / "postgres" / "replica-start.sh").read_text()
    names += re.findall(r"-c \"?(\w+)=", replica)
    assert len(names) >= 10
    assert set(names) <= known, set(names) - known


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_the_sentinel_configuration_starts_a_real_sentinel(tmp_path):
    server = shutil.which("redis-server")
    if server is None:
        service_missing("redis-server is not installed")
    import redis

    # The container's script, with this machine's loopback for every address and its
    # paths moved into the test's directory.
    script = (
        _sentinel_script()
        .replace("$$", "$")
        .replace("/run/secrets/redis_password", str(tmp_path / "pw"))
        .replace("/data/", f"{tmp_path}/")
        .replace("exec redis-server", f"exec {server}")
    )
    (tmp_path / "pw").write_text("s3ntinel-pass")
    port, master = _free_port(), _free_port()  # nothing listens on `master`: no failover
    script = script.replace("port 26379", f"port {port}").replace(" 6379 2", f" {master} 2")
    proc = subprocess.Popen(
        ["sh", "-c", script],
        env={"HOST_ADDR": "127.0.0.1", "HOST_A_ADDR": "127.0.0.1", "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port, password="s3ntinel-pass")
        up = listening(client.sentinel_masters, redis.ConnectionError)
        if not poll(lambda: proc.poll() is not None or up(), 15) or proc.poll() is not None:
            out = proc.stdout.read().decode() if proc.stdout else ""
            pytest.fail(f"the Sentinel did not start: {out[-2000:]}")
        masters = client.sentinel_masters()
        assert masters["govid"]["quorum"] == 2
        assert masters["govid"]["ip"] == "127.0.0.1" and masters["govid"]["port"] == master
        # Without the password nothing is answered.
        with pytest.raises(redis.AuthenticationError):
            redis.Redis(host="127.0.0.1", port=port).sentinel_masters()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
