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

import errno
import io
import json
import math
import os
import stat
import struct
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from numpy.lib import format as npy_format
from PIL import Image

from physworld_core.errors import SceneError
from physworld_core.lake.tables import validate_task_id
from physworld_core.limits import PackageLimits, quoted

if TYPE_CHECKING:  # types only: the store sits below the scene layer but is only passed in here
    from physworld_core.store import Store

MAX_DEPTH_M = 20.0
"""Depths beyond this are not a tabletop scene; usually millimetres were passed as metres."""

MAX_FOCAL_PX = 1e6
"""A focal length beyond this many pixels is a field of view under a thousandth of a degree on a 4K frame:
not a camera that sees a table, but a unit or exponent mistake."""

PACKAGE_FILES = ("rgb.png", "depth.png", "depth.npy", "camera.json", "prompt.txt", "masks.png", "labels.json")
"""Every file a scene package may hold; anything else in the folder is refused."""

TEXT_FILES = ("camera.json", "prompt.txt", "labels.json")
"""Package files held to ``PackageLimits.max_text_bytes`` (the others to ``max_file_bytes``)."""

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class CameraSpec:
    """Pinhole intrinsics plus optional extrinsics.

    Args:
        fx, fy: focal lengths in pixels (> 0 and at most ``MAX_FOCAL_PX``).
        cx, cy: principal point in pixels, inside the image.
        width, height: image size in pixels.
        cam_to_world: 4×4 row-major camera-to-world transform (OpenCV camera axes), bottom row
            ``[0, 0, 0, 1]``. ``None`` means the camera frame is the world frame, which later stages reject
            because gravity is unknown.
        workspace: ``(min corner, max corner)`` of the world-frame box outside which nothing is segmented, as
            ``physworld calibrate`` writes it (``camera.json``'s ``"workspace": {"min": […], "max": […]}``);
            ``None``: the robot's own reach.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    width: int
    height: int
    cam_to_world: tuple[tuple[float, ...], ...] | None = None
    workspace: tuple[tuple[float, float, float], tuple[float, float, float]] | None = None

    def __post_init__(self) -> None:
        for name in ("fx", "fy", "cx", "cy"):
            value = getattr(self, name)
            if not math.isfinite(value):
                raise SceneError(f"camera: {name} must be a finite number, got {value!r}")
        for name in ("fx", "fy"):
            value = getattr(self, name)
            if not 0 < value <= MAX_FOCAL_PX:
                raise SceneError(
                    f"camera: {name} must be a positive number of pixels up to {MAX_FOCAL_PX:.0e}, got {value!r}"
                )
        if int(self.width) <= 0 or int(self.height) <= 0:
            raise SceneError(f"camera: size must be positive, got {self.width}x{self.height}")
        if not (0 <= self.cx < self.width) or not (0 <= self.cy < self.height):
            raise SceneError(
                f"camera: principal point ({self.cx}, {self.cy}) lies outside the "
                f"{self.width}x{self.height} image"
            )
        if self.cam_to_world is not None:
            m = np.asarray(self.cam_to_world, dtype=np.float64)
            if m.shape != (4, 4):
                raise SceneError(f"camera: cam_to_world must be a 4x4 matrix, got shape {m.shape}")
            bad = np.argwhere(~np.isfinite(m))
            if len(bad):
                row, col = (int(i) for i in bad[0])
                raise SceneError(
                    f"camera: cam_to_world[{row}][{col}] must be a finite number, got {m[row, col]}"
                )
            if not np.allclose(m[3], (0.0, 0.0, 0.0, 1.0), rtol=0.0, atol=1e-9):
                raise SceneError(
                    f"camera: cam_to_world bottom row must be [0, 0, 0, 1], got {m[3].tolist()} "
                    "(a rigid camera-to-world transform)"
                )
            rot = m[:3, :3]
            if not np.allclose(rot @ rot.T, np.eye(3), atol=1e-3) or np.linalg.det(rot) < 0:
                raise SceneError("camera: cam_to_world rotation is not orthonormal (right-handed)")
            object.__setattr__(self, "cam_to_world", tuple(tuple(float(v) for v in row) for row in m))
        if self.workspace is not None:
            box = np.asarray(self.workspace, dtype=np.float64)
            if box.shape != (2, 3) or not np.all(np.isfinite(box)):
                raise SceneError(f"camera: workspace must be two finite 3-D corners, got {self.workspace!r}")
            if not np.all(box[0] < box[1]):
                raise SceneError(
                    f"camera: workspace min {box[0].tolist()} must lie below max {box[1].tolist()} on every axis"
                )
            object.__setattr__(self, "workspace", tuple(tuple(float(v) for v in corner) for corner in box))

    @property
    def K(self) -> np.ndarray:
        return np.array([[self.fx, 0, self.cx], [0, self.fy, self.cy], [0, 0, 1]], dtype=np.float64)

    @property
    def extrinsic(self) -> np.ndarray:
        if self.cam_to_world is None:
            raise SceneError("camera.json has no cam_to_world extrinsics; gravity and the table are unknown")
        return np.asarray(self.cam_to_world, dtype=np.float64)

    def to_dict(self) -> dict:
        """The camera as ``camera.json`` holds it (no ``workspace`` key when there is none, so a camera
        written before workspaces existed reads and writes the same bytes)."""
        data = asdict(self)
        if self.cam_to_world is not None:
            data["cam_to_world"] = [list(row) for row in self.cam_to_world]
        if data["workspace"] is None:
            del data["workspace"]
        else:
            data["workspace"] = {"min": list(self.workspace[0]), "max": list(self.workspace[1])}
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict())

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
            workspace=self.workspace,
        )

    @classmethod
    def from_dict(cls, data: dict, source: str = "camera.json") -> CameraSpec:
        """A camera from parsed JSON, refusing anything but JSON numbers where numbers belong.

        Strings (``"115.46"``), booleans, fractional sizes and non-finite values would otherwise be coerced
        here or fail stages later; each refusal names ``source`` and the exact field.
        """
        if not isinstance(data, dict):
            raise SceneError(f"{source}: must be a JSON object, got {_json_kind(data)}")
        missing = [k for k in ("fx", "fy", "cx", "cy", "width", "height") if k not in data]
        if missing:
            raise SceneError(f"{source}: missing intrinsics {', '.join(missing)}")
        values = {name: _json_number(data[name], f"{source}: {name}") for name in ("fx", "fy", "cx", "cy")}
        for name in ("width", "height"):
            value = _json_number(data[name], f"{source}: {name}")
            if value != int(value):
                raise SceneError(f"{source}: {name} must be a whole number of pixels, got {value!r}")
            values[name] = int(value)
        matrix = data.get("cam_to_world")
        if matrix is not None:
            if (
                not isinstance(matrix, list)
                or len(matrix) != 4
                or not all(isinstance(row, list) and len(row) == 4 for row in matrix)
            ):
                raise SceneError(
                    f"{source}: cam_to_world must be null or 4 rows of 4 numbers, got {_short(matrix)}"
                )
            matrix = [
                [_json_number(v, f"{source}: cam_to_world[{r}][{c}]") for c, v in enumerate(row)]
                for r, row in enumerate(matrix)
            ]
        workspace = data.get("workspace")
        if workspace is not None:
            if not isinstance(workspace, dict) or set(workspace) != {"min", "max"}:
                raise SceneError(
                    f'{source}: workspace must be {{"min": [x, y, z], "max": [x, y, z]}}, got {_short(workspace)}'
                )
            corners = []
            for key in ("min", "max"):
                corner = workspace[key]
                if not isinstance(corner, list) or len(corner) != 3:
                    raise SceneError(f"{source}: workspace.{key} must be 3 numbers, got {_short(corner)}")
                corners.append(
                    tuple(_json_number(v, f"{source}: workspace.{key}[{i}]") for i, v in enumerate(corner))
                )
            workspace = tuple(corners)
        try:
            return cls(**values, cam_to_world=matrix, workspace=workspace)
        except SceneError as exc:
            raise SceneError(f"{source}: {str(exc).removeprefix('camera: ')}") from None

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


def _json_kind(value: object) -> str:
    """How a JSON value reads in a message: ``the string "115.46"``, ``true``, ``a list``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, str):
        return f"the string {json.dumps(value[:40])}{'…' if len(value) > 40 else ''}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return _short(value)


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:80] + "…"


def _json_number(value: object, label: str) -> float:
    """``value`` as a float if it is a finite JSON number (not a string or boolean), else a SceneError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SceneError(f"{label} must be a number, got {_json_kind(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise SceneError(f"{label} is out of range: a {len(str(value))}-digit integer") from None
    if not math.isfinite(number):
        raise SceneError(f"{label} must be a finite number, got {value!r}")
    return number


def _entry_kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "symbolic link"
    if stat.S_ISREG(mode):
        return "file"
    if stat.S_ISDIR(mode):
        return "folder"
    return "special file"


def check_package_entry(name: str, kind: str, size: int, where: str, limits: PackageLimits) -> None:
    """Refuse one entry of a package folder (``kind`` as ``_entry_kind`` names it) before anything reads it.

    Only the documented files may be there, each a regular file within its size limit: a symbolic link could
    make the platform read (and store, and copy) a file outside the package, a FIFO would block the reader,
    an unexpected file would be carried along unchecked.
    """
    if name not in PACKAGE_FILES:
        raise SceneError(
            f"{where}: unexpected {kind} {quoted(name, 40)}; a scene package holds only {', '.join(PACKAGE_FILES)}"
        )
    if kind == "symbolic link":
        raise SceneError(f"{where}/{name} is a symbolic link; put the file itself in the package")
    if kind != "file":
        raise SceneError(f"{where}/{name} is a {kind}, not a regular file")
    limits.check_file_size(f"{where}/{name}", size, text=name in TEXT_FILES)


def read_package_folder(
    folder: str | Path, limits: PackageLimits | None = None, where: str | None = None
) -> dict[str, bytes]:
    """The bytes of each file of a scene-package folder, after checking every entry and its size.

    Nothing outside the folder is read: entries are examined without following links, and each file is
    opened relative to the folder with ``O_NOFOLLOW`` (a link swapped in after the check is refused too).
    The bytes returned are what gets validated and stored, so a file edited afterwards changes nothing.
    ``where`` names the folder in messages (default: its path).
    """
    limits = limits or PackageLimits()
    where = where or str(folder)
    try:
        dir_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except FileNotFoundError:
        raise SceneError(f"{where}: scene package folder does not exist") from None
    except NotADirectoryError:
        raise SceneError(f"{where} is not a folder; a scene package is a folder of files") from None
    except OSError as exc:
        raise SceneError(f"{where}: cannot open the scene package folder ({exc.strerror})") from None
    try:
        try:
            names = sorted(os.listdir(dir_fd))
            entries = {name: os.stat(name, dir_fd=dir_fd, follow_symlinks=False) for name in names}
        except OSError as exc:
            raise SceneError(
                f"{where}: cannot list the folder ({exc.strerror}); was it changed meanwhile?"
            ) from None
        for name, info in entries.items():
            check_package_entry(name, _entry_kind(info.st_mode), info.st_size, where, limits)
        return {name: _read_file(dir_fd, name, where, limits) for name in names}
    finally:
        os.close(dir_fd)


def _read_file(dir_fd: int, name: str, where: str, limits: PackageLimits) -> bytes:
    label = f"{where}/{name}"
    try:
        fd = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=dir_fd)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise SceneError(f"{label} is a symbolic link; put the file itself in the package") from None
        raise SceneError(f"{label}: cannot open ({exc.strerror})") from None
    with os.fdopen(fd, "rb") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise SceneError(f"{label} is a {_entry_kind(info.st_mode)}, not a regular file")
        limit = limits.max_text_bytes if name in TEXT_FILES else limits.max_file_bytes
        limits.check_file_size(label, info.st_size, text=name in TEXT_FILES)
        data = handle.read(limit + 1)  # a file that grew since the check is still cut at the limit
    limits.check_file_size(label, len(data), text=name in TEXT_FILES)
    return data


def _png(data: bytes, label: str, limits: PackageLimits):
    """Open PNG bytes after checking the size its header declares (PIL decodes pixels only on ``load``)."""
    if len(data) < 24 or data[:8] != _PNG_SIGNATURE or data[12:16] != b"IHDR":
        raise SceneError(f"{label}: unreadable PNG (no PNG signature and header)")
    width, height = struct.unpack(">II", data[16:24])
    limits.check_image_size(label, width, height)
    try:
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        image.load()
    except Exception as exc:  # noqa: BLE001 - a malformed file can fail anywhere in the decoder
        raise SceneError(f"{label}: unreadable PNG ({type(exc).__name__}: {_short(str(exc))})") from None
    return image


def _text(data: bytes, label: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SceneError(
            f"{label} is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start}); save it as UTF-8"
        ) from None


def _json(data: bytes, label: str) -> object:
    try:
        return json.loads(_text(data, label))
    except json.JSONDecodeError as exc:
        raise SceneError(f"{label}: not valid JSON ({exc})") from None
    except (ValueError, RecursionError) as exc:  # integer strings too long, nesting too deep
        raise SceneError(f"{label}: not usable JSON ({type(exc).__name__}: {_short(str(exc))})") from None


def _depth_npy(data: bytes, label: str, limits: PackageLimits) -> np.ndarray:
    """A ``.npy`` depth map, its header (shape, dtype) checked before numpy allocates the array."""
    buffer = io.BytesIO(data)
    try:
        version = npy_format.read_magic(buffer)
        read_header = {(1, 0): npy_format.read_array_header_1_0, (2, 0): npy_format.read_array_header_2_0}
        if version not in read_header:
            raise ValueError(f"unsupported .npy format version {version}")
        shape, _fortran, dtype = read_header[version](buffer)
    except Exception as exc:  # noqa: BLE001 - numpy raises several kinds for a malformed header
        raise SceneError(f"{label}: unreadable ({type(exc).__name__}: {_short(str(exc))})") from None
    if dtype.kind not in "fiu" or dtype.fields is not None:
        raise SceneError(f"{label}: must hold float32 metres, got dtype {dtype}")
    if len(shape) != 2:
        raise SceneError(f"{label}: depth must be HxW, got shape {shape}")
    limits.check_image_size(label, shape[1], shape[0])
    try:
        array = np.load(io.BytesIO(data), allow_pickle=False)
    except Exception as exc:  # noqa: BLE001 - truncated or inconsistent data
        raise SceneError(f"{label}: unreadable ({type(exc).__name__}: {_short(str(exc))})") from None
    return array.astype(np.float32)


def scene_from_files(
    files: Mapping[str, bytes],
    task_id: str,
    *,
    where: str,
    source: str,
    limits: PackageLimits | None = None,
) -> ScenePackage:
    """Decode and validate a package held as ``{file name: bytes}`` (from a folder, the inbox or blobs).

    ``where`` names the package in messages (``inbox/kitchen-1``); ``source`` becomes the scene's source.
    Limits are checked again here, so packages read from anywhere pass the same rules.
    """
    limits = limits or PackageLimits()
    for name, data in sorted(files.items()):
        check_package_entry(name, "file", len(data), where, limits)

    def need(name: str) -> bytes:
        if name not in files:
            raise SceneError(f"{where}: missing {name}")
        return files[name]

    rgb_image = _png(need("rgb.png"), f"{where}/rgb.png", limits)
    try:
        rgb = np.asarray(rgb_image.convert("RGB"), dtype=np.uint8)
    except Exception as exc:  # noqa: BLE001 - a decodable but odd PNG mode can fail in conversion
        raise SceneError(
            f"{where}/rgb.png: unreadable PNG ({type(exc).__name__}: {_short(str(exc))})"
        ) from None
    if "depth.npy" in files:
        depth = _depth_npy(files["depth.npy"], f"{where}/depth.npy", limits)
    elif "depth.png" in files:
        label = f"{where}/depth.png"
        raw = np.asarray(_png(files["depth.png"], label, limits))
        if raw.dtype != np.uint16:
            raise SceneError(f"{label}: must be 16-bit millimetres, got {raw.dtype}")
        depth = raw.astype(np.float32) / 1000.0
    else:
        raise SceneError(f"{where}: missing depth.png (uint16 mm) or depth.npy (float32 m)")
    camera_data = _json(need("camera.json"), f"{where}/camera.json")
    if not isinstance(camera_data, dict):
        raise SceneError(f"{where}/camera.json: must be a JSON object")
    camera = CameraSpec.from_dict(camera_data, source=f"{where}/camera.json")
    prompt = limits.check_prompt(_text(need("prompt.txt"), f"{where}/prompt.txt"), f"{where}/prompt.txt")
    if "masks.png" in files:
        _png(files["masks.png"], f"{where}/masks.png", limits)
    if "labels.json" in files:
        _json(files["labels.json"], f"{where}/labels.json")
    return ScenePackage(task_id=task_id, rgb=rgb, depth_m=depth, camera=camera, prompt=prompt, source=source)


def load_scene_package(
    folder: str | Path, task_id: str | None = None, limits: PackageLimits | None = None
) -> ScenePackage:
    """Read a scene package folder: rgb.png, depth.png (mm) or depth.npy (m), camera.json, prompt.txt."""
    folder = Path(folder)
    files = read_package_folder(folder, limits)
    return scene_from_files(
        files, task_id or folder.name, where=str(folder), source=str(folder), limits=limits
    )


def save_scene_package(scene: ScenePackage, folder: str | Path) -> Path:
    """Write the documented folder layout (depth as float32 metres)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    Image.fromarray(scene.rgb).save(folder / "rgb.png")
    np.save(folder / "depth.npy", scene.depth_m.astype(np.float32))
    (folder / "camera.json").write_text(json.dumps(scene.camera.to_dict(), indent=2))
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


def load_scene(store: Store, task_id: str) -> ScenePackage:
    """A stored scene package read back (the ``scenes`` row and its blobs, hash-verified): what every stage
    after the scene stage starts from."""
    row = store.one_row("scenes", task_id)
    rgb = np.asarray(
        Image.open(io.BytesIO(store.blobs.get_bytes(row["rgb_uri"]))).convert("RGB"), dtype=np.uint8
    )
    depth = np.load(io.BytesIO(store.blobs.get_bytes(row["depth_uri"])), allow_pickle=False)
    camera = CameraSpec.from_dict(json.loads(row["camera_json"]), f"scenes/{task_id}/camera_json")
    return ScenePackage(
        task_id=task_id, rgb=rgb, depth_m=depth, camera=camera, prompt=row["prompt"], source=row["source"]
    )
