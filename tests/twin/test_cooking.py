"""Collision hulls the simulator can cook: a hull that crashes PhysX is made safe by the twin builder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import trimesh

from physworld_core.twin.cooking import cook_in_child, ensure_cookable

CRASHING_HULL = Path(__file__).parent / "data" / "physx_crash_hull.ply"
"""A reconstructed obstacle's hull (bin-0001) on which PhysX's convex cooking segfaults."""


def test_bin_0001_a_reconstructed_hull_that_crashed_the_cooker_is_made_cookable(tmp_path):
    files = {"obstacle_collision_0.ply": CRASHING_HULL.read_bytes()}
    safe = ensure_cookable(files)["obstacle_collision_0.ply"]
    out = tmp_path / "obstacle_collision_0.ply"
    out.write_bytes(safe)
    assert cook_in_child([CRASHING_HULL]) == 0  # the child dies on the original
    assert cook_in_child([out]) == 1


def test_lid_0063_a_part_that_crashes_the_cooker_is_nudged_until_it_cooks(tmp_path):
    knob = Path(__file__).parent / "data" / "physx_crash_knob.ply"  # lid-0063's knob
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


def test_upright_0005_a_hull_that_cooks_to_no_shape_is_nudged_until_it_has_one(tmp_path):
    """upright-0005's small cylinder: PhysX's hull gives up on it without crashing ("findSimplex: … points
    appear to be almost at the same place") and the body would have no collision shape at all."""
    empty = Path(__file__).parent / "data" / "physx_empty_hull.ply"
    assert cook_in_child([empty]) == 0
    safe = ensure_cookable({"obstacle_0_collision_0.ply": empty.read_bytes()})["obstacle_0_collision_0.ply"]
    out = tmp_path / "obstacle_0_collision_0.ply"
    out.write_bytes(safe)
    assert cook_in_child([out]) == 1
