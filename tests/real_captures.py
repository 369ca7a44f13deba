"""Real RGB-D captures with ground truth, for testing perception on sensor data instead of rendered frames.

The captures live in ``tests/data/real/<name>/`` (see its README.md for each one's source, licence, camera and
how it was converted). Every capture has a colour image, a metric depth image from a real depth sensor (holes
included), pinhole intrinsics, and ground truth: instance masks, object poses, or both. Each also carries a
short description and a few prompts a person could give for the scene, naming objects that are really there,
so grounding can be tested on them.

    from tests.real_captures import capture_names, load_capture

    for name in capture_names():
        capture = load_capture(name)
        capture.rgb, capture.depth, capture.camera, capture.instances, capture.objects, capture.prompts

Nothing here depends on the pipeline; it only reads files. Depth is float32 metres with 0 for missing; masks
are int32 labels with 0 for background; poses are 4×4 object-to-camera transforms in metres (OpenCV camera
axes: x right, y down, z forward).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from physworld_core.scene import CameraSpec

DATA_DIR = Path(__file__).resolve().parent / "data" / "real"


@dataclass(frozen=True, eq=False)
class RealObject:
    """One annotated object of a capture.

    Args:
        id: its label in ``RealCapture.instances`` (1, 2, ...).
        name: a short name a person would use for it ("white mug"); assigned by looking at the image unless
            the source names it (``source_label``).
        pose_cam: 4×4 transform from the object's model frame to the camera frame, metres, or ``None`` when the
            source has no pose.
        source_label: the source dataset's own name for the object (a YCB id), if it has one.
    """

    id: int
    name: str
    pose_cam: np.ndarray | None = None
    source_label: str | None = None


@dataclass(frozen=True, eq=False)
class RealCapture:
    """A real RGB-D frame with its ground truth.

    Args:
        name: the capture's folder name.
        rgb: H×W×3 uint8 colour image, registered to the depth.
        depth: H×W float32 sensor depth in metres (distance along the optical axis); 0 where the sensor gave
            nothing.
        camera: the pinhole intrinsics (``cam_to_world`` is ``None``: none of these cameras was calibrated to a
            robot or a table).
        instances: H×W int32 labels, 0 = background, ``RealObject.id`` elsewhere; ``None`` if the source has
            no masks.
        objects: the annotated objects. Objects listed in ``unlabelled_objects`` are visible but have no label.
        description: what the scene shows, in a sentence or three.
        prompts: instructions a person could give for this scene, naming annotated objects.
        annotation: what the ground truth covers and where it comes from.
        unlabelled_objects: visible things the ground truth leaves out, so a count of "objects found" can
            ignore them.
        support_mask: H×W bool mask of the supporting table top, where the source labels it, else ``None``.
        depth_reference: H×W float32 ground-truth depth of the same view (metres, 0 = unknown) where the source
            has one (ClearGrasp: the scene with opaque replicas of the transparent objects), else ``None``.
        source: repository, commit, paths and dataset the files were taken from.
        licence: the licence's name, as the source states it.
        folder: where the files are.
    """

    name: str
    rgb: np.ndarray
    depth: np.ndarray
    camera: CameraSpec
    instances: np.ndarray | None
    objects: tuple[RealObject, ...]
    description: str
    prompts: tuple[str, ...]
    annotation: str
    unlabelled_objects: tuple[str, ...] = ()
    support_mask: np.ndarray | None = None
    depth_reference: np.ndarray | None = None
    source: dict = field(default_factory=dict)
    licence: str = ""
    folder: Path = DATA_DIR

    @property
    def poses(self) -> dict[int, np.ndarray]:
        """Object id -> 4×4 model-to-camera pose, for the objects that have one."""
        return {o.id: o.pose_cam for o in self.objects if o.pose_cam is not None}

    def mask(self, object_id: int) -> np.ndarray:
        """The boolean mask of one annotated object."""
        if self.instances is None:
            raise ValueError(f"capture {self.name!r} has no instance masks, only poses")
        if object_id not in {o.id for o in self.objects}:
            raise ValueError(f"capture {self.name!r} has no object {object_id}; it has {self.object_ids()}")
        return self.instances == object_id

    def object_ids(self) -> list[int]:
        return [o.id for o in self.objects]


def capture_names() -> tuple[str, ...]:
    """The stored captures, in a fixed order."""
    return tuple(sorted(p.parent.name for p in DATA_DIR.glob("*/meta.json")))


def load_capture(name: str) -> RealCapture:
    """Read one capture from ``tests/data/real/<name>/``, checking that its files agree with each other."""
    folder = DATA_DIR / name
    if not (folder / "meta.json").is_file():
        raise ValueError(f"no real capture named {name!r}; the stored ones are {', '.join(capture_names())}")
    meta = json.loads((folder / "meta.json").read_text())
    files = meta["files"]
    cam = meta["camera"]
    camera = CameraSpec(
        fx=float(cam["fx"]),
        fy=float(cam["fy"]),
        cx=float(cam["cx"]),
        cy=float(cam["cy"]),
        width=int(cam["width"]),
        height=int(cam["height"]),
    )
    shape = (camera.height, camera.width)
    rgb = np.asarray(Image.open(folder / files["rgb"]).convert("RGB"), dtype=np.uint8)
    depth = _read_depth(folder / files["depth"], float(meta["depth_scale_m"]), shape)
    depth_reference = (
        _read_depth(folder / files["depth_reference"], float(meta["depth_scale_m"]), shape)
        if "depth_reference" in files
        else None
    )
    instances = None
    if "instances" in files:
        instances = np.asarray(Image.open(folder / files["instances"]), dtype=np.int32)
    support_mask = np.asarray(Image.open(folder / files["support"])) > 0 if "support" in files else None
    objects = tuple(
        RealObject(
            id=int(o["id"]),
            name=o["name"],
            pose_cam=None if o["pose_cam"] is None else np.asarray(o["pose_cam"], dtype=np.float64),
            source_label=o.get("source_label"),
        )
        for o in meta["objects"]
    )
    for label, image in (("rgb", rgb[..., 0]), ("instances", instances), ("support", support_mask)):
        if image is not None and image.shape != shape:
            raise ValueError(
                f"{name}: {label} is {image.shape[1]}x{image.shape[0]}, camera says {shape[1]}x{shape[0]}"
            )
    if instances is not None:
        present = sorted(int(i) for i in np.unique(instances) if i)
        if present != sorted(o.id for o in objects):
            raise ValueError(
                f"{name}: instance labels {present} do not match the objects {[o.id for o in objects]}"
            )
    for o in objects:
        if o.pose_cam is not None and o.pose_cam.shape != (4, 4):
            raise ValueError(f"{name}: pose of object {o.id} is not 4x4")
    return RealCapture(
        name=name,
        rgb=rgb,
        depth=depth,
        camera=camera,
        instances=instances,
        objects=objects,
        description=meta["description"],
        prompts=tuple(meta["prompts"]),
        annotation=meta["annotation"],
        unlabelled_objects=tuple(meta.get("unlabelled_objects", ())),
        support_mask=support_mask,
        depth_reference=depth_reference,
        source=meta["source"],
        licence=meta["licence"]["name"],
        folder=folder,
    )


def load_all() -> list[RealCapture]:
    return [load_capture(name) for name in capture_names()]


def _read_depth(path: Path, scale_m: float, shape: tuple[int, int]) -> np.ndarray:
    raw = np.asarray(Image.open(path))
    if raw.dtype != np.uint16 or raw.shape != shape:
        raise ValueError(
            f"{path}: depth must be a {shape[1]}x{shape[0]} uint16 PNG, got {raw.dtype} {raw.shape}"
        )
    return (raw.astype(np.float32) * np.float32(scale_m)).astype(np.float32)
