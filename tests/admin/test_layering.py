"""Domain services of the admin API never import a web framework (DESIGN §2 rule 1)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ADMIN = Path(__file__).resolve().parents[2] / "idp" / "admin"
HTTP_MODULES = {"app.py", "deps.py", "problems.py", "cli.py", "routes.py"}
FORBIDDEN = ("fastapi", "starlette", "jinja2")


def service_modules():
    for path in sorted(ADMIN.rglob("*.py")):
        if (
            path.name in HTTP_MODULES
            or path.name.startswith("routes_")
            or path.name.startswith("schemas")
        ):
            continue
        yield path


@pytest.mark.parametrize("path", list(service_modules()), ids=lambda p: p.name)
def test_no_web_framework_in_services(path):
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        names = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names = [node.module]
        for name in names:
            assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def test_files_stay_small():
    for path in ADMIN.rglob("*.py"):
        assert len(path.read_text(encoding="utf-8").splitlines()) <= 400, path.name
