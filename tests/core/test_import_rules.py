"""Truth flows one way and the core stays pure.

The pipeline packages must never import the hidden truth (``physworld_core.world``); nothing in
``physworld_core`` may import Dagster.
"""

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


PIPELINE_PACKAGES = ["perception", "video", "reconstruction", "twin", "policy", "sim", "lake"]


def test_core_never_imports_dagster():
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        for name in _imports(path):
            assert not (name == "dagster" or name.startswith("dagster.")), f"{path}: imports {name}"


@pytest.mark.parametrize("package", PIPELINE_PACKAGES)
def test_no_forbidden_imports_in_source(package):
    files = sorted((PACKAGE_ROOT / package).rglob("*.py"))
    assert files
    for path in files:
        for name in _imports(path):
            for forbidden in FORBIDDEN:
                assert not (name == forbidden or name.startswith(forbidden + ".")), f"{path}: imports {name}"


def test_importing_video_does_not_load_world_or_dagster():
    code = (
        "import sys, physworld_core.video.backends, physworld_core.video.checks, physworld_core.perception.perceive,"
        " physworld_core.reconstruction.stage, physworld_core.twin.stage, physworld_core.policy.stage;"
        "bad = [m for m in sys.modules if m == 'dagster' or m.startswith(('dagster.', 'physworld_core.world'))];"
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
