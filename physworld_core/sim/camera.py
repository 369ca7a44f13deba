"""Camera conversions between the OpenCV convention of scene packages and SAPIEN's camera frame."""

from __future__ import annotations

import numpy as np

from physworld_core.scene import CameraSpec

# Columns: SAPIEN camera axes (x forward, y left, z up) expressed in OpenCV camera axes (x right, y down, z fwd).
_CV_FROM_SAPIEN = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])


def look_at_camera(
    eye: tuple[float, float, float],
    target: tuple[float, float, float],
    width: int,
    height: int,
    fov_y_deg: float,
) -> CameraSpec:
    """A pinhole camera at ``eye`` looking at ``target`` with world z up (OpenCV extrinsics)."""
    eye_v, target_v = np.asarray(eye, float), np.asarray(target, float)
    forward = target_v - eye_v
    forward /= np.linalg.norm(forward)
    right = np.cross(forward, [0.0, 0.0, 1.0])
    if np.linalg.norm(right) < 1e-6:
        raise ValueError("look_at_camera: looking straight down the z axis is ambiguous; tilt the camera")
    right /= np.linalg.norm(right)
    down = np.cross(forward, right)
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = np.stack([right, down, forward], 1)
    cam_to_world[:3, 3] = eye_v
    fy = 0.5 * height / np.tan(np.deg2rad(fov_y_deg) / 2)
    return CameraSpec(
        fx=float(fy),
        fy=float(fy),
        cx=width / 2,
        cy=height / 2,
        width=width,
        height=height,
        cam_to_world=cam_to_world.tolist(),
    )


def sapien_pose_matrix(camera: CameraSpec) -> np.ndarray:
    """4×4 world pose of the SAPIEN camera entity that sees what ``camera`` sees."""
    T = camera.extrinsic.copy()
    T[:3, :3] = T[:3, :3] @ _CV_FROM_SAPIEN
    return T
