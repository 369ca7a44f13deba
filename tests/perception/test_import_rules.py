"""video/ and perception/ must not see the hidden truth (physworld_core.world) nor depend on Dagster."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

import physworld_core

PACKAGE_ROOT = Path(physworld_core.__file__).resolve().parent
FORBIDDEN = ("dagster", "physworld_core.world")


def _imports(path: Path) -> list[str]:
    names = []
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
            names += [f"{node.module}.{alias.name}" for alias in node.names]
    return names


@pytest.mark.parametrize("package", ["perception", "video"])
def test_no_forbidden_imports_in_source(package):
    files = sorted((PACKAGE_ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            for forbidden in FORBIDDEN:
                assert not (name == forbidden or name.startswith(forbidden + ".")), f"{path}: imports {name}"


def test_importing_video_does_not_load_world_or_dagster():
    code = (
        "import sys, physworld_core.video.backends, physworld_core.video.checks, physworld_core.perception.perceive;"
        "bad = [m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', 'physworld_core.world'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
