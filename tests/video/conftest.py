"""Fixtures for video tests: the synthetic scenes of tests/perception and one generated video."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest


def load_synthetic_scenes():
    """Import tests/perception/synthetic_scenes.py by path (the same module object perception tests use)."""
    name = "physworld_test_synthetic_scenes"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[1] / "perception" / "synthetic_scenes.py"
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
    return synth.default_scene()


@pytest.fixture(scope="session")
def generated(default_scene):
    from physworld_core.video.procedural import ProceduralVideoConfig, generate

    return generate(default_scene.scene, ProceduralVideoConfig())
