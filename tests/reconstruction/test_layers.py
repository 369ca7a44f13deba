"""Layered completion: a knob on a disc stays a convex part of its own; plain solids stay one hull."""

from __future__ import annotations

import numpy as np
import pytest
import trimesh

from physworld_core.reconstruction.geometry import complete_points, convex_mesh, object_mesh
from physworld_core.reconstruction.layers import LayerConfig, layer_cuts
from physworld_core.reconstruction.types import ReconstructedObject
from physworld_core.twin.build import _collision_parts

CAMERA = np.array([0.45, 0.0, 0.6])
CENTRE = np.array([0.0, 0.12])


def _seen_cylinder(radius: float, z0: float, z1: float, rng, spacing: float = 0.003) -> np.ndarray:
    """Points on a vertical cylinder's top and side that face the camera (a sensor sees nothing else)."""
    n_top = int(np.pi * radius**2 / spacing**2)
    r, a = radius * np.sqrt(rng.uniform(0, 1, n_top)), rng.uniform(0, 2 * np.pi, n_top)
    top = np.column_stack([r * np.cos(a), r * np.sin(a), np.full(n_top, z1)])
    n_side = int(2 * np.pi * radius * (z1 - z0) / spacing**2)
    a = rng.uniform(0, 2 * np.pi, n_side)
    side = np.column_stack([radius * np.cos(a), radius * np.sin(a), rng.uniform(z0, z1, n_side)])
    normals = np.column_stack([np.cos(a), np.sin(a), np.zeros(n_side)])
    points = np.concatenate([top, side]) + [*CENTRE, 0.0]
    normals = np.concatenate([np.tile([0.0, 0.0, 1.0], (n_top, 1)), normals])
    facing = np.einsum("ij,ij->i", normals, CAMERA - points) > 0
    return points[facing]


def _lid_points(rng, knob_radius: float = 0.013) -> np.ndarray:
    disc = _seen_cylinder(0.07, 0.0, 0.012, rng)
    disc = disc[np.linalg.norm(disc[:, :2] - CENTRE, axis=1) > knob_radius]  # the knob covers the middle
    return np.concatenate([disc, _seen_cylinder(knob_radius, 0.012, 0.04, rng)])


def test_a_knob_on_a_disc_is_a_part_of_its_own():
    rng = np.random.default_rng(0)
    knob_radius = 0.013
    vertices, faces, pose, face_part, _arms = object_mesh(_lid_points(rng, knob_radius), CAMERA, 0.0)
    assert face_part is not None and sorted(np.unique(face_part)) == [0, 1]
    obj = ReconstructedObject(
        "target", "target", "lid", vertices, faces, pose, (0.5, 0.5, 0.5), face_part=face_part
    )
    assert trimesh.Trimesh(vertices, faces).is_watertight
    parts = obj.convex_parts()
    disc, knob = sorted(parts, key=lambda p: p[0][:, 2].max())
    knob_extent = np.ptp(knob[0], axis=0)
    assert knob_extent[:2] == pytest.approx([2 * knob_radius] * 2, abs=0.004)  # the knob keeps its width
    assert knob[0][:, 2].min() == pytest.approx(disc[0][:, 2].max(), abs=1e-9)  # it stands on the disc
    assert disc[0][:, 2].max() == pytest.approx(0.012, abs=0.002)
    for v, f in parts:
        part = trimesh.Trimesh(v, f)
        assert part.is_watertight and part.volume == pytest.approx(part.convex_hull.volume, rel=1e-6)
    # The twin collides with exactly these parts, not one hull of both (which no gripper can close on).
    collision = _collision_parts(obj)
    assert len(collision) == 2
    assert max(np.ptp(v[:, 0]) for v, _ in collision if v[:, 2].min() > 0.005) < 0.035


@pytest.mark.parametrize("radius, height", [(0.03, 0.1), (0.07, 0.012), (0.02, 0.03)])
def test_a_plain_cylinder_stays_one_hull_exactly(radius, height):
    rng = np.random.default_rng(1)
    points = _seen_cylinder(radius, 0.0, height, rng)
    vertices, faces, pose, face_part, _arms = object_mesh(points, CAMERA, 0.0)
    assert face_part is None
    expected_vertices, expected_faces = convex_mesh(complete_points(points, CAMERA, 0.0))
    np.testing.assert_allclose(vertices + pose[:3, 3], expected_vertices, rtol=0, atol=1e-12)  # as before
    np.testing.assert_array_equal(faces, expected_faces)


def test_a_dome_or_a_short_knob_is_not_cut():
    rng = np.random.default_rng(2)
    # A sphere cap's footprint shrinks to nothing at its top: sharp in ratio, but no air to carve away.
    n = 3000
    a, c = rng.uniform(0, 2 * np.pi, n), rng.uniform(0.0, 1.0, n)
    r = 0.05 * np.sqrt(1 - c**2)
    cap = np.column_stack([r * np.cos(a), r * np.sin(a), 0.05 * c])
    assert layer_cuts(cap, 0.0) == []
    # A 5 mm button is under min_layer_height.
    button = np.concatenate([_seen_cylinder(0.05, 0.0, 0.02, rng), _seen_cylinder(0.01, 0.02, 0.025, rng)])
    assert layer_cuts(button, 0.0, LayerConfig()) == []


def test_face_part_must_match_the_faces():
    box = trimesh.creation.box((0.05, 0.05, 0.05))
    with pytest.raises(ValueError, match="face_part"):
        ReconstructedObject(
            "target",
            "target",
            "box",
            np.asarray(box.vertices),
            np.asarray(box.faces),
            np.eye(4),
            (0.5, 0.5, 0.5),
            face_part=np.zeros(3, dtype=np.int64),
        )


def test_mesh_blob_keeps_the_parts_and_reads_old_blobs(tmp_path):
    import io

    from physworld_core.reconstruction.stage import _mesh_blob
    from physworld_core.store import Store

    store = Store.at(str(tmp_path / "lake"))
    vertices, faces, pose, face_part, _arms = object_mesh(_lid_points(np.random.default_rng(3)), CAMERA, 0.0)
    obj = ReconstructedObject(
        "target", "target", "lid", vertices, faces, pose, (0.5, 0.5, 0.5), face_part=face_part
    )
    stored = np.load(io.BytesIO(store.blobs.get_bytes(_mesh_blob(store, obj))))
    np.testing.assert_array_equal(stored["face_part"], face_part)
    plain = ReconstructedObject("target", "target", "lid", vertices, faces, pose, (0.5, 0.5, 0.5))
    assert "face_part" not in np.load(io.BytesIO(store.blobs.get_bytes(_mesh_blob(store, plain)))).files
