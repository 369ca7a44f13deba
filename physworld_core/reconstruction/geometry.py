"""Object geometry from one partial view: completed, watertight meshes and parametric containers.

A single RGB-D frame sees roughly the front half of each object. Completion uses two priors that hold for
most tabletop objects: (1) they rest on the support plane, so the footprint extends down to it; (2) they are
roughly symmetric under a half turn about the vertical line through their centre, so turning the seen half
about it fills the unseen back. The convex hull of the union is watertight by construction.
A protrusion standing up from the top (a lid's knob) would vanish into that hull: it is cut off as a layer of
its own and completed on its own (see ``layers``), so such an object is a union of convex hulls. Containers
are hollow, so a hull would fill them: they get a parametric open-top box fitted to the rim. A flat goal
marking gets a disc or box region.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import numpy as np
import trimesh
from scipy.spatial import ConvexHull, QhullError

from physworld_core.errors import ReconstructionError
from physworld_core.perception.segment import ROUND_FOOTPRINT_MAX_FILL
from physworld_core.reconstruction.arms import ArmConfig, arm_labels, arm_underside
from physworld_core.reconstruction.layers import LayerConfig, layer_cuts
from physworld_core.reconstruction.types import ContainerGeometry, RegionGeometry

WALL_THICKNESS_PRIOR = 0.01
"""Walls seen edge-on are 1–3 px wide; a 1 cm prior is better than measuring them."""


TOP_VISIBLE_ELEVATION_DEG = 20.0
"""Camera elevation over an object's top above which its top face is seen across its whole depth."""


FOOTPRINT_CELL_M = 0.002
"""Cell of the footprint grid whose occupied cells give an object's extents: about a pixel at 128 px."""


Carve = Callable[[np.ndarray], np.ndarray]
"""World points → which of them other views saw to be empty (see ``views.Views.seen_empty``)."""


def mirror_points(
    points_world: np.ndarray, camera_position: np.ndarray, carve: Carve | None = None
) -> np.ndarray:
    """The seen points and their image under a half turn about the vertical line through the object's
    estimated centre.

    A half turn, not a mirror plane facing the camera: the two agree for round objects and for boxes seen
    square-on, but an elongated object seen at an angle (a shoe, a box turned 40°) mirrored about a plane that
    is not one of its own would grow into an X-shaped hull far wider than the object; most tabletop footprints
    are symmetric under a half turn whatever their yaw."""
    pts = np.asarray(points_world, float)
    if len(pts) < 8:
        raise ReconstructionError(f"only {len(pts)} points on the object: too few to build a mesh")
    centre = np.median(pts, axis=0)
    view = centre - camera_position
    view[2] = 0.0
    if np.linalg.norm(view) < 1e-6:
        return pts  # seen from straight above: the top view already spans the footprint
    v = view / np.linalg.norm(view)
    lateral = np.array([-v[1], v[0], 0.0])
    depth, across = pts @ v, pts @ lateral
    # Extents are read off the footprint cells the points cover, each cell once: a face seen head-on puts
    # many pixels on one line of the footprint, and percentiles over pixels would pull the far edge of a
    # thin box's top that far in (a 29 mm book came out 36 mm thick).
    cell_depth, cell_across = _footprint_cells(depth, across)
    near, far = _trimmed_extent(cell_depth)
    left, right = _trimmed_extent(cell_across)
    width = right - left
    # The centre along the view: the middle of the seen depth when the camera looks down on the top face (it
    # shows the far edge); from a low camera that sees only the front, at least half the seen width behind the
    # nearest point (a round or square footprint's depth is its width; an elongated one's is not, so this is
    # the fallback only).
    mid = 0.5 * (near + far)
    top = float(np.percentile(pts[:, 2], 98))
    elevation = np.degrees(np.arctan2(camera_position[2] - top, np.linalg.norm(view)))
    if elevation < TOP_VISIBLE_ELEVATION_DEG:
        mid = max(mid, near + 0.5 * width)
    middle = 0.5 * (left + right)
    turned = pts - 2 * np.outer(depth - mid, v) - 2 * np.outer(across - middle, lateral)
    if carve is not None:
        turned = turned[~carve(turned)]
    return np.concatenate([pts, turned])


def _footprint_cells(depth: np.ndarray, across: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the ``FOOTPRINT_CELL_M`` cells of the (depth, across) plane that hold a point."""
    cells = np.unique(np.floor(np.stack([depth, across], 1) / FOOTPRINT_CELL_M).astype(np.int64), axis=0)
    centres = (cells + 0.5) * FOOTPRINT_CELL_M
    return centres[:, 0], centres[:, 1]


def _trimmed_extent(values: np.ndarray) -> tuple[float, float]:
    """Second-smallest and second-largest of ``values``: one stray cell does not widen the object."""
    ordered = np.sort(values)
    k = 1 if len(ordered) > 2 else 0
    return float(ordered[k]), float(ordered[-1 - k])


def extruded(points: np.ndarray, floor: float) -> np.ndarray:
    """``points`` and their shadow on the horizontal plane at height ``floor``."""
    base = points.copy()
    base[:, 2] = floor
    return np.concatenate([points, base])


def complete_points(
    points_world: np.ndarray, camera_position: np.ndarray, table_height: float, carve: Carve | None = None
) -> np.ndarray:
    """Turn the seen half about the vertical centre line and extrude the footprint down to the table."""
    return extruded(mirror_points(points_world, camera_position, carve), table_height)


def completed_parts(
    points_world: np.ndarray,
    camera_position: np.ndarray,
    table_height: float,
    config: LayerConfig = LayerConfig(),
    arms: ArmConfig = ArmConfig(),
    carve: Carve | None = None,
) -> tuple[list[np.ndarray], int]:
    """The completed points of each convex part of the object, and how many of them are arms: the body's
    parts bottom up (one, :func:`complete_points`, unless something stands up from its top), then one part
    per arm sticking out sideways from it (a pan's handle, see ``arms``).

    The cuts are found on the whole mirrored body, whose footprint is symmetric; each layer is then mirrored
    about its own centre (a knob seen mostly from above is not where the body's mirror plane puts it) and
    extruded down to the top of the layer below. An arm is not mirrored (the body's half turn would put a
    second handle on the other side) and is extruded down to its own seen underside, not to the table.
    """
    pts = np.asarray(points_world, float)
    labels = arm_labels(pts, arms)
    body = pts[labels == 0]
    arm_parts = [_arm_part(pts[labels == k], table_height, arms) for k in range(1, int(labels.max()) + 1)]
    cuts = layer_cuts(mirror_points(body, camera_position), table_height, config)
    if not cuts:
        return [complete_points(body, camera_position, table_height, carve), *arm_parts], len(arm_parts)
    parts, floor = [], table_height
    for lo, hi in zip([-np.inf, *cuts], [*cuts, np.inf], strict=True):
        layer = body[(body[:, 2] >= lo) & (body[:, 2] < hi)]
        parts.append(extruded(mirror_points(layer, camera_position, carve), floor))
        floor = float(layer[:, 2].max())
    return [*parts, *arm_parts], len(arm_parts)


def _arm_part(points: np.ndarray, table_height: float, config: ArmConfig) -> np.ndarray:
    """An arm's seen points and their copy lowered onto its underside (never below the table)."""
    below = points.copy()
    below[:, 2] = np.maximum(arm_underside(points, config), table_height)
    return np.concatenate([points, below])


def convex_mesh(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    try:
        hull = ConvexHull(points)
    except QhullError as exc:
        raise ReconstructionError(f"object points are degenerate (flat or collinear): {exc}") from None
    vertices = points[hull.vertices]
    remap = -np.ones(len(points), dtype=np.int64)
    remap[hull.vertices] = np.arange(len(hull.vertices))
    faces = remap[hull.simplices]
    # Orient faces outward (qhull's simplices are unordered).
    centre = vertices.mean(0)
    tri = vertices[faces]
    normals = np.cross(tri[:, 1] - tri[:, 0], tri[:, 2] - tri[:, 0])
    flip = np.einsum("ij,ij->i", normals, tri.mean(1) - centre) < 0
    faces[flip] = faces[flip][:, ::-1]
    return vertices, faces


class ObjectMesh(NamedTuple):
    """A completed object: ``vertices`` and ``faces`` in the object frame, its world ``pose`` (translation
    only, world axes), the convex part each face belongs to when the mesh is a union of parts (else None),
    and which of those parts are arms sticking out of the body (a handle)."""

    vertices: np.ndarray
    faces: np.ndarray
    pose: np.ndarray
    face_part: np.ndarray | None
    arm_parts: tuple[int, ...]


def object_mesh(
    points_world: np.ndarray, camera_position: np.ndarray, table_height: float, carve: Carve | None = None
) -> ObjectMesh:
    """The object completed from its seen points (see :func:`completed_parts`; ``carve`` there).

    The object frame's origin is the footprint centre of its body on the table, so a pose's z is the table
    height; an arm does not move the origin, which stays where the body's centre is.
    """
    completed, arm_count = completed_parts(points_world, camera_position, table_height, carve=carve)
    parts = [convex_mesh(p) for p in completed]
    vertices_world = np.concatenate([v for v, _ in parts])
    offsets = np.cumsum([0] + [len(v) for v, _ in parts[:-1]])
    faces = np.concatenate([f + o for (_, f), o in zip(parts, offsets, strict=True)])
    face_part = None
    if len(parts) > 1:
        face_part = np.concatenate([np.full(len(f), i, dtype=np.int64) for i, (_, f) in enumerate(parts)])
    body = np.concatenate([v for v, _ in parts[: len(parts) - arm_count]])
    lo, hi = body.min(0), body.max(0)
    origin = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, table_height])
    pose = np.eye(4)
    pose[:3, 3] = origin
    arm_parts = tuple(range(len(parts) - arm_count, len(parts)))
    return ObjectMesh(vertices_world - origin, faces, pose, face_part, arm_parts)


def container_model(
    points_world: np.ndarray,
    centre_world: np.ndarray,
    length: float,
    width: float,
    yaw_world: float,
    top_height: float,
    table_height: float,
) -> tuple[ContainerGeometry, np.ndarray, np.ndarray, np.ndarray]:
    """Open-top box: (geometry, display vertices, faces, pose) with the footprint rectangle as outer walls."""
    t = WALL_THICKNESS_PRIOR
    if min(length, width) < 4 * t or top_height < 2 * t:
        raise ReconstructionError(
            f"container footprint {1000 * length:.0f}x{1000 * width:.0f} mm, height {1000 * top_height:.0f} mm "
            "is too small to hold anything"
        )
    geometry = ContainerGeometry(
        inner_half=(length / 2 - t, width / 2 - t), wall_height=float(top_height), wall_thickness=t
    )
    return fixture_on_table(geometry, centre_world[:2], yaw_world, table_height)


def fixture_on_table(geometry, xy, yaw: float, table_height: float):
    """(geometry, display vertices, faces, pose) of a fixture made of boxes, its frame turned by ``yaw`` about
    the vertical and standing at ``xy`` on the table."""
    pose = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    pose[:3, :3] = np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])
    pose[:3, 3] = [xy[0], xy[1], table_height]
    vertices, faces = boxes_mesh(geometry.boxes())
    return geometry, vertices, faces, pose


def boxes_mesh(boxes) -> tuple[np.ndarray, np.ndarray]:
    """One mesh (separate closed boxes) for display."""
    unit = np.array([[x, y, z] for x in (-1, 1) for y in (-1, 1) for z in (-1, 1)], float)
    quads = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    vertices, faces = [], []
    for centre, half in boxes:
        base = len(vertices)
        vertices.extend(unit * np.asarray(half) + np.asarray(centre))
        for a, b, c, d in quads:
            faces += [(base + a, base + b, base + c), (base + a, base + c, base + d)]
    return np.asarray(vertices), np.asarray(faces, dtype=np.int64)


def region_model(
    centre_world, extents: tuple[float, float], yaw: float, roundness: float, table_height: float
) -> tuple[RegionGeometry, np.ndarray, np.ndarray, np.ndarray]:
    """A flat marking as a region (disc when its footprint is round, else a box) and a 1 mm plate mesh for
    display, posed at its centre on the table."""
    length, width = float(extents[0]), float(extents[1])
    if roundness < ROUND_FOOTPRINT_MAX_FILL:
        radius = 0.25 * (length + width)
        geometry = RegionGeometry("disc", (radius, radius))
        mesh = trimesh.creation.cylinder(radius=radius, height=0.001, sections=32)
    else:
        geometry = RegionGeometry("box", (length / 2, width / 2))
        mesh = trimesh.creation.box(extents=(length, width, 0.001))
    vertices = np.asarray(mesh.vertices) + np.array([0.0, 0.0, 0.0005])
    pose = np.eye(4)
    c, s = np.cos(yaw), np.sin(yaw)
    pose[:3, :3] = [[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]
    pose[:3, 3] = [float(centre_world[0]), float(centre_world[1]), table_height]
    return geometry, vertices, np.asarray(mesh.faces), pose
