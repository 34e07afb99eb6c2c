"""Alert rules and the Grafana dashboard (issue 21): the rules load and behave as their
unit tests say (promtool from Debian's prometheus package), and every govid_* metric the
rules and the dashboard name is one GovID's /metrics really exports: a renamed metric
would otherwise leave an alert that never fires."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from idp import migrate
from idp.main import create_app
from tests.conftest import make_settings, service_missing

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "deploy/prometheus/alerts.yml"
RULES_TEST = ROOT / "deploy/prometheus/alerts_test.yml"
DASHBOARD = ROOT / "deploy/grafana/govid-dashboard.json"
# Metrics from other exporters the rules rely on (docs/operations.md "Alerts"):
# Prometheus's own `up`, the blackbox exporter's probe_*.
EXTERNAL = {"up", "probe_success", "probe_ssl_earliest_cert_expiry"}
SUFFIXES = ("_total", "_bucket", "_sum", "_count", "_created")


def _promtool() -> str:
    tool = shutil.which("promtool")
    if tool is None and shutil.which("apt-get") and os.geteuid() == 0:
        from tests.interop.apache import _apt_install  # the project installs what it needs

        _apt_install(["prometheus"])
        tool = shutil.which("promtool")
    if tool is None:
        service_missing("promtool not installed (apt-get install prometheus, Debian)")
    return tool


def test_promtool_checks_the_rules():
    r = subprocess.run(
        [_promtool(), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert r.returncode == 0, r.stdout + r.stderr


def test_promtool_rule_unit_tests():
    r = subprocess.run(
        [_promtool(), "test", "rules", RULES_TEST.name],
        cwd=RULES_TEST.parent,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert r.returncode == 0 and "SUCCESS" in r.stdout, r.stdout + r.stderr


def _rules() -> list[dict]:
    doc = yaml.safe_load(RULES.read_text())
    return [rule for group in doc["groups"] for rule in group["rules"]]


def _dashboard_exprs() -> list[str]:
    doc = json.loads(DASHBOARD.read_text())
    return [t["expr"] for p in doc["panels"] for t in p.get("targets", [])]


@pytest.fixture(scope="module")
def scrape(tmp_path_factory) -> str:
    """A real GovID's /metrics after some traffic."""
    url = f"sqlite:///{tmp_path_factory.mktemp('m') / 'metrics.db'}"
    migrate.upgrade(url)
    settings = make_settings(url, metrics_token="t" * 32)
    with TestClient(create_app(settings, start_workers=False)) as http:
        http.get("/.well-known/openid-configuration")
        http.get("/jwks")  # makes the signing keys
        http.post("/token", data={"grant_type": "client_credentials"})
        r = http.get("/metrics", headers={"Authorization": "Bearer " + "t" * 32})
    assert r.status_code == 200
    return r.text


@pytest.fixture(scope="module")
def exported(scrape) -> set[str]:
    """Every metric name exported."""
    names = set()
    for family in text_string_to_metric_families(scrape):
        names.add(family.name)
        names.update(s.name for s in family.samples)
    return names


def _metric_names(exprs: list[str]) -> set[str]:
    return {m for e in exprs for m in re.findall(r"\b(govid_[a-z0-9_]+)\b", e)}


def _exists(name: str, exported: set[str]) -> bool:
    if name in exported:
        return True
    return any(name.endswith(s) and name.removesuffix(s) in exported for s in SUFFIXES)


def test_every_metric_the_rules_name_is_exported(exported):
    exprs = [r["expr"] for r in _rules()]
    names = _metric_names(exprs)
    assert {"govid_http_requests_total", "govid_outbox_rows"} <= names
    missing = sorted(n for n in names if not _exists(n, exported))
    assert not missing, f"named in alerts.yml, not in /metrics: {missing}"
    for e in exprs:  # anything else is from a documented exporter
        for word in re.findall(r"\b(probe_[a-z_]+|up)\{", e):
            assert word in EXTERNAL, word


def test_every_metric_the_dashboard_names_is_exported(exported):
    exprs = _dashboard_exprs()
    missing = sorted(n for n in _metric_names(exprs) if not _exists(n, exported))
    assert not missing, f"named in the dashboard, not in /metrics: {missing}"
    recorded = {r["record"] for r in _rules() if "record" in r}
    used = {m for e in exprs for m in re.findall(r"\b(govid:[a-z0-9_:]+)", e)}
    assert used <= recorded, used - recorded


def test_alerts_cover_the_issue():
    """Availability, error rate, sign-in latency, outbox backlog, certificate and key expiry."""
    alerts = {r["alert"]: r for r in _rules() if "alert" in r}
    for name in (
        "GovIDAllInstancesDown",
        "GovIDErrorBudgetFastBurn",
        "GovIDSignInSlow",
        "GovIDOutboxBacklog",
        "GovIDTLSCertificateExpiresSoon",
        "GovIDSigningKeyRotationOverdue",
    ):
        assert name in alerts
        assert alerts[name]["labels"]["severity"] in ("page", "ticket")
        assert alerts[name]["annotations"]["summary"]


def test_signing_key_metrics(scrape):
    """What the key alerts read: keys per algorithm and state, when the active one began."""
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(scrape)
        for s in f.samples
    }
    for alg in ("RS256", "ES256"):
        assert samples[("govid_signing_keys", (("alg", alg), ("state", "active")))] == 1
        assert samples[("govid_signing_keys", (("alg", alg), ("state", "next")))] == 1
        since = samples[("govid_signing_key_active_since_timestamp_seconds", (("alg", alg),))]
        assert abs(time.time() - since) < 3600
    # No pending directory change: no oldest one either.
    assert not [k for k in samples if k[0] == "govid_outbox_oldest_pending_timestamp_seconds"]
