"""Views from later frames: a wedge that turns in the video is completed from what the turns show.

A wedge is not symmetric under a half turn, so completing its first view by the half turn makes it a box as
tall at the front as at the back. The frames are ray cast here with their true depth (what a good depth
model calibrated to the sensor would give); the poses are the true ones, or poses 3 cm off that must be
rejected.
"""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.reconstruction.depth import DepthCalibration, MetricDepthVideo
from physworld_core.reconstruction.geometry import object_mesh
from physworld_core.reconstruction.types import Trajectory
from physworld_core.reconstruction.views import ViewConfig, gather_views
from tests.reconstruction.wedge_scene import CAMERA, chamfer_to_wedge, motion, render, seen_points

TURNS_DEG = (0, 0, 0, 30, 60, 90, 120, 150, 180, 180, 180)


@pytest.fixture(scope="module")
def clip():
    rendered = [render(motion(turn)) for turn in TURNS_DEG]
    frames = np.stack([rgb for rgb, _ in rendered])
    depths = np.stack([depth for _, depth in rendered])
    mask0 = frames[0, :, :, 1] < 100
    seen = seen_points(depths[0], mask0)
    first = object_mesh(seen, CAMERA.extrinsic[:3, 3], 0.0)
    identity = DepthCalibration("depth", 1.0, 0.0, 0.0, 0.0, 1.0, 1, 1)
    video = MetricDepthVideo(depths, (identity,) * len(depths), (1.0,) * len(depths), CAMERA, "ray cast")
    return frames, video, seen, mask0, first


def _trajectory(first, offset: float = 0.0) -> Trajectory:
    poses = np.stack([motion(turn) @ first.pose for turn in TURNS_DEG])
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
    before = chamfer_to_wedge(first.vertices + first.pose[:3, 3], first.faces)
    after = chamfer_to_wedge(fused.vertices + fused.pose[:3, 3], fused.faces)
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
