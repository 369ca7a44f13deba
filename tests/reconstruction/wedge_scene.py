"""A wedge on a table, ray cast with its true depth: an object that is not symmetric under a half turn, so
completing its first view by the half turn makes it a box as tall at the front as at the back."""

from __future__ import annotations

import numpy as np

from physworld_core.evaluation.fidelity import chamfer_mm, union_surface_points
from physworld_core.reconstruction.geometry import convex_mesh
from physworld_core.sim.camera import look_at_camera

CAMERA = look_at_camera((0.42, 0.05, 0.40), (0.0, 0.0, 0.03), 160, 120, 45.0)
CENTRE = np.array([0.0, 0.0, 0.0])
# The wedge in its own frame: 6 cm along x, 8 cm along y, 1 cm tall at x = +3 cm rising to 7 cm at -3 cm, so
# from the camera (on +x) its low edge is in front and its tall back is hidden.
HALFSPACES = np.array(
    [
        [1.0, 0, 0, 0.03],
        [-1.0, 0, 0, 0.03],
        [0, 1.0, 0, 0.04],
        [0, -1.0, 0, 0.04],
        [0, 0, -1.0, 0.0],
        [1.0, 0, 1.0, 0.04],  # z <= 0.04 - x
    ]
)


def wedge_vertices() -> np.ndarray:
    corners = []
    for x in (-0.03, 0.03):
        for y in (-0.04, 0.04):
            corners += [(x, y, 0.0), (x, y, 0.04 - x)]
    return np.array(corners)


def motion(turn_deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(turn_deg)), np.sin(np.radians(turn_deg))
    M = np.eye(4)
    M[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    M[:3, 3] = CENTRE - M[:3, :3] @ CENTRE + [0.0, 0.02 * turn_deg / 180, 0.0]
    return M


def render(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """RGB and z-depth of the moved wedge on the table plane z = 0."""
    rows, cols = np.mgrid[0 : CAMERA.height, 0 : CAMERA.width]
    rays = np.stack(
        [(cols + 0.5 - CAMERA.cx) / CAMERA.fx, (rows + 0.5 - CAMERA.cy) / CAMERA.fy, np.ones(rows.shape)], -1
    )
    R, origin = CAMERA.extrinsic[:3, :3], CAMERA.extrinsic[:3, 3]
    directions = rays.reshape(-1, 3) @ R.T  # world ray per unit of z-depth
    # Halfspaces of the moved wedge: n·(M⁻¹ x) <= b  ⇔  (R n)·x <= b + (R n)·t.
    normals = HALFSPACES[:, :3] @ motion[:3, :3].T
    offsets = HALFSPACES[:, 3] + normals @ motion[:3, 3]
    denom = directions @ normals.T
    numer = offsets[None] - (origin @ normals.T)[None]
    with np.errstate(divide="ignore", invalid="ignore"):
        t = numer / denom
    enter = np.where(denom < 0, t, -np.inf).max(1)
    leave = np.where(denom > 0, t, np.inf).min(1)
    inside_always = np.all((denom == 0) <= (numer >= 0), axis=1)
    hit = (enter <= leave) & (enter > 0) & inside_always
    table = -origin[2] / directions[:, 2]
    depth = np.where(hit, enter, np.where(table > 0, table, 0.0)).reshape(rows.shape)
    rgb = np.where(hit.reshape(rows.shape)[..., None], [200, 40, 30], [190, 180, 160]).astype(np.uint8)
    return rgb, depth.astype(np.float32)


def seen_points(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from physworld_core.scene import depth_to_points_world

    points, _ = depth_to_points_world(np.where(mask, depth, 0.0), CAMERA)
    return points


def chamfer_to_wedge(vertices_world: np.ndarray, faces: np.ndarray) -> float:
    truth = union_surface_points([convex_mesh(wedge_vertices())], seed=0)
    return chamfer_mm(truth, union_surface_points([(vertices_world, faces)], seed=1))
