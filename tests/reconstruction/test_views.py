"""Views from later frames: a wedge that turns in the video is completed from what the turns show.

A wedge is not symmetric under a half turn, so completing its first view by the half turn makes it a box as
tall at the front as at the back. The frames are ray cast here with their true depth (what a good depth
model calibrated to the sensor would give); the poses are the true ones, or poses 3 cm off that must be
rejected.
"""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.evaluation.fidelity import chamfer_mm, union_surface_points
from physworld_core.reconstruction.depth import DepthCalibration, MetricDepthVideo
from physworld_core.reconstruction.geometry import convex_mesh, object_mesh
from physworld_core.reconstruction.types import Trajectory
from physworld_core.reconstruction.views import ViewConfig, gather_views
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
TURNS_DEG = (0, 0, 0, 30, 60, 90, 120, 150, 180, 180, 180)


def _wedge_vertices() -> np.ndarray:
    corners = []
    for x in (-0.03, 0.03):
        for y in (-0.04, 0.04):
            corners += [(x, y, 0.0), (x, y, 0.04 - x)]
    return np.array(corners)


def _motion(turn_deg: float) -> np.ndarray:
    c, s = np.cos(np.radians(turn_deg)), np.sin(np.radians(turn_deg))
    M = np.eye(4)
    M[:3, :3] = [[c, -s, 0], [s, c, 0], [0, 0, 1]]
    M[:3, 3] = CENTRE - M[:3, :3] @ CENTRE + [0.0, 0.02 * turn_deg / 180, 0.0]
    return M


def _render(motion: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _points(depth: np.ndarray, mask: np.ndarray) -> np.ndarray:
    from physworld_core.scene import depth_to_points_world

    points, _ = depth_to_points_world(np.where(mask, depth, 0.0), CAMERA)
    return points


def _chamfer(vertices_world: np.ndarray, faces: np.ndarray) -> float:
    truth = union_surface_points([convex_mesh(_wedge_vertices())], seed=0)
    return chamfer_mm(truth, union_surface_points([(vertices_world, faces)], seed=1))


@pytest.fixture(scope="module")
def clip():
    rendered = [_render(_motion(turn)) for turn in TURNS_DEG]
    frames = np.stack([rgb for rgb, _ in rendered])
    depths = np.stack([depth for _, depth in rendered])
    mask0 = frames[0, :, :, 1] < 100
    seen = _points(depths[0], mask0)
    first = object_mesh(seen, CAMERA.extrinsic[:3, 3], 0.0)
    identity = DepthCalibration("depth", 1.0, 0.0, 0.0, 0.0, 1.0, 1, 1)
    video = MetricDepthVideo(depths, (identity,) * len(depths), (1.0,) * len(depths), CAMERA, "ray cast")
    return frames, video, seen, mask0, first


def _trajectory(first, offset: float = 0.0) -> Trajectory:
    poses = np.stack([_motion(turn) @ first.pose for turn in TURNS_DEG])
    poses[1:, 0, 3] += offset
    return Trajectory(np.arange(len(poses)) / 8.0, poses, np.ones(len(poses)))


def test_turning_frames_measure_the_back_that_the_mirror_gets_wrong(clip):
    frames, video, seen, mask0, first = clip
    views = gather_views(frames, video, _trajectory(first), seen, mask0, first.vertices, first.faces)
    assert len(views.report.used) >= 2, views.report.to_dict()
    assert views.report.points_added > 50
    fused = object_mesh(
        np.concatenate([seen, views.new_points]), CAMERA.extrinsic[:3, 3], 0.0, views.seen_empty
    )
    before = _chamfer(first.vertices + first.pose[:3, 3], first.faces)
    after = _chamfer(fused.vertices + fused.pose[:3, 3], fused.faces)
    assert before > 4.0  # the half turn makes the wedge a box
    assert after < 0.5 * before, (before, after)
    # The tall side is where the truth has it, not mirrored to the front.
    world = fused.vertices + fused.pose[:3, 3]
    assert world[world[:, 0] > 0.02, 2].max() < 0.03


def test_views_whose_pose_is_off_are_rejected_and_add_nothing(clip):
    frames, video, seen, mask0, first = clip
    views = gather_views(
        frames, video, _trajectory(first, offset=0.03), seen, mask0, first.vertices, first.faces, ViewConfig()
    )
    assert not views and views.report.points_added == 0
    assert views.report.rejected and all(
        "mm" in r or "%" in r or "pixels" in r for r in views.report.rejected.values()
    )
    assert not views.seen_empty(seen).any()


def test_view_config_is_validated():
    with pytest.raises(ValueError, match="overlap_m"):
        ViewConfig(overlap_m=0.05)
    with pytest.raises(ValueError, match="min_confidence"):
        ViewConfig(min_confidence=2.0)
