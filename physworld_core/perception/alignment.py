"""The scene re-expressed so that its support plane is level: what reconstruction models in (the twin's world is
gravity-aligned), perceived once by the perception stage alongside the scene as captured."""

from __future__ import annotations

import numpy as np

from physworld_core.errors import ReconstructionError
from physworld_core.scene import CameraSpec, ScenePackage

MIN_ALIGN_TILT_DEG = 0.25
"""Below this, tilt is plane-fit noise (0.25° moves a point 0.5 m away by 2 mm, under the plane's own rms);
re-expressing the scene would only run perception twice."""
MAX_TILT_DEG = 15.0
"""A support plane tilted more than this from the calibrated vertical means bad extrinsics, not a slope."""


def gravity_alignment(normal: np.ndarray) -> np.ndarray:
    """Rotation taking the support-plane normal to +z (minimal rotation)."""
    n = normal / np.linalg.norm(normal)
    z = np.array([0.0, 0.0, 1.0])
    axis = np.cross(n, z)
    s, c = np.linalg.norm(axis), float(n @ z)
    if s < 1e-9:
        return np.eye(3)
    k = axis / s
    K = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + s * K + (1 - c) * K @ K


def tilt_from_vertical_deg(normal) -> float:
    """How far (degrees) a support plane's normal is from the world's vertical."""
    normal = np.asarray(normal)
    return float(np.degrees(np.arccos(np.clip(normal[2], -1, 1))))


def plane_tilt_deg(normal) -> float:
    """How far (degrees) a support plane's normal is from the world's vertical.

    Raises:
        ReconstructionError: more than :data:`MAX_TILT_DEG`: the camera's extrinsics are wrong.
    """
    tilt = tilt_from_vertical_deg(normal)
    if tilt > MAX_TILT_DEG:
        raise ReconstructionError(
            f"support plane is tilted {tilt:.1f} deg from the camera's vertical: check camera.json's cam_to_world"
        )
    return tilt


def needs_alignment(tilt_deg: float) -> bool:
    """Whether a plane this tilted is re-expressed level (see :data:`MIN_ALIGN_TILT_DEG`)."""
    return tilt_deg > MIN_ALIGN_TILT_DEG


def aligned_scene(scene: ScenePackage, normal) -> ScenePackage:
    """``scene`` with its camera turned so that the plane of ``normal`` is level (the pixels are the same)."""
    R = gravity_alignment(np.asarray(normal))
    T = np.eye(4)
    T[:3, :3] = R
    camera = scene.camera
    rotated = CameraSpec(
        fx=camera.fx,
        fy=camera.fy,
        cx=camera.cx,
        cy=camera.cy,
        width=camera.width,
        height=camera.height,
        cam_to_world=(T @ camera.extrinsic).tolist(),
    )
    return ScenePackage(
        task_id=scene.task_id,
        rgb=scene.rgb,
        depth_m=scene.depth_m,
        camera=rotated,
        prompt=scene.prompt,
        source=scene.source,
    )
