"""Completion backends: an image-to-3D model's mesh, in its own scale, up axis and turn, fitted to what the
depth frame saw; a mesh that does not fit, or none, falls back to the half turn and says so."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from physworld_core.reconstruction.completion import CompletionRequest, load
from tests.reconstruction.wedge_scene import (
    CAMERA,
    chamfer_to_wedge,
    motion,
    render,
    seen_points,
    wedge_vertices,
)


@pytest.fixture(scope="module")
def wedge_seen():
    rgb, depth = render(motion(0.0))
    return seen_points(depth, rgb[:, :, 1] < 100)


def _request(seen, name="target") -> CompletionRequest:
    return CompletionRequest("wedge-0001", name, seen, CAMERA.extrinsic[:3, 3], 0.0)


def _save(mesh: trimesh.Trimesh, folder, name: str = "target.obj"):
    (folder / "wedge-0001").mkdir(parents=True, exist_ok=True)
    mesh.export(folder / "wedge-0001" / name)


def test_an_image_to_3d_mesh_in_its_own_frame_is_fitted_to_the_seen_points(tmp_path, wedge_seen):
    """The model's wedge is 7.5 times too big, y-up, turned 100° and off-centre, as such models export."""
    wedge = trimesh.convex.convex_hull(wedge_vertices())
    wedge.apply_scale(7.5)
    wedge.apply_transform(trimesh.transformations.rotation_matrix(np.radians(100), [0, 0, 1]))
    wedge.apply_transform(trimesh.transformations.rotation_matrix(-np.pi / 2, [1, 0, 0]))  # z up → y up
    wedge.apply_translation([0.3, -0.2, 0.1])
    _save(wedge, tmp_path)
    result = load("mesh_files", directory=str(tmp_path)).complete(_request(wedge_seen))
    assert result.source.startswith("mesh file target.obj"), result.source
    fitted = chamfer_to_wedge(result.mesh.vertices + result.mesh.pose[:3, 3], result.mesh.faces)
    half_turn = load("half_turn").complete(_request(wedge_seen))
    assert half_turn.is_half_turn and not result.is_half_turn
    mirrored = chamfer_to_wedge(half_turn.mesh.vertices + half_turn.mesh.pose[:3, 3], half_turn.mesh.faces)
    assert fitted < 1.5 and mirrored > 4.0, (fitted, mirrored)
    assert trimesh.Trimesh(result.mesh.vertices, result.mesh.faces).is_watertight


def test_a_mesh_of_something_else_or_none_falls_back_to_the_half_turn(tmp_path, wedge_seen):
    _save(trimesh.creation.cylinder(radius=1.0, height=0.2), tmp_path)  # a flat disc, y-up: not this object
    backend = load("mesh_files", directory=str(tmp_path))
    result = backend.complete(_request(wedge_seen))
    assert result.is_half_turn and "target.obj rejected" in result.source and "mm from it" in result.source
    missing = backend.complete(_request(wedge_seen, name="obstacle_0"))
    assert missing.source == "half turn (no mesh file)"


def test_mesh_files_settings_are_checked(tmp_path):
    with pytest.raises(ValueError, match="needs directory"):
        load("mesh_files")
    with pytest.raises(ValueError, match="does not exist"):
        load("mesh_files", directory=str(tmp_path / "absent"))
    with pytest.raises(ValueError, match="up_axis"):
        load("mesh_files", directory=str(tmp_path), up_axis="x")
    with pytest.raises(ValueError, match="unknown completion backend"):
        load("tripo")
