"""`npm ci` of a test's Node.js packages, once per change of its lock file: the project
installs what its tests need (CI runs on a clean clone), from the npm registry."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from tests.conftest import service_missing

ROOT = Path(__file__).resolve().parents[1]


def npm_ci(directory: Path) -> None:
    """Install ``directory``'s packages from its package-lock.json unless the installed
    tree (``node_modules/.package-lock.json``, written last by npm) is newer than it."""
    lock = directory / "package-lock.json"
    installed = directory / "node_modules" / ".package-lock.json"
    if installed.exists() and installed.stat().st_mtime >= lock.stat().st_mtime:
        return
    where = directory.relative_to(ROOT)
    npm = shutil.which("npm")
    if npm is None:
        service_missing(f"npm is not on PATH; cannot install {where} (npm ci)")
    r = subprocess.run(
        [npm, "ci", "--prefix", str(directory), "--no-audit", "--no-fund"],
        capture_output=True,
        text=True,
        timeout=600,
    )
    if r.returncode != 0:
        service_missing(f"npm ci --prefix {where} failed:\n{r.stderr[-2000:]}")
    installed.touch()
