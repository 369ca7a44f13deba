"""Fixtures for video tests: one generated video of the shared synthetic scene."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def generated(default_scene):
    from physworld_core.video.procedural import ProceduralVideoConfig, generate

    return generate(default_scene.scene, ProceduralVideoConfig())
