"""The helpers every world family shares: layout tests, mesh builders, oracle geometry."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from physworld_core.robot import PANDA
from physworld_core.world.layout import (
    ROBOT_BASE_XY,
    discs_apart,
    pack_balls,
    phrase,
    points_in_workspace,
    rectangle_corners,
    rejection_sample,
    sample_in_workspace,
    segment_distance,
    separated,
    to_local_xy,
    to_world_xy,
    within_reach,
)
from physworld_core.world.registry import family_names
from physworld_core.world.scripted import rz, wrap_angle, wrap_half_turn
from physworld_core.world.shapes import blob_hull, cylinder_rim_points, open_cylinder_profile, prism


def test_helper_modules_are_not_families():
    assert set(family_names()).isdisjoint({"layout", "base", "scripted", "shapes", "palette", "registry"})


def test_workspace_and_separation_tests():
    assert points_in_workspace([[-0.15, -0.25], [0.17, 0.25]])
    assert not points_in_workspace([0.0, 0.2], margin=0.06)
    assert points_in_workspace(rectangle_corners(0.05, 0.02, (0.0, 0.0), np.pi / 4))
    assert not points_in_workspace(rectangle_corners(0.05, 0.02, (0.16, 0.0), 0.0))
    assert discs_apart((0, 0), 0.1, (0.3, 0), 0.1, 0.05) and not discs_apart((0, 0), 0.1, (0.2, 0), 0.1, 0.01)
    assert separated([((0, 0), 0.05), ((0.2, 0), 0.05), ((0, 0.2), 0.05)], 0.05)
    assert not separated([((0, 0), 0.05), ((0.2, 0), 0.05), ((0.05, 0.05), 0.05)], 0.0)
    rng = np.random.default_rng(0)
    assert all(points_in_workspace(sample_in_workspace(rng, 0.04), 0.04) for _ in range(100))


def test_frames_distances_and_reach():
    points = np.array([[0.1, 0.0], [0.0, 0.2]])
    assert np.allclose(to_local_xy(to_world_xy(points, (0.3, -0.1), 0.7), (0.3, -0.1), 0.7), points)
    assert np.isclose(segment_distance((0.5, 1.0), (0, 0), (1, 0)), 1.0)
    assert np.isclose(segment_distance((2.0, 0.0), (0, 0), (1, 0)), 1.0)
    assert np.allclose(ROBOT_BASE_XY, PANDA.base_xyz[:2])
    assert within_reach(ROBOT_BASE_XY + [0.5, 0.0], 0.6) and not within_reach((0.17, 0.25), 0.7)


def test_rejection_sample_returns_the_first_accepted_or_says_why_not():
    draws = iter([None, None, 7, 8])
    assert rejection_sample(lambda: next(draws), 5, "unused") == 7
    with pytest.raises(RuntimeError, match="could not place"):
        rejection_sample(lambda: None, 3, "x world seed 1: could not place objects")


def test_phrase_uses_the_layouts_phrasing_or_the_asked_one():
    class Layout:
        phrasing = 1

    templates = ("put the {obj} away", "stow the {obj}")
    assert phrase(templates, Layout(), obj="red can") == "stow the red can"
    assert phrase(templates, Layout(), 2, obj="red can") == "put the red can away"


def test_pack_balls_rest_on_the_floor_without_overlap():
    centres = np.asarray(pack_balls(7, 0.009, 0.03, 0.006, np.random.default_rng(1)))
    assert len(centres) == 7 and np.allclose(centres[:, 2], 0.015)
    gaps = np.linalg.norm(centres[:, None] - centres[None], axis=-1) + np.eye(7)
    assert gaps.min() >= 0.018 and np.hypot(centres[:, 0], centres[:, 1]).max() + 0.009 <= 0.03
    assert pack_balls(12, 0.01, 0.025, 0.006, np.random.default_rng(1)) is None


def test_mesh_helpers():
    bevelled = open_cylinder_profile(0.03, 0.035, 0.006, 0.08, bevel=0.002)
    assert bevelled.shape == (7, 2) and np.allclose(bevelled[1:3], [[0.033, 0.0], [0.035, 0.002]])
    assert open_cylinder_profile(0.03, 0.035, 0.006, 0.08).shape == (6, 2)
    wedge = prism(np.array([[0.0, 0.0], [0.02, 0.0], [0.0, 0.01]]), -0.05, 0.05)
    assert wedge.is_convex and np.isclose(wedge.volume, 0.5 * 0.02 * 0.01 * 0.1)
    blob = blob_hull([((0, 0, 0.01), (0.03, 0.02, 0.02))])
    assert isinstance(blob, trimesh.Trimesh) and blob.is_convex and blob.bounds[0][2] == 0.0
    rims = cylinder_rim_points(0.02, -0.01, 0.01, 16)
    assert rims.shape == (32, 3) and np.allclose(np.hypot(rims[:, 0], rims[:, 1]), 0.02)


def test_angle_helpers():
    assert np.allclose(rz(np.pi / 2) @ [1, 0, 0], [0, 1, 0])
    assert np.isclose(wrap_angle(3 * np.pi / 2), -np.pi / 2)
    assert np.isclose(wrap_half_turn(np.pi * 0.75), -np.pi / 4)


def test_an_actor_whose_collision_file_was_dropped_fails_loudly():
    from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
    from physworld_core.world.shapes import build_actor

    env = make_world_env(BenchmarkTask("stack", 0), control_mode="pd_ee_delta_pose")
    try:
        builder = env.unwrapped.scene.create_actor_builder()
        builder.add_convex_collision_from_file("/nonexistent/hull.obj")
        with pytest.raises(RuntimeError, match="collision shapes"):
            build_actor(builder, "broken")
    finally:
        env.close()
