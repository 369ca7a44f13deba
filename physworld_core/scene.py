"""The pipeline's only input: one RGB-D frame, the camera that took it, and a prompt.

A scene package is the same type whether it came from a benchmark world, a stock ManiSkill env or a user's
camera. Validation happens here, once, so every later stage can trust shapes and units.

Conventions
- ``rgb`` is ``uint8`` H×W×3; ``depth_m`` is ``float32`` H×W metres along the optical axis (z-depth),
  0 or NaN where invalid.
- The camera follows the OpenCV convention (x right, y down, z forward). ``cam_to_world`` is the 4×4
  camera-to-world transform in the robot's world frame (z up, robot base at ``RobotSetup.base_pose``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from physworld_core.errors import SceneError

MAX_DEPTH_M = 20.0
"""Depths beyond this are not a tabletop scene; usually millimetres were passed as metres."""


@dataclass(frozen=True)
class CameraSpec:
    """Pinhole intrinsics plus optional extrinsics.

    Args:
        fx, fy: focal lengths in pixels (> 0).
        cx, cy: principal point in pixels, inside the image.
        width, height: image size in pixels.
        cam_to_world: 4×4 row-major camera-to-world transform (OpenCV camera axes). ``None`` means the
            camera frame is the world frame, which later stages reject because gravity is unknown.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    cam_to_world: tuple[tuple[float, ...], ...] | None = None

    def __post_init__(self) -> None:
        for name in ("fx", "fy"):
            value = getattr(self, name)
            if not np.isfinite(value) or value <= 0:
                raise SceneError(f"camera.{name} must be a positive number of pixels, got {value!r}")
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise SceneError(f"camera size must be positive, got {self.width}x{self.height}")
        if not (0 <= self.cx < self.width) or not (0 <= self.cy < self.height):
            raise SceneError(
                f"camera principal point ({self.cx}, {self.cy}) lies outside the "
                f"{self.width}x{self.height} image"
            )
        if self.cam_to_world is not None:
            m = np.asarray(self.cam_to_world, dtype=np.float64)
            if m.shape != (4, 4) or not np.all(np.isfinite(m)):
                raise SceneError(f"camera.cam_to_world must be a finite 4x4 matrix, got shape {m.shape}")
            rot = m[:3, :3]
            if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-3) or np.linalg.det(rot) < 0:
                raise SceneError("camera.cam_to_world rotation is not orthonormal (right-handed)")
            object.__setattr__(self, "cam_to_world", tuple(tuple(float(v) for v in row) for row in m))

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)

    @property
    def extrinsic(self) -> np.ndarray:
        if self.cam_to_world is None:
            raise SceneError("camera.json has no cam_to_world extrinsics; gravity and the table are unknown")
        return np.asarray(self.cam_to_world, dtype=np.float64)

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    def resized(self, width: int, height: int) -> CameraSpec:
        """The same camera (pose, field of view) rendering ``width`` × ``height`` pixels."""
        sx, sy = width / self.width, height / self.height
        return CameraSpec(
            fx=self.fx * sx,
            fy=self.fy * sy,
            cx=self.cx * sx,
            cy=self.cy * sy,
            width=int(width),
            height=int(height),
            cam_to_world=self.cam_to_world,
        )

    @classmethod
    def from_dict(cls, data: dict, source: str = "camera.json") -> CameraSpec:
        missing = [k for k in ("fx", "fy", "cx", "cy", "width", "height") if k not in data]
        if missing:
            raise SceneError(f"{source}: missing intrinsics {', '.join(missing)}")
        try:
            return cls(
                fx=float(data["fx"]),
                fy=float(data["fy"]),
                cx=float(data["cx"]),
                cy=float(data["cy"]),
                width=int(data["width"]),
                height=int(data["height"]),
                cam_to_world=data.get("cam_to_world"),
            )
        except (TypeError, ValueError) as exc:
            if isinstance(exc, SceneError):
                raise SceneError(f"{source}: {exc}") from None
            raise SceneError(f"{source}: intrinsics must be numbers ({exc})") from None

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """Project N×3 camera-frame points to N×2 continuous pixel coordinates (u, v).

        Pixel (row r, col c) covers u in [c, c+1), v in [r, r+1) (SAPIEN/ManiSkill put cx at width/2), so
        ``np.floor`` of the result indexes the image; :func:`depth_to_points_world` uses the same convention.
        """
        z = np.clip(points_cam[:, 2], 1e-6, None)
        return np.stack(
            [self.fx * points_cam[:, 0] / z + self.cx, self.fy * points_cam[:, 1] / z + self.cy], 1
        )


@dataclass(frozen=True)
class ScenePackage:
    """One RGB-D observation and the instruction.

    Args:
        task_id: key of the task partition (letters, digits, ``-`` and ``_``).
        rgb: H×W×3 uint8 image.
        depth_m: H×W float32 depth in metres (0/NaN = invalid).
        camera: intrinsics and extrinsics matching the image size.
        prompt: the instruction, e.g. "put the red can in the bin".
        source: where the package came from (``benchmark:<family>:<seed>``, ``maniskill:<env_id>``, a path).
    """

    task_id: str
    rgb: np.ndarray
    depth_m: np.ndarray
    camera: CameraSpec
    prompt: str
    source: str = "user"
    metadata: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        validate_task_id(self.task_id)
        rgb, depth = self.rgb, self.depth_m
        if not isinstance(self.prompt, str) or not self.prompt.strip():
            raise SceneError(f"task {self.task_id}: the prompt is empty")
        if rgb.ndim != 3 or rgb.shape[2] != 3 or rgb.dtype != np.uint8:
            raise SceneError(f"task {self.task_id}: rgb must be HxWx3 uint8, got {rgb.shape} {rgb.dtype}")
        if depth.ndim != 2:
            raise SceneError(f"task {self.task_id}: depth must be HxW, got shape {depth.shape}")
        if depth.shape != rgb.shape[:2]:
            raise SceneError(
                f"task {self.task_id}: depth is {depth.shape[1]}x{depth.shape[0]} but rgb is "
                f"{rgb.shape[1]}x{rgb.shape[0]}; they must be the same size (registered to one camera)"
            )
        if (self.camera.width, self.camera.height) != (rgb.shape[1], rgb.shape[0]):
            raise SceneError(
                f"task {self.task_id}: camera.json says {self.camera.width}x{self.camera.height} but the "
                f"image is {rgb.shape[1]}x{rgb.shape[0]}"
            )
        valid = np.isfinite(depth) & (depth > 0)
        if valid.mean() < 0.05:
            raise SceneError(
                f"task {self.task_id}: depth has valid values in only {100 * valid.mean():.1f}% of pixels "
                "(all zero or NaN?)"
            )
        median = float(np.median(depth[valid]))
        if median > MAX_DEPTH_M:
            raise SceneError(
                f"task {self.task_id}: median depth is {median:.1f} m, beyond {MAX_DEPTH_M:.0f} m; depth.npy must "
                "be metres (depth.png is millimetres)"
            )
        self.camera.extrinsic  # noqa: B018 - raises SceneError when extrinsics are missing
        object.__setattr__(self, "depth_m", np.where(valid, depth, 0.0).astype(np.float32))

    @property
    def height(self) -> int:
        return int(self.rgb.shape[0])

    @property
    def width(self) -> int:
        return int(self.rgb.shape[1])


def validate_task_id(task_id: str) -> str:
    """Task ids become partition keys and path components: keep them to a safe alphabet."""
    import re

    if not isinstance(task_id, str) or not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_\-]{0,127}", task_id):
        raise SceneError(
            f"task id {task_id!r} is not allowed: use 1-128 letters, digits, '-' or '_' (no paths like '../x')"
        )
    return task_id


def load_scene_package(folder: str | Path, task_id: str | None = None) -> ScenePackage:
    """Read a scene package folder: rgb.png, depth.png (mm) or depth.npy (m), camera.json, prompt.txt."""
    from PIL import Image, UnidentifiedImageError

    folder = Path(folder)
    if not folder.is_dir():
        raise SceneError(f"{folder}: scene package folder does not exist")
    task_id = task_id or folder.name

    def need(name: str) -> Path:
        path = folder / name
        if not path.is_file():
            raise SceneError(f"{folder}: missing {name}")
        return path

    try:
        rgb = np.asarray(Image.open(need("rgb.png")).convert("RGB"), dtype=np.uint8)
    except (UnidentifiedImageError, OSError) as exc:
        raise SceneError(f"{folder / 'rgb.png'}: unreadable PNG ({exc})") from None
    if (folder / "depth.npy").is_file():
        try:
            depth = np.load(folder / "depth.npy", allow_pickle=False).astype(np.float32)
        except (ValueError, OSError) as exc:
            raise SceneError(f"{folder / 'depth.npy'}: unreadable ({exc})") from None
    elif (folder / "depth.png").is_file():
        try:
            raw = np.asarray(Image.open(folder / "depth.png"))
        except (UnidentifiedImageError, OSError) as exc:
            raise SceneError(f"{folder / 'depth.png'}: unreadable PNG ({exc})") from None
        if raw.dtype != np.uint16:
            raise SceneError(f"{folder / 'depth.png'}: must be 16-bit millimetres, got {raw.dtype}")
        depth = raw.astype(np.float32) / 1000.0
    else:
        raise SceneError(f"{folder}: missing depth.png (uint16 mm) or depth.npy (float32 m)")
    try:
        camera_data = json.loads(need("camera.json").read_text())
    except json.JSONDecodeError as exc:
        raise SceneError(f"{folder / 'camera.json'}: not valid JSON ({exc})") from None
    if not isinstance(camera_data, dict):
        raise SceneError(f"{folder / 'camera.json'}: must be a JSON object")
    camera = CameraSpec.from_dict(camera_data, source=str(folder / "camera.json"))
    prompt = need("prompt.txt").read_text().strip()
    return ScenePackage(
        task_id=task_id, rgb=rgb, depth_m=depth, camera=camera, prompt=prompt, source=str(folder)
    )


def save_scene_package(scene: ScenePackage, folder: str | Path) -> Path:
    """Write the documented folder layout (depth as float32 metres)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.rgb).save(folder / "rgb.png")
    np.save(folder / "depth.npy", scene.depth_m.astype(np.float32))
    (folder / "camera.json").write_text(json.dumps(asdict(scene.camera), indent=2))
    (folder / "prompt.txt").write_text(scene.prompt + "\n")
    return folder


def depth_to_points_world(depth_m: np.ndarray, camera: CameraSpec) -> tuple[np.ndarray, np.ndarray]:
    """Back-project every valid pixel; returns (N×3 world points, N×2 integer pixel (row, col))."""
    rows, cols = np.nonzero(depth_m > 0)
    z = depth_m[rows, cols].astype(np.float64)
    x = (cols + 0.5 - camera.cx) / camera.fx * z
    y = (rows + 0.5 - camera.cy) / camera.fy * z
    pts_cam = np.stack([x, y, z], 1)
    T = camera.extrinsic
    return pts_cam @ T[:3, :3].T + T[:3, 3], np.stack([rows, cols], 1)
