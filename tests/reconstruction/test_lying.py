"""A fallen bottle modelled round about the axis it lies along, from the points one view sees of it."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from physworld_core.skills.upright.perception import standing_axis
from physworld_core.skills.upright.reconstruction import lying_body_model, radius_profile, revolved

UP = np.array([0.0, 0.0, 1.0])


def seen_half(profile, yaw: float, camera_dir: np.ndarray, rng, count: int = 4000) -> np.ndarray:
    """World points on the half of a lying body (``profile(s)`` -> radius, s along its axis from the base at
    s = 0) that faces a camera looking along ``camera_dir``, the body resting on the table z = 0."""
    length = 0.16
    body = max(profile(s) for s in np.linspace(0, length, 200))
    s = rng.uniform(0, length, count)
    theta = rng.uniform(0, 2 * np.pi, count)
    r = np.array([profile(v) for v in s])
    axis = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    side = np.array([-axis[1], axis[0], 0.0])
    normal = np.outer(np.cos(theta), side) + np.outer(np.sin(theta), UP)
    points = np.outer(s - length / 2, axis) + r[:, None] * normal + [0.02, -0.1, body]
    facing = normal @ camera_dir < -0.05
    return points[facing]


def bottle_profile(s: float) -> float:
    return 0.03 if s < 0.11 else 0.03 - 0.018 * min(1.0, (s - 0.11) / 0.02)  # body, shoulder, 12 mm neck


@pytest.mark.parametrize("camera_dir", [(1.0, 0.0, -1.0), (0.0, 1.0, -1.0), (0.6, 0.6, -0.5)])
def test_a_lying_bottle_gets_its_length_girth_and_neck_from_any_side(camera_dir):
    rng = np.random.default_rng(3)
    camera_dir = np.asarray(camera_dir) / np.linalg.norm(camera_dir)
    points = seen_half(bottle_profile, 0.4, camera_dir, rng)
    standing = standing_axis(points, UP, 0.0)
    v, f, pose = lying_body_model(points, standing, 0.0)
    world = v @ pose[:3, :3].T + pose[:3, 3]
    assert trimesh.Trimesh(v, f).is_watertight
    assert np.ptp(v[:, 0]) == pytest.approx(0.16, abs=0.008)
    assert world[:, 2].min() == pytest.approx(0.0, abs=0.003)  # resting on the table
    assert np.ptp(v[:, 1]) == pytest.approx(0.06, abs=0.004) and np.ptp(v[:, 2]) == pytest.approx(
        0.06, abs=0.004
    )
    along, radii = radius_profile(points, standing)
    assert radii[along < 0.09].mean() == pytest.approx(0.03, abs=0.002)
    assert radii[along > 0.14].mean() == pytest.approx(0.012, abs=0.003)  # the neck, narrower
    # x runs from the base to the top, so the twin is told which end to stand on.
    assert (pose[:3, :3][:, 0] @ [np.cos(0.4), np.sin(0.4), 0.0]) > 0.99


def test_a_lying_box_is_not_round_and_gets_no_model():
    """A box lying on its face (8 cm wide, 4 cm tall): its side edges stand twice as far off the axis as its
    top does, so revolving its top would make it a thin rod."""
    rng = np.random.default_rng(0)
    count = 4000
    s = rng.uniform(-0.08, 0.08, count)
    face = rng.integers(0, 3, count)
    across = np.where(face == 0, rng.uniform(-0.04, 0.04, count), np.where(face == 1, -0.04, 0.04))
    height = np.where(face == 0, 0.04, rng.uniform(0.0, 0.04, count))
    points = np.stack([s, across, height], axis=1)
    standing = standing_axis(points, UP, 0.0)
    assert radius_profile(points, standing) is None
    assert lying_body_model(points, standing, 0.0) is None


def test_the_revolved_mesh_is_closed_with_the_volume_of_its_profile():
    along = np.linspace(0.0, 0.1, 26)
    v, f = revolved(along, np.full(26, 0.02), sections=48)
    mesh = trimesh.Trimesh(v, f)
    assert mesh.is_watertight and mesh.is_winding_consistent
    assert mesh.volume == pytest.approx(np.pi * 0.02**2 * 0.1, rel=0.01)
