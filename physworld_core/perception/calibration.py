"""Calibrate a camera that was never calibrated to a robot, from one RGB-D frame and where the robot stands.

The table fixes three of the six degrees of freedom of ``cam_to_world``: its plane gives gravity (world z is
the plane's normal) and the height (the table top is world z = 0, the frame :class:`~physworld_core.robot.
RobotSetup` and every scene package use). What the frame cannot know is where on the table the robot stands
and which way it faces; the user says so (:class:`RobotPlacement`), relative to a point of the table they
choose: the centre of the table's visible area by default, or a pixel they click.

The in-table axes the placement is given in are the camera's: ``forward`` is the camera's viewing direction
laid flat on the table (away from the camera), ``left`` is 90° anticlockwise from it seen from above. A robot
placed at ``base_forward_m = -0.615`` with heading 0 stands 0.615 m in front of the reference point on the
camera's side, facing away from the camera; that is the default, and it puts the world origin (the centre of
the robot's reach in :data:`~physworld_core.robot.PANDA`) on the reference point.

The result also holds a workspace box in world coordinates: the visible table's extent (from above), clipped
to the robot's reach, up to the reach's height. Nothing outside it should be segmented: the floor past the
table edge, a wall, the robot's own base.

The plane is fitted in the camera frame by the same RANSAC + least-squares fit perception uses
(:func:`~physworld_core.perception.plane.fit_plane`), gated to planes that face the camera from below.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
from scipy import ndimage

from physworld_core.errors import SceneError
from physworld_core.perception.plane import fit_plane
from physworld_core.robot import PANDA, RobotSetup
from physworld_core.scene import CameraSpec

CAMERA_UP_TILT_DEG = 75.0
"""The table's normal lies within this angle of the direction the gate looks for (the camera's "up and back",
halfway between image-up and towards the camera): a camera looking straight down, or nearly level across
the table (15° down), both pass; a wall seen head-on or a ceiling does not."""

MIN_CAMERA_HEIGHT_M = 0.05
"""A camera closer than this to the fitted plane is not looking at a table from above."""

TABLE_PIECE_SHARE = 0.1
"""A piece of the plane's inliers this large against the largest piece is table too (see :func:`_table_region`)."""

TABLE_EXTENT_PERCENTILES = (1.0, 99.0)
"""The table's visible extent, robust to the odd stray inlier far away (a coplanar strip of floor)."""


@dataclass(frozen=True)
class RobotPlacement:
    """Where the robot's base stands on the table, relative to a reference point of the table.

    Args:
        base_forward_m, base_left_m: the base's position from the reference point, along the camera's viewing
            direction laid on the table (forward, away from the camera) and 90° anticlockwise from it (left),
            metres.
        heading_deg: the direction the robot faces (its +x), anticlockwise from ``forward`` seen from above.
        pixel: (row, col) of the reference point clicked in the image; ``None`` takes the centre of the
            table's visible area.
    """

    base_forward_m: float = PANDA.base_xyz[0]
    base_left_m: float = 0.0
    heading_deg: float = 0.0
    pixel: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        for name in ("base_forward_m", "base_left_m", "heading_deg"):
            value = getattr(self, name)
            if not np.isfinite(value):
                raise ValueError(f"RobotPlacement.{name} must be a finite number, got {value!r}")
        if abs(self.base_forward_m) > 5.0 or abs(self.base_left_m) > 5.0:
            raise ValueError(
                f"RobotPlacement: the base at ({self.base_forward_m}, {self.base_left_m}) m is more than 5 m "
                "from the reference point; give metres, not millimetres"
            )
        if self.pixel is not None:
            if len(self.pixel) != 2 or not all(np.isfinite(v) for v in self.pixel):
                raise ValueError(f"RobotPlacement.pixel must be (row, col), got {self.pixel!r}")
            object.__setattr__(self, "pixel", (float(self.pixel[0]), float(self.pixel[1])))


@dataclass(frozen=True)
class Calibration:
    """A camera's pose in the robot's world frame, found from the table, and the workspace box.

    Args:
        cam_to_world: 4×4 camera-to-world transform (OpenCV camera axes; world z up, table top at z = 0).
        workspace_min, workspace_max: corners of the world-frame box outside which nothing is segmented.
        camera_height_m: the camera's height above the table.
        camera_pitch_deg: how far the optical axis points below the horizontal (90 = straight down).
        plane_rms_m: RMS distance of the plane's inliers from it (sensor noise + the table's flatness).
        table_fraction: share of the valid depth pixels on the table.
        reference_world: the reference point in world coordinates (on the table).
    """

    cam_to_world: tuple[tuple[float, ...], ...]
    workspace_min: tuple[float, float, float]
    workspace_max: tuple[float, float, float]
    camera_height_m: float
    camera_pitch_deg: float
    plane_rms_m: float
    table_fraction: float
    reference_world: tuple[float, float, float]

    def __post_init__(self) -> None:
        matrix = np.asarray(self.cam_to_world, dtype=np.float64)
        if matrix.shape != (4, 4) or not np.all(np.isfinite(matrix)):
            raise ValueError(f"Calibration.cam_to_world must be a finite 4x4 matrix, got {matrix.shape}")
        if not np.all(np.less(self.workspace_min, self.workspace_max)):
            raise ValueError(
                f"Calibration: workspace_min {self.workspace_min} must lie below workspace_max "
                f"{self.workspace_max} on every axis"
            )
        object.__setattr__(self, "cam_to_world", tuple(tuple(float(v) for v in row) for row in matrix))
        for name in ("workspace_min", "workspace_max", "reference_world"):
            object.__setattr__(self, name, tuple(float(v) for v in getattr(self, name)))

    def camera(self, intrinsics: CameraSpec) -> CameraSpec:
        """``intrinsics`` with this calibration's ``cam_to_world``."""
        return CameraSpec(
            fx=intrinsics.fx,
            fy=intrinsics.fy,
            cx=intrinsics.cx,
            cy=intrinsics.cy,
            width=intrinsics.width,
            height=intrinsics.height,
            cam_to_world=self.cam_to_world,
        )

    def robot(self, robot: RobotSetup = PANDA) -> RobotSetup:
        """``robot`` with its workspace box replaced by this calibration's (what segmentation crops to)."""
        return replace(robot, workspace_min=self.workspace_min, workspace_max=self.workspace_max)

    def camera_json(self, intrinsics: CameraSpec) -> dict:
        """The scene package's ``camera.json``: intrinsics, ``cam_to_world``, and the workspace box and the
        figures the fit rests on (keys :meth:`CameraSpec.from_dict` ignores)."""
        return {
            "fx": intrinsics.fx,
            "fy": intrinsics.fy,
            "cx": intrinsics.cx,
            "cy": intrinsics.cy,
            "width": intrinsics.width,
            "height": intrinsics.height,
            "cam_to_world": [list(row) for row in self.cam_to_world],
            "workspace": {"min": list(self.workspace_min), "max": list(self.workspace_max)},
            "calibration": {
                "camera_height_m": self.camera_height_m,
                "camera_pitch_deg": self.camera_pitch_deg,
                "plane_rms_m": self.plane_rms_m,
                "table_fraction": self.table_fraction,
                "reference_world": list(self.reference_world),
            },
        }


def calibrate(
    depth_m: np.ndarray,
    intrinsics: CameraSpec,
    placement: RobotPlacement | None = None,
    robot: RobotSetup | None = PANDA,
    *,
    inlier_threshold_m: float = 0.01,
) -> Calibration:
    """Fit the table in one depth frame and place the world frame on it where ``placement`` puts the robot.

    Args:
        depth_m: H×W depth in metres along the optical axis, 0 or NaN where the sensor saw nothing.
        intrinsics: the camera's pinhole intrinsics (its ``cam_to_world``, if any, is ignored).
        placement: where the robot stands (default :class:`RobotPlacement`).
        robot: the robot whose base position in its world frame and reach box apply; ``None`` keeps the
            workspace box to the visible table alone (and the base at :data:`PANDA`'s place).
        inlier_threshold_m: plane inlier distance; real sensors at 1 m are noisy to several millimetres.

    Raises:
        SceneError: no plane in the depth, the plane is not below the camera, or the clicked pixel does not
            look at the table.
    """
    placement = placement or RobotPlacement()
    depth = np.asarray(depth_m, dtype=np.float64)
    if depth.shape != (intrinsics.height, intrinsics.width):
        raise SceneError(
            f"depth is {depth.shape[1]}x{depth.shape[0]} but the camera says "
            f"{intrinsics.width}x{intrinsics.height}"
        )
    valid = np.isfinite(depth) & (depth > 0)
    if valid.mean() < 0.05:
        raise SceneError(
            f"depth is missing on {1 - valid.mean():.0%} of the image; the table cannot be fitted from the rest "
            "(is the depth in the right units, and registered to this camera?)"
        )
    rows, cols = np.nonzero(valid)
    z = depth[rows, cols]
    points_cam = np.stack(
        [
            (cols + 0.5 - intrinsics.cx) / intrinsics.fx * z,
            (rows + 0.5 - intrinsics.cy) / intrinsics.fy * z,
            z,
        ],
        1,
    )
    # fit_plane gates on world "up"; look for a plane facing the camera from below: rotate camera points so
    # that "up" is the camera's up-and-back (-y -z), and let the gate be wide.
    gate_up = np.array([0.0, -1.0, -1.0]) / np.sqrt(2.0)
    gate = _rotation_taking(gate_up, np.array([0.0, 0.0, 1.0]))
    try:
        plane = fit_plane(
            points_cam @ gate.T, inlier_threshold_m=inlier_threshold_m, max_tilt_deg=CAMERA_UP_TILT_DEG
        )
    except SceneError as error:
        raise SceneError(f"no table plane found: {error}") from None
    normal = gate.T @ plane.normal_array  # back in camera coordinates
    offset = plane.offset  # the gate is a rotation about the camera: offsets are unchanged
    camera_height = -offset  # signed height of the camera (the origin) above the plane
    if camera_height < MIN_CAMERA_HEIGHT_M:
        raise SceneError(
            f"the fitted plane is not below the camera (the camera is {camera_height:+.3f} m from it, need at "
            f"least {MIN_CAMERA_HEIGHT_M} m above): the table must be seen from above"
        )
    if normal @ np.array([0.0, 0.0, 1.0]) >= 0:
        raise SceneError(
            "the fitted plane is not below the camera: the camera looks away from it (a ceiling or a wall)"
        )

    heights = points_cam @ normal - offset
    on_plane = np.zeros(depth.shape, dtype=bool)
    on_plane[rows, cols] = np.abs(heights) < inlier_threshold_m
    table = _table_region(on_plane)
    table_points = _backproject(depth, intrinsics, table)

    forward = np.array([0.0, 0.0, 1.0]) - normal[2] * normal  # the optical axis laid on the table
    if np.linalg.norm(forward) < 0.05:  # looking straight down: image-up is forward
        forward = np.array([0.0, -1.0, 0.0]) - (-normal[1]) * normal
    forward /= np.linalg.norm(forward)
    left = np.cross(normal, forward)
    table_basis = np.stack([forward, left, normal])  # rows: camera coords → (forward, left, up)

    if placement.pixel is None:
        table_uv = (table_points - normal * offset) @ table_basis[:2].T
        low, high = np.percentile(table_uv, TABLE_EXTENT_PERCENTILES, axis=0)
        reference = normal * offset + ((low + high) / 2.0) @ table_basis[:2]
    else:
        reference = _clicked_point(placement.pixel, intrinsics, normal, offset)

    heading = np.deg2rad(placement.heading_deg)
    world_x = np.cos(heading) * forward + np.sin(heading) * left
    world_y = np.cross(normal, world_x)
    rotation = np.stack([world_x, world_y, normal])  # camera coords → world axes
    base_cam = reference + placement.base_forward_m * forward + placement.base_left_m * left
    base_world = np.asarray((robot or PANDA).base_xyz, dtype=np.float64)
    # world = rotation @ (p_cam - base_cam) + base_world: the base lands where the robot setup says it stands.
    translation = base_world - rotation @ base_cam
    cam_to_world = np.eye(4)
    cam_to_world[:3, :3] = rotation
    cam_to_world[:3, 3] = translation

    table_world = table_points @ rotation.T + translation
    low, high = np.percentile(table_world[:, :2], TABLE_EXTENT_PERCENTILES, axis=0)
    reach_min, reach_max = (
        np.asarray((robot or PANDA).workspace_min),
        np.asarray((robot or PANDA).workspace_max),
    )
    if robot is not None:
        low, high = np.maximum(low, reach_min[:2]), np.minimum(high, reach_max[:2])
        if np.any(low >= high):
            raise SceneError(
                "the visible table and the robot's reach do not overlap with this placement: place the base "
                "nearer the table (the reach box runs from "
                f"{tuple(reach_min[:2])} to {tuple(reach_max[:2])} m around the world origin)"
            )
    pitch = float(np.rad2deg(np.arcsin(np.clip(-(normal @ np.array([0.0, 0.0, 1.0])), -1.0, 1.0))))
    return Calibration(
        cam_to_world=tuple(map(tuple, cam_to_world)),
        workspace_min=(float(low[0]), float(low[1]), float(reach_min[2])),
        workspace_max=(float(high[0]), float(high[1]), float(reach_max[2])),
        camera_height_m=float(camera_height),
        camera_pitch_deg=pitch,
        plane_rms_m=plane.rms,
        table_fraction=float(table.sum() / valid.sum()),
        reference_world=tuple(rotation @ reference + translation),
    )


def write_camera_json(calibration: Calibration, intrinsics: CameraSpec, path: str | Path) -> Path:
    """Write ``camera.json`` (see :meth:`Calibration.camera_json`), replacing the file in one step."""
    path = Path(path)
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_text(json.dumps(calibration.camera_json(intrinsics), indent=2) + "\n")
    temporary.replace(path)
    return path


def _rotation_taking(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The rotation taking unit vector ``a`` onto unit vector ``b`` (not antiparallel), Rodrigues' formula."""
    axis = np.cross(a, b)
    sine, cosine = np.linalg.norm(axis), float(a @ b)
    if sine < 1e-12:
        return np.eye(3)
    k = axis / sine
    cross = np.array([[0.0, -k[2], k[1]], [k[2], 0.0, -k[0]], [-k[1], k[0], 0.0]])
    return np.eye(3) + sine * cross + (1.0 - cosine) * cross @ cross


def _table_region(mask: np.ndarray) -> np.ndarray:
    """The table's pixels among the plane's inliers: the largest 8-connected region after closing one-pixel
    gaps, and every region at least :data:`TABLE_PIECE_SHARE` of its size (objects standing across the table
    cut its image into pieces: the table behind a row of objects is the same table), but not the odd strip
    of a coplanar surface elsewhere."""
    closed = ndimage.binary_closing(mask, structure=np.ones((3, 3)), iterations=2) & mask
    labels, count = ndimage.label(closed, structure=np.ones((3, 3)))
    if count == 0:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    return np.isin(labels, 1 + np.nonzero(sizes >= TABLE_PIECE_SHARE * sizes.max())[0])


def _backproject(depth: np.ndarray, intrinsics: CameraSpec, mask: np.ndarray) -> np.ndarray:
    rows, cols = np.nonzero(mask)
    z = depth[rows, cols]
    return np.stack(
        [
            (cols + 0.5 - intrinsics.cx) / intrinsics.fx * z,
            (rows + 0.5 - intrinsics.cy) / intrinsics.fy * z,
            z,
        ],
        1,
    )


def _clicked_point(pixel: tuple[float, float], intrinsics: CameraSpec, normal: np.ndarray, offset: float):
    row, col = pixel
    if not (0 <= row < intrinsics.height and 0 <= col < intrinsics.width):
        raise SceneError(
            f"the clicked pixel (row {row:g}, col {col:g}) lies outside the "
            f"{intrinsics.width}x{intrinsics.height} image"
        )
    ray = np.array(
        [(col + 0.5 - intrinsics.cx) / intrinsics.fx, (row + 0.5 - intrinsics.cy) / intrinsics.fy, 1.0]
    )
    along = ray @ normal
    t = offset / along if abs(along) > 1e-9 else -1.0
    if t <= 0:
        raise SceneError(
            f"the clicked pixel (row {row:g}, col {col:g}) looks above the horizon: its ray never meets the table"
        )
    return t * ray
