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


def test_a_part_that_crashes_the_cooker_is_nudged_until_it_cooks(tmp_path):
    from physworld_core.twin.cooking import cook_in_child, ensure_cookable

    knob = Path(__file__).parent / "data" / "physx_crash_knob.ply"  # lid-0063's knob, already grid-snapped
    plain = trimesh.creation.box((0.05, 0.05, 0.05))
    plain_path = tmp_path / "box_collision_0.ply"
    plain.export(plain_path)
    assert cook_in_child([plain_path, knob]) == 1  # the child dies on the knob: this process does not
    files = {"knob_collision_0.ply": knob.read_bytes(), "box_collision_0.ply": plain_path.read_bytes()}
    safe = ensure_cookable(files)
    assert safe["box_collision_0.ply"] == files["box_collision_0.ply"]  # parts that cook are left alone
    assert safe["knob_collision_0.ply"] != files["knob_collision_0.ply"]
    out = tmp_path / "knob_collision_0.ply"
    out.write_bytes(safe["knob_collision_0.ply"])
    assert cook_in_child([out]) == 1
    original = trimesh.load(knob, force="mesh", process=False)
    again = trimesh.load(out, force="mesh", process=False)
    assert np.allclose(again.bounds, original.bounds, atol=1e-5)
