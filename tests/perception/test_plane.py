from __future__ import annotations

import numpy as np
import pytest

from physworld_core.errors import SceneError
from physworld_core.perception.plane import Plane, fit_plane, fit_support_plane


def test_fit_recovers_table_height_to_a_millimetre(default_scene):
    plane = fit_support_plane(default_scene.scene)
    assert abs(plane.offset - default_scene.table_height) < 1e-3
    assert plane.normal[2] > np.cos(np.deg2rad(0.5))
    assert plane.rms < 1e-3
    assert plane.inlier_fraction > 0.6


def test_fit_with_noise_tilt_and_outliers():
    rng = np.random.default_rng(3)
    tilt = np.deg2rad(4.0)
    normal = np.array([np.sin(tilt), 0.0, np.cos(tilt)])
    uv = rng.uniform(-0.4, 0.4, size=(6000, 2))
    e1 = np.cross([0.0, 1.0, 0.0], normal)
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    table = 0.31 * normal + uv[:, :1] * e1 + uv[:, 1:] * e2 + rng.normal(0, 0.002, (6000, 1)) * normal
    clutter = rng.uniform([-0.3, -0.3, 0.35], [0.3, 0.3, 0.6], size=(2500, 3))  # objects: 30% outliers
    plane = fit_plane(np.concatenate([table, clutter]), seed=1)
    angle = np.degrees(np.arccos(np.clip(plane.normal_array @ normal, -1, 1)))
    assert angle < 0.5
    assert abs(plane.offset - 0.31) < 2e-3
    assert 0.0015 < plane.rms < 0.003
    heights = plane.signed_height(np.array([0.31 * normal + 0.05 * normal, 0.31 * normal - 0.02 * normal]))
    np.testing.assert_allclose(heights, [0.05, -0.02], atol=2e-3)


def test_no_table_is_a_scene_error():
    cloud = np.random.default_rng(0).uniform(-1, 1, size=(5000, 3))
    with pytest.raises(SceneError, match="no support plane"):
        fit_plane(cloud)
    with pytest.raises(SceneError, match="valid depth points"):
        fit_plane(np.zeros((10, 3)))


def test_plane_validation():
    with pytest.raises(ValueError, match="unit"):
        Plane(normal=(0.0, 0.0, 2.0), offset=0.0, rms=0.0, inlier_fraction=1.0)
    with pytest.raises(ValueError, match="point up"):
        Plane(normal=(0.0, 0.0, -1.0), offset=0.0, rms=0.0, inlier_fraction=1.0)
    plane = Plane(normal=(0.0, 0.0, 1.0), offset=0.2, rms=0.0, inlier_fraction=1.0)
    coords = plane.to_plane_coords(np.array([[0.1, -0.2, 0.5]]))
    np.testing.assert_allclose(coords, [[0.1, -0.2, 0.3]])
    np.testing.assert_allclose(plane.from_plane_coords(coords), [[0.1, -0.2, 0.5]])
