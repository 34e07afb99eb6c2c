"""The layers hold (issue 18, docs/architecture.md): import-linter's contracts in
``.importlinter`` are kept. A new import from the domain into an HTTP surface, between two
surfaces, or from the console into GovID's storage fails here."""

from __future__ import annotations

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


@pytest.mark.parametrize(
    ("module", "imported"),
    [
        ("agencies/service.py", "idp.web.render"),  # the domain importing the people's pages
        ("audit/service.py", "idp.keys.service"),  # the audit write path above keys again
        ("keys/service.py", "idp.auditing.verify"),  # a domain package reading the trail
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
    target = tmp_path / "idp" / module
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
    source = "idp." + module.removesuffix(".py").replace("/", ".")
    assert f"{source} -> {imported}" in run.stdout
