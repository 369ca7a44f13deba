"""The support plane through open3d's RANSAC (physworld_core.perception.open3d_geometry): as accurate as the
hand-written fit it replaced, gated to level planes, the same plane on every run, and open3d imported only
when a plane is fitted."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from physworld_core.errors import SceneError
from physworld_core.perception.open3d_geometry import ransac_plane
from physworld_core.perception.plane import fit_plane


def _plane_points(normal, offset, count, rng, noise=0.002, extent=0.4):
    """``count`` points on ``{p : normal · p = offset}`` over a square of half-side ``extent``, with noise."""
    normal = np.asarray(normal, dtype=np.float64) / np.linalg.norm(normal)
    e1 = np.cross(normal, [0.0, 1.0, 0.0] if abs(normal[1]) < 0.9 else [1.0, 0.0, 0.0])
    e1 /= np.linalg.norm(e1)
    e2 = np.cross(normal, e1)
    uv = rng.uniform(-extent, extent, size=(count, 2))
    return offset * normal + uv[:, :1] * e1 + uv[:, 1:] * e2 + rng.normal(0, noise, (count, 1)) * normal


def test_a_tilted_table_under_a_larger_wall_is_found_to_a_tenth_of_a_degree():
    """The wall holds more points than the table, so open3d's largest plane is the wall: it must be set
    aside and the table found, as the hand-written gate did."""
    rng = np.random.default_rng(5)
    tilt = np.deg2rad(6.0)
    normal = np.array([0.0, np.sin(tilt), np.cos(tilt)])
    table = _plane_points(normal, 0.42, 5000, rng)
    wall = _plane_points([1.0, 0.0, 0.05], 0.3, 9000, rng)
    clutter = rng.uniform([-0.3, -0.3, 0.45], [0.3, 0.3, 0.7], size=(2000, 3))
    plane = fit_plane(np.concatenate([wall, table, clutter]), seed=2)
    angle = np.degrees(np.arccos(np.clip(plane.normal_array @ normal, -1, 1)))
    assert angle < 0.1
    assert abs(plane.offset - 0.42) < 1e-3
    assert 0.001 < plane.rms < 0.003


def test_the_same_points_give_the_same_plane_to_the_bit():
    """open3d's own early stop races its threads; the batched search must not."""
    rng = np.random.default_rng(8)
    points = np.concatenate(
        [_plane_points([0.02, -0.01, 1.0], 0.1, 15000, rng), rng.uniform(-0.4, 0.4, size=(6000, 3))]
    )
    first = ransac_plane(points, 0.005, 256, 30.0, seed=0)
    for _ in range(5):
        again = ransac_plane(points, 0.005, 256, 30.0, seed=0)
        assert np.array_equal(first[0], again[0]) and first[1] == again[1]
    plane = fit_plane(points, seed=0)
    assert all(fit_plane(points, seed=0) == plane for _ in range(3))


def test_only_steep_planes_is_no_plane():
    rng = np.random.default_rng(1)
    walls = np.concatenate(
        [_plane_points([1.0, 0.0, 0.2], 0.3, 4000, rng), _plane_points([0, 1.0, 0], 0.2, 3000, rng)]
    )
    assert ransac_plane(walls, 0.005, 256, 30.0, seed=0) is None
    with pytest.raises(SceneError, match="no support plane"):
        fit_plane(walls)


def test_open3d_is_imported_only_when_a_plane_is_fitted():
    code = (
        "import sys\n"
        "import physworld_core.perception.plane as plane, physworld_core.perception.segment\n"
        "assert 'open3d' not in sys.modules, 'imported with the perception modules'\n"
        "import numpy as np\n"
        "rng = np.random.default_rng(0)\n"
        "plane.fit_plane(np.c_[rng.uniform(-1, 1, (500, 2)), np.zeros(500)])\n"
        "assert 'open3d' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
