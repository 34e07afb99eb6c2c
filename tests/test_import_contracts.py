"""The layers hold (issue 18, docs/architecture.md): import-linter's contracts in
``.importlinter`` are kept, and every module of ``idp`` sits in a layer. A new import from
the domain into an HTTP surface, between two surfaces, from shared plumbing into a surface,
from the foundation into the domain, or between the console and GovID fails here."""

from __future__ import annotations

import configparser
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_are_kept():
    lint = Path(sys.executable).with_name("lint-imports")
    assert lint.exists(), "import-linter is a test dependency (pip install -e '.[test]')"
    run = subprocess.run(
        [str(lint), "--config", str(ROOT / ".importlinter"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]


def _layers() -> list[str]:
    config = configparser.ConfigParser()
    config.read(ROOT / ".importlinter", encoding="utf-8")
    return config["importlinter:contract:layers"]["layers"].strip().splitlines()


def test_every_module_sits_in_a_layer():
    """A new top-level module or package of idp/ must be placed in the layers (else
    import-linter does not look at what it imports, nor at who imports it)."""
    placed = set(re.findall(r"idp(?:\.\w+)+", " ".join(_layers())))
    present = {f"idp.{p.stem}" for p in (ROOT / "idp").glob("*.py") if p.stem != "__init__"}
    present |= {f"idp.{p.parent.name}" for p in (ROOT / "idp").glob("*/__init__.py")}
    assert present - placed == set(), "add these to the layers in .importlinter"


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("idp/agencies/service.py", "idp.web.render"),  # the domain importing the pages
        ("idp/audit/service.py", "idp.keys.service"),  # the audit write path above keys again
        ("idp/keys/service.py", "idp.auditing.verify"),  # a domain package reading the trail
        ("idp/admin/routes_summary.py", "idp.web.render"),  # one surface importing another
        ("idp/admin/routes_summary.py", "idp.oidc.claims"),  # the admin API into the provider
        ("idp/oidc/discovery.py", "idp.admin.problems"),  # the provider into the admin API
        ("idp/oidc/discovery.py", "idp.web.render"),  # the provider rendering a page
        ("idp/web/help_pages.py", "idp.oidc.routes.authorize"),  # a page past idp.oidc's API
        ("idp/outage.py", "idp.admin.problems"),  # plumbing of every surface into one
        ("idp/authz/caller.py", "idp.admin.deps"),  # a domain package into its surface
        ("idp/paging.py", "idp.accounts.models"),  # the foundation into the domain
        ("admin_ui/api.py", "idp.errors"),  # the console into GovID
    ],
)
def test_a_crossing_is_caught(tmp_path, module, imported):
    """The check can fail: the same contracts over a copy with one new crossing are
    broken."""
    import shutil

    shutil.copytree(ROOT / "idp", tmp_path / "idp", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copytree(
        ROOT / "admin_ui", tmp_path / "admin_ui", ignore=shutil.ignore_patterns("__pycache__")
    )
    shutil.copy(ROOT / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\nimport {imported}  # noqa\n")
    run = subprocess.run(
        [str(Path(sys.executable).with_name("lint-imports")), "--no-cache"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
    )
    assert run.returncode != 0
    source = module.removesuffix(".py").replace("/", ".")
    assert f"{source} -> {imported}" in run.stdout
