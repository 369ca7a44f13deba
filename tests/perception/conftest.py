"""Fixtures for perception tests: synthetic RGB-D scenes rendered by ``synthetic_scenes.py``."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def load_synthetic_scenes():
    """Import the shared scene renderer by path, so tests/video can use the same module object."""
    name = "physworld_test_synthetic_scenes"
    if name not in sys.modules:
        path = Path(__file__).resolve().parent / "synthetic_scenes.py"
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="session")
def synth():
    return load_synthetic_scenes()


@pytest.fixture(scope="session")
def default_scene(synth):
    """Red can (right), blue box (middle), grey bin (left) on a table 13.7 cm above the world origin."""
    return synth.default_scene()
