"""`calibrate` on real captures: the table it finds is the annotated table, at world z = 0, and the robot
stands where the placement says; it refuses frames with no table below the camera."""

from __future__ import annotations

import numpy as np
import pytest

from physworld_core.errors import SceneError
from physworld_core.perception.calibration import RobotPlacement, calibrate
from physworld_core.robot import PANDA
from physworld_core.scene import CameraSpec
from tests.real_captures import capture_names, load_capture

NAMES = capture_names()


def _world(capture, calibration, mask: np.ndarray, depth: np.ndarray | None = None) -> np.ndarray:
    depth = capture.depth if depth is None else depth
    rows, cols = np.nonzero(mask & (depth > 0))
    z = depth[rows, cols].astype(np.float64)
    cam = capture.camera
    points = np.stack([(cols + 0.5 - cam.cx) / cam.fx * z, (rows + 0.5 - cam.cy) / cam.fy * z, z], 1)
    matrix = np.asarray(calibration.cam_to_world)
    return points @ matrix[:3, :3].T + matrix[:3, 3]


@pytest.mark.parametrize("name", NAMES)
def test_the_table_is_level_at_zero_and_objects_stand_on_it(name):
    capture = load_capture(name)
    calibration = calibrate(capture.depth, capture.camera)
    table_only = calibrate(capture.depth, capture.camera, robot=None)
    assert table_only.cam_to_world == calibration.cam_to_world
    assert 0.2 < calibration.camera_height_m < 1.5
    assert 10.0 < calibration.camera_pitch_deg < 90.0
    matrix = np.asarray(calibration.cam_to_world)
    assert np.allclose(matrix[:3, :3] @ matrix[:3, :3].T, np.eye(3), atol=1e-9)
    assert matrix[2, 3] == pytest.approx(calibration.camera_height_m, abs=1e-9)  # the camera's world height
    if capture.support_mask is not None:  # OSD: the annotated table top lies at z = 0, level
        table = _world(capture, calibration, capture.support_mask)
        assert abs(np.median(table[:, 2])) < 0.002
        assert np.percentile(np.abs(table[:, 2]), 90) < 0.006
    for object_id in capture.object_ids():
        if capture.instances is None:
            continue
        # The sensor sees through ClearGrasp's glass bottles: their true surface is the reference depth.
        true_depth = capture.depth if capture.depth_reference is None else capture.depth_reference
        points = _world(capture, calibration, capture.mask(object_id), true_depth)
        assert np.percentile(points[:, 2], 90) > 0.005, f"{name}: object {object_id} is not above the table"
        # Without a robot's reach to clip it, the workspace box is the visible table: every object is in it.
        lo, hi = np.asarray(table_only.workspace_min), np.asarray(table_only.workspace_max)
        inside = np.all((points >= lo) & (points <= hi), axis=1).mean()
        assert inside > 0.5, f"{name}: object {object_id} lies outside the table's box ({inside:.0%} inside)"
    for pose in capture.poses.values():  # YCB-Video: every object's centre is above the table
        centre = matrix[:3, :3] @ pose[:3, 3] + matrix[:3, 3]
        assert 0.0 < centre[2] < 0.3
        lo, hi = np.asarray(calibration.workspace_min), np.asarray(calibration.workspace_max)
        assert np.all(centre >= lo) and np.all(centre <= hi), (
            "an object on the table is outside the workspace"
        )


def test_the_robot_stands_where_the_placement_puts_it():
    capture = load_capture("osd_mixed_54")
    default = calibrate(capture.depth, capture.camera)
    assert np.allclose(default.reference_world, 0.0, atol=1e-9)  # the base 0.615 m before the reference
    table_rows, table_cols = np.nonzero(capture.support_mask & (capture.depth > 0))
    row, col = int(table_rows[len(table_rows) // 2]), int(table_cols[len(table_rows) // 2])  # on the table
    placement = RobotPlacement(base_forward_m=0.3, base_left_m=-0.2, heading_deg=90.0, pixel=(row, col))
    matrix = np.asarray(calibrate(capture.depth, capture.camera, placement).cam_to_world)
    # With the default heading and base, the clicked pixel's table point becomes the world origin.
    clicked = np.asarray(
        calibrate(capture.depth, capture.camera, RobotPlacement(pixel=(row, col))).cam_to_world
    )
    z = capture.depth[row, col]
    cam = capture.camera
    ray = np.array([(col + 0.5 - cam.cx) / cam.fx, (row + 0.5 - cam.cy) / cam.fy, 1.0])
    clicked_origin = np.linalg.solve(clicked[:3, :3], -clicked[:3, 3])  # the world origin in camera coords
    assert np.allclose(np.cross(clicked_origin, ray), 0.0, atol=1e-9), "the origin is not on the clicked ray"
    assert clicked_origin[2] == pytest.approx(z, abs=0.005)  # ... and on the table (the pixel sees the table)
    # The default frame's x is "forward", y is "left"; heading 90° turns the robot's x to "left".
    forward_cam, left_cam = clicked[0, :3], clicked[1, :3]
    assert np.allclose(matrix[0, :3], left_cam, atol=1e-9)
    base_cam = clicked_origin + 0.3 * forward_cam - 0.2 * left_cam
    assert np.allclose(matrix[:3, :3] @ base_cam + matrix[:3, 3], PANDA.base_xyz, atol=1e-9)


def _plane_depth(normal_cam, offset, camera: CameraSpec) -> np.ndarray:
    """Depth of the plane {p: normal·p = offset} seen by ``camera`` (0 where the ray misses it)."""
    rows, cols = np.mgrid[0 : camera.height, 0 : camera.width]
    rays = np.stack(
        [(cols + 0.5 - camera.cx) / camera.fx, (rows + 0.5 - camera.cy) / camera.fy, np.ones(rows.shape)], -1
    )
    t = offset / (rays @ np.asarray(normal_cam))
    return np.where(t > 0, t, 0.0).astype(np.float32)


CAMERA = CameraSpec(fx=300.0, fy=300.0, cx=160.0, cy=120.0, width=320, height=240)


def test_a_synthetic_table_gives_the_camera_height_and_pitch():
    pitch = np.deg2rad(50.0)
    up_cam = np.array([0.0, -np.cos(pitch), -np.sin(pitch)])  # world up seen from a camera pitched 50° down
    depth = _plane_depth(up_cam, -0.7, CAMERA)
    calibration = calibrate(depth, CAMERA)
    assert calibration.camera_height_m == pytest.approx(0.7, abs=1e-6)
    assert calibration.camera_pitch_deg == pytest.approx(50.0, abs=1e-4)


@pytest.mark.parametrize(
    "depth, reason",
    [
        (np.zeros((240, 320), np.float32), "depth is missing"),
        # A ceiling 0.7 m above a camera looking up 30°: a plane, but not below the camera.
        (
            _plane_depth(np.array([0.0, np.cos(np.deg2rad(30)), -np.sin(np.deg2rad(30))]), -0.7, CAMERA),
            "not below the camera",
        ),
        (np.random.default_rng(0).uniform(0.3, 2.0, (240, 320)).astype(np.float32), "no table plane found"),
    ],
    ids=["no depth", "ceiling", "noise"],
)
def test_no_table_below_the_camera_is_refused_with_the_reason(depth, reason):
    with pytest.raises(SceneError, match=reason):
        calibrate(depth, CAMERA)


def test_a_calibrated_camera_carries_its_workspace_and_perception_crops_to_it(monkeypatch):
    """calibrate → camera.json → the scene's camera → what perception segments: the workspace box travels with
    the camera (also through the lake's camera_json), and nothing outside it is segmented."""
    from dataclasses import replace

    import physworld_core.perception.perceive as perceive_module
    from physworld_core.perception.plane import fit_support_plane
    from physworld_core.perception.segment import segment_objects
    from physworld_core.scene import ScenePackage

    capture = load_capture("osd_complex_64")
    calibration = calibrate(capture.depth, capture.camera, robot=None)
    written = calibration.camera_json(capture.camera)
    camera = CameraSpec.from_dict(written)
    assert camera.workspace == (calibration.workspace_min, calibration.workspace_max)
    assert (
        CameraSpec.from_dict(camera.to_dict()) == camera
        and camera.to_dict()["workspace"] == written["workspace"]
    )
    assert "workspace" not in capture.camera.to_dict()  # an uncalibrated camera's JSON is as it was

    scene = ScenePackage(capture.name, capture.rgb, capture.depth, camera, capture.prompts[0], "test")
    seen = []
    monkeypatch.setattr(perceive_module, "perceive", lambda s, robot=None: seen.append(robot) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        perceive_module.perceive_task(scene)
    assert (seen[0].workspace_min, seen[0].workspace_max) == camera.workspace  # the stage crops to it

    plane = fit_support_plane(scene)
    lo, hi = np.asarray(camera.workspace)
    half = replace(camera, workspace=(tuple(lo), (float((lo[0] + hi[0]) / 2), *hi[1:])))
    whole = segment_objects(
        scene, plane, robot=perceive_module.workspace_robot(camera), refuse_depth_holes=False
    )
    cropped = segment_objects(
        replace(scene, camera=half),
        plane,
        robot=perceive_module.workspace_robot(half),
        refuse_depth_holes=False,
    )
    assert 0 < len(cropped) < len(whole)
    for obj in cropped:
        assert obj.points_world[:, 0].max() <= half.workspace[1][0] + 1e-6
    with pytest.raises(SceneError, match="workspace min .* must lie below max"):
        replace(camera, workspace=(tuple(hi), tuple(lo)))
    with pytest.raises(SceneError, match="workspace.min must be 3 numbers"):
        CameraSpec.from_dict({**written, "workspace": {"min": [0, 0], "max": [1, 1, 1]}})
