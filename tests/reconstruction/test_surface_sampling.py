"""``sample_surface``: one copy for tracking's model points and the fidelity metrics, the stricter of the two
there were (float64 whatever the mesh's dtype; a mesh without a finite area refused in words)."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.evaluation import fidelity
from physworld_core.reconstruction.tracking import sample_surface

# Two triangles in the z = 0 plane, side by side: areas 0.5 and 1.0.
VERTICES = np.array([[0.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [3.0, 0.0, 0.0], [1.0, 1.0, 0.0]])
FACES = np.array([[0, 1, 2], [1, 3, 4]])


def test_one_copy():
    assert fidelity.sample_surface is sample_surface


def test_points_fall_on_the_triangles_in_proportion_to_their_area():
    points = sample_surface(VERTICES, FACES, 4000, np.random.default_rng(0))
    assert points.shape == (4000, 3) and np.all(points[:, 2] == 0.0)
    x, y = points[:, 0], points[:, 1]
    in_first = (x >= 0) & (y >= 0) & (x + y <= 1.0 + 1e-12)
    in_second = (x >= 1.0 - 1e-12) & (y >= 0) & (x + 2 * y <= 3.0 + 1e-12)
    assert np.all(in_first | in_second)
    assert abs(in_first.mean() - 1 / 3) < 0.03


def test_a_float32_mesh_is_sampled_in_float64():
    vertices32 = (0.37 * VERTICES + 0.011).astype(np.float32)
    as64 = sample_surface(vertices32.astype(np.float64), FACES, 50, np.random.default_rng(1))
    as32 = sample_surface(vertices32, FACES, 50, np.random.default_rng(1))
    assert as32.dtype == np.float64
    np.testing.assert_array_equal(as32, as64)


@pytest.mark.parametrize(
    "vertices",
    [
        np.zeros((5, 3)),  # every triangle collapsed to a point
        np.where(np.arange(15).reshape(5, 3) == 4, np.nan, VERTICES),  # a vertex lost
    ],
)
def test_a_mesh_without_a_finite_area_is_refused(vertices):
    with pytest.raises(ValueError, match="cannot sample a surface of area .* no \\(finite\\) area"):
        sample_surface(vertices, FACES, 10, np.random.default_rng(0))
