"""Segmentation on real RGB-D captures (issue #25, item 1): touching objects in clutter come out separate.

The captures are real sensor frames (tests/data/real) with ground-truth masks, calibrated by
:func:`~physworld_core.perception.calibration.calibrate` with the default robot placement and cropped to the
visible table, as ``bench.real_captures`` does. The objects checked here touch or stand against others; the
fallback path (``split_touching=False``: linking every pixel of one continuous surface) merges each of them
with a neighbour.
"""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.perception.calibration import calibrate
from physworld_core.perception.plane import fit_support_plane
from physworld_core.perception.segment import segment_objects
from physworld_core.scene import ScenePackage
from tests.real_captures import load_capture


def _segmented(name: str, split_touching):
    capture = load_capture(name)
    calibration = calibrate(capture.depth, capture.camera, robot=None)
    scene = ScenePackage(
        task_id=name,
        rgb=capture.rgb,
        depth_m=capture.depth,
        camera=calibration.camera(capture.camera),
        prompt=capture.prompts[0],
    )
    plane = fit_support_plane(scene)
    objects = segment_objects(
        scene, plane, robot=calibration.robot(), refuse_depth_holes=False, split_touching=split_touching
    )
    return capture, calibration, objects


def _best_iou(mask: np.ndarray, objects) -> tuple[float, object]:
    scores = [(np.logical_and(mask, o.mask).sum() / np.logical_or(mask, o.mask).sum(), o) for o in objects]
    return max(scores, key=lambda item: item[0])


@pytest.mark.parametrize(
    ("name", "object_ids"),
    [
        # The wooden bowl touches the cereal box behind it; the spray can and the red cereal box stand
        # against the boxes and the tube of the back row.
        ("osd_complex_64", (4, 14, 15)),
        # The pitcher's base touches the sugar box with the Spam can on it.
        ("ycbv_pitcher_spam_sugar", (4,)),
    ],
)
def test_touching_objects_come_out_separate(name, object_ids):
    capture, _, objects = _segmented(name, True)
    _, _, fallback = _segmented(name, False)
    for object_id in object_ids:
        iou, _ = _best_iou(capture.mask(object_id), objects)
        assert iou >= 0.8, f"{name}: object {object_id} found with mask IoU {iou:.2f}"
        merged_iou, _ = _best_iou(capture.mask(object_id), fallback)
        assert merged_iou < 0.6, f"{name}: object {object_id} was already separate without the cut"


def test_a_separated_object_is_where_its_pose_says():
    """The pitcher, cut from the boxes it touches, has its footprint centre within 15 mm of its true pose's
    origin laid on the table."""
    capture, calibration, objects = _segmented("ycbv_pitcher_spam_sugar", True)
    _, pitcher = _best_iou(capture.mask(4), objects)
    matrix = np.asarray(calibration.cam_to_world)
    true_xy = (matrix[:3, :3] @ capture.poses[4][:3, 3] + matrix[:3, 3])[:2]
    assert np.linalg.norm(np.subtract(pitcher.centre_world[:2], true_xy)) < 0.015
