"""Collision hulls the simulator can cook: a hull that crashes PhysX is made safe by the twin builder."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import trimesh

from physworld_core.twin.build import HULL_GRID_M, _cookable

CRASHING_HULL = Path(__file__).parent / "data" / "physx_crash_hull.ply"
"""A reconstructed obstacle's hull (bin-0001) on which PhysX's convex cooking segfaults."""

_BUILD = """
import sys, sapien
scene = sapien.Scene()
builder = scene.create_actor_builder()
builder.add_convex_collision_from_file(sys.argv[1], density=500)
builder.build(name="part")
print("cooked")
"""


def _cooks(path: Path) -> bool:
    """Build the part in a child process: a crash there is a failed test, not a dead test run."""
    done = subprocess.run(
        [sys.executable, "-c", _BUILD, str(path)], check=False, capture_output=True, text=True, timeout=120
    )
    return done.returncode == 0 and "cooked" in done.stdout


def test_the_builder_makes_a_crashing_hull_cookable(tmp_path):
    original = trimesh.load(CRASHING_HULL, force="mesh", process=False)
    vertices, faces = _cookable(np.asarray(original.vertices))
    safe = tmp_path / "safe.ply"
    trimesh.Trimesh(vertices, faces, process=False).export(safe)
    assert _cooks(safe)
    # the same shape, to within the grid
    assert np.abs(np.sort(vertices, axis=0)[[0, -1]] - np.asarray(original.bounds)).max() <= HULL_GRID_M
