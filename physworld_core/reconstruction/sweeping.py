"""The brush, the dustpan and the scraps of a sweep, as bodies.

Why not the general completion: a brush is a tool whose use depends on which end is which, and a completed hull
of its seen points would be one convex lump with no head to sweep with and no handle to hold. Perception measures
it as a head and a handle (:mod:`physworld_core.perception.sweeping`), so it is modelled as exactly those two
boxes, in a frame whose +x is the way the head faces. The world and the twin then frame the brush the same way,
and the centre of its bounding box (what plans speak of) is the same point in both. A dustpan is a fixture
whose ramp matters (the scraps are pushed up it onto the floor): it is modelled as its convex parts, not as box
walls. A scrap is a small box standing on the table.
"""

from __future__ import annotations

import numpy as np

from physworld_core.reconstruction.geometry import convex_mesh
from physworld_core.reconstruction.types import DustpanGeometry

SCRAP_MIN_HALF_M = 0.003
"""A scrap is modelled at least this big along each axis: smaller, and the simulator's contact offsets are a
large part of it."""


def _box_points(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    return np.array([[x, y, z] for x in (lo[0], hi[0]) for y in (lo[1], hi[1]) for z in (lo[2], hi[2])])


def _union(point_sets: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(vertices, faces, face_part) of the convex hulls of ``point_sets``, one part each."""
    vertices, faces, parts, offset = [], [], [], 0
    for k, points in enumerate(point_sets):
        v, f = convex_mesh(np.asarray(points, dtype=np.float64))
        vertices.append(v)
        faces.append(f + offset)
        parts.append(np.full(len(f), k, dtype=np.int64))
        offset += len(v)
    return np.vstack(vertices), np.vstack(faces), np.concatenate(parts)


def brush_parts(
    head_width: float,
    head_depth: float,
    head_height: float,
    handle_length: float,
    handle_width: float,
    handle_height: float,
) -> list[np.ndarray]:
    """Corner points of the head (part 0) and the handle (part 1) in the brush frame: origin on the table at
    the head's footprint centre, +x the way the head faces, the handle behind it along -x overlapping the head's
    back by a millimetre (so the union is one body)."""
    sizes = (head_width, head_depth, head_height, handle_length, handle_width, handle_height)
    if min(sizes) <= 0:
        raise ValueError(f"brush sizes must be positive, got {sizes}")
    head = _box_points(
        np.array([-head_depth / 2, -head_width / 2, 0.0]),
        np.array([head_depth / 2, head_width / 2, head_height]),
    )
    back = -head_depth / 2 - handle_length
    handle = _box_points(
        np.array([back, -handle_width / 2, 0.0]),
        np.array([-head_depth / 2 + 0.001, handle_width / 2, handle_height]),
    )
    return [head, handle]


def brush_model(head_centre: np.ndarray, facing: np.ndarray, **sizes: float):
    """(vertices, faces, face_part, pose) of the brush standing at ``head_centre`` (world, on the table), its
    head facing the horizontal direction ``facing``. ``sizes``: as :func:`brush_parts`."""
    v, f, part = _union(brush_parts(**sizes))
    return v, f, part, _yawed_pose(head_centre, facing)


def dustpan_model(geometry: DustpanGeometry, mouth: np.ndarray, into_pan: np.ndarray):
    """(geometry, display vertices, faces, pose) of the dustpan with its mouth's middle at ``mouth`` (world, on
    the table), ``into_pan`` the horizontal direction from the mouth to its back wall."""
    v, f, _ = _union(geometry.part_points())
    return geometry, v, f, _yawed_pose(mouth, into_pan)


def scrap_model(centre: np.ndarray, half_size: np.ndarray, yaw: float, table_height: float):
    """(vertices, faces, pose) of a scrap as a box on the table (its frame: origin at its footprint centre on
    the table, turned by ``yaw``): a puck is modelled by the box around it, which slides the same way."""
    h = np.maximum(np.asarray(half_size, dtype=np.float64), SCRAP_MIN_HALF_M)
    v, f = convex_mesh(_box_points(np.array([-h[0], -h[1], 0.0]), np.array([h[0], h[1], 2 * h[2]])))
    base = np.array([centre[0], centre[1], table_height])
    return v, f, _yawed_pose(base, np.array([np.cos(yaw), np.sin(yaw)]))


def _yawed_pose(origin: np.ndarray, heading: np.ndarray) -> np.ndarray:
    heading = np.asarray(heading, dtype=np.float64)[:2]
    c, s = heading / np.linalg.norm(heading)
    pose = np.eye(4)
    pose[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    pose[:3, 3] = np.asarray(origin, dtype=np.float64)[:3]
    return pose
