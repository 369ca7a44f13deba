"""More views of the target from the video frames in which it has moved: its back measured, not mirrored.

Why: the real RGB-D frame sees roughly the front half of each object, and completion turns that half about
the object's vertical centre line (:func:`~physworld_core.reconstruction.geometry.mirror_points`). That is
right for objects symmetric under a half turn and wrong for the rest (a wedge, a shoe, a jug with a spout).
A video in which the object turns, or is carried past the camera, shows other sides of it. With a depth
backend that measures shape in every frame (a learned monocular model, calibrated to the sensor on the
static pixels), each such frame gives two things, once its depth is moved back to frame 0 by the tracked
pose:

- new surface: target points where frame 0 saw nothing;
- free space: where the frame's camera saw *past* a point the mirror invented, that point is not there and
  is carved away.

A view is only as good as its pose and its depth. A tracked pose a few millimetres or degrees off would
smear a view over the model, and a depth map that is wrong for the moved object (the offline backend's
flat layer, an untrained model) would add a wrong shape. So every view is first registered to the frame-0
surface by trimmed ICP, starting from the tracked pose, and a view whose correction is large, whose points
do not overlap the frame-0 surface, or do not lie on it where they overlap, is rejected with its reason.

The accepted views are fused by adding their points where frame 0 saw none, not by a TSDF: open3d's
(``UniformTSDFVolume``) was measured on five frames of an L-shaped object turning on the table, poses known
(``python -m bench.open3d_geometry``). It is a little closer to the true surface (median 1.10 against 1.19 mm
at 128 px, 1.03 against 1.18 mm at 480 px; 90th percentile 1.81 against 1.79 and 1.34 against 1.77 mm) and
covers as much of it (66% against 61%, 78% against 79% within 4 mm), but is 7.7× slower at 128 px and
2.4-2.6× at 480 px (two runs).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage
from scipy.spatial import cKDTree

from physworld_core.perception.exemplars import ColourModel
from physworld_core.reconstruction.depth import MetricDepthVideo
from physworld_core.reconstruction.tracking import (
    project_points,
    sample_surface,
    silhouette_raster,
)
from physworld_core.reconstruction.types import Trajectory


@dataclass(frozen=True)
class ViewConfig:
    """Args:
    min_confidence: tracking confidence (silhouette IoU) below which a frame is not used.
    min_view_change_deg: a frame is a new view when the camera's direction, seen from the object, differs
        by this much from frame 0's and every view already taken (a frame that sees the same side adds only
        noise).
    max_views: most frames used (the farthest-apart directions first).
    min_pixels: fewer target pixels with depth than this and a frame is not used.
    capture_radius_m: pairs farther apart than this are ignored in the first registration step (the
        tracked pose's error); the radius halves each step down to ``overlap_m``.
    overlap_m: a view point within this of a frame-0 point overlaps it; farther, it is new surface.
    min_overlap: share of a view's points that must overlap the frame-0 surface after registration (nothing
        else anchors the view).
    max_residual_m: median distance of the overlapping points after registration.
    max_correction_m, max_correction_deg: largest correction registration may make to the tracked pose.
    min_inside: share of the first frame's seen points that must project onto the frame's target-coloured
        pixels (within 2 px) at the registered pose: registration alone can slide a view along a flat face.
        Seen points, not the completed model, since the completion's back is what the view may correct.
    carve_margin_m: a completion point is carved when a view saw a surface this much farther along the ray.
    max_seen_past: a view is rejected when more than this share of its points lie where the first frame saw
        empty space, or of the first frame's points where the view saw empty space: depth, unlike a
        silhouette, shows a pose that is off along the camera's ray.
    """

    min_confidence: float = 0.6
    min_view_change_deg: float = 15.0
    max_views: int = 6
    min_pixels: int = 30
    capture_radius_m: float = 0.008
    overlap_m: float = 0.004
    min_overlap: float = 0.2
    max_residual_m: float = 0.003
    max_correction_m: float = 0.012
    max_correction_deg: float = 10.0
    min_inside: float = 0.85
    carve_margin_m: float = 0.005
    max_seen_past: float = 0.05

    def __post_init__(self) -> None:
        if not 0 <= self.min_confidence <= 1:
            raise ValueError(f"min_confidence must lie in [0, 1], got {self.min_confidence}")
        if not 0 < self.min_view_change_deg < 180:
            raise ValueError(f"min_view_change_deg must lie in (0, 180), got {self.min_view_change_deg}")
        if self.max_views < 1 or self.min_pixels < 3:
            raise ValueError("max_views must be >= 1 and min_pixels >= 3")
        if not 0 < self.overlap_m <= self.capture_radius_m:
            raise ValueError("need 0 < overlap_m <= capture_radius_m")
        for name in ("min_overlap", "min_inside", "max_seen_past"):
            if not 0 < getattr(self, name) <= 1:
                raise ValueError(f"{name} must lie in (0, 1], got {getattr(self, name)}")
        for name in ("max_residual_m", "max_correction_m", "max_correction_deg", "carve_margin_m"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


@dataclass(frozen=True)
class View:
    """One accepted frame: ``to_frame`` maps frame-0 world points to where they are in that frame."""

    frame: int
    to_frame: np.ndarray
    depth_m: np.ndarray


@dataclass
class ViewReport:
    """What the views did, for the reconstruction's metrics."""

    used: list[int] = field(default_factory=list)
    rejected: dict[int, str] = field(default_factory=dict)
    points_added: int = 0
    points_carved: int = 0
    skipped: str | None = None

    def to_dict(self) -> dict:
        return {
            "used_frames": list(self.used),
            "rejected": {str(k): v for k, v in self.rejected.items()},
            "points_added": int(self.points_added),
            "points_carved": int(self.points_carved),
            "skipped": self.skipped,
        }


@dataclass
class Views:
    """The accepted views of the target: new surface points (frame-0 world) and a free-space test."""

    views: list[View]
    new_points: np.ndarray
    camera: object
    margin_m: float
    report: ViewReport

    def __bool__(self) -> bool:
        return bool(self.views)

    def seen_empty(self, points_world: np.ndarray) -> np.ndarray:
        """Which frame-0 world points some view saw past (a surface at least the margin farther along the
        same ray in every pixel around it): space there is empty. Used to carve a completion."""
        empty = np.zeros(len(points_world), dtype=bool)
        for view in self.views:
            empty |= seen_past(points_world, view.to_frame, view.depth_m, self.camera, self.margin_m)
        return empty


def seen_past(
    points_world: np.ndarray, to_frame: np.ndarray, depth_m: np.ndarray, camera, margin_m: float
) -> np.ndarray:
    """Which points, moved by ``to_frame``, a camera with depth ``depth_m`` saw past: the nearest valid depth
    around their pixel is at least ``margin_m`` farther than they are (so a point at a silhouette's edge is
    never carved by the table seen just beside it)."""
    world_to_cam = np.linalg.inv(camera.extrinsic)
    moved = points_world @ to_frame[:3, :3].T + to_frame[:3, 3]
    z = moved @ world_to_cam[2, :3] + world_to_cam[2, 3]
    uv = project_points(camera, world_to_cam, moved)
    cols, rows = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    height, width = depth_m.shape
    inside = (rows >= 1) & (rows < height - 1) & (cols >= 1) & (cols < width - 1) & (z > 0)
    nearest = ndimage.minimum_filter(np.where(depth_m > 0, depth_m, np.inf), size=3)
    seen = np.full(len(points_world), -np.inf)
    seen[inside] = nearest[rows[inside], cols[inside]]
    return np.isfinite(seen) & (seen > z + margin_m)


def _kabsch(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Rigid 4×4 best mapping ``source`` onto ``target`` (paired rows)."""
    cs, ct = source.mean(0), target.mean(0)
    U, _, Vt = np.linalg.svd((source - cs).T @ (target - ct))
    d = np.sign(np.linalg.det(Vt.T @ U.T))
    R = Vt.T @ np.diag([1.0, 1.0, d]) @ U.T
    T = np.eye(4)
    T[:3, :3], T[:3, 3] = R, ct - R @ cs
    return T


def register(points: np.ndarray, reference: cKDTree, config: ViewConfig) -> tuple[np.ndarray, float, float]:
    """Trimmed ICP of ``points`` onto the ``reference`` surface: (4×4 correction, overlap share, median
    residual of the overlapping points).

    Hand-written rather than open3d's ``registration_icp``, by measurement (``bench.open3d_geometry``,
    two runs: each object of the benchmark and real captures split into two halves, one moved by a known
    ≤ 5°, ≤ 6 mm motion and registered back). Two open3d calls with this schedule are 4.5-4.6× faster on the
    benchmark objects and 1.6-1.9× on the real ones, equal on the real ones, but worse on the small benchmark
    objects (90th percentile 13.9° against 11.4°, worst 177° against 31°): open3d goes on solving from fewer
    than three pairs where this loop stops. Stopped the same way (one call per step), open3d gives the same
    errors but is 0.48-0.51× as fast on the real objects (1.3-1.4× on the benchmark ones), slower overall.
    """
    correction = np.eye(4)
    radius = config.capture_radius_m
    for _ in range(12):
        moved = points @ correction[:3, :3].T + correction[:3, 3]
        distance, index = reference.query(moved)
        close = distance < radius
        if close.sum() < 3:
            break
        step = _kabsch(moved[close], reference.data[index[close]])
        correction = step @ correction
        radius = max(config.overlap_m, radius / 2)
    moved = points @ correction[:3, :3].T + correction[:3, 3]
    distance = reference.query(moved)[0]
    close = distance < config.overlap_m
    residual = float(np.median(distance[close])) if close.any() else np.inf
    return correction, float(close.mean()), residual


def _share_inside(uv: np.ndarray, mask: np.ndarray) -> float:
    """Share of pixel positions ``uv`` that fall on ``mask`` (outside the image counts as off it)."""
    cols, rows = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    ok = (rows >= 0) & (rows < mask.shape[0]) & (cols >= 0) & (cols < mask.shape[1])
    on = np.zeros(len(uv), dtype=bool)
    on[ok] = mask[rows[ok], cols[ok]]
    return float(on.mean())


def _view_directions(trajectory: Trajectory, camera_position: np.ndarray) -> np.ndarray:
    """Unit direction from the object to the camera in the object's own frame, per frame."""
    poses = trajectory.poses_world
    offsets = camera_position[None] - poses[:, :3, 3]
    local = np.einsum("tji,tj->ti", poses[:, :3, :3], offsets)
    return local / np.linalg.norm(local, axis=1, keepdims=True)


def _pick_frames(directions: np.ndarray, usable: np.ndarray, config: ViewConfig) -> list[int]:
    """Greedy farthest-first frames whose directions differ by ``min_view_change_deg`` from frame 0 and
    from each other."""
    chosen_dirs = [directions[0]]
    picked: list[int] = []
    candidates = [t for t in range(1, len(directions)) if usable[t]]
    while candidates and len(picked) < config.max_views:
        angles = np.degrees(
            np.arccos(np.clip(np.max(directions[candidates] @ np.array(chosen_dirs).T, axis=1), -1, 1))
        )
        best = int(np.argmax(angles))
        if angles[best] < config.min_view_change_deg:
            break
        picked.append(candidates[best])
        chosen_dirs.append(directions[candidates[best]])
        candidates.pop(best)
    return sorted(picked)


def gather_views(
    frames: np.ndarray,
    depth: MetricDepthVideo,
    trajectory: Trajectory,
    seen_world: np.ndarray,
    mask0: np.ndarray,
    model_vertices: np.ndarray,
    model_faces: np.ndarray,
    config: ViewConfig = ViewConfig(),
    seed: int = 0,
) -> Views:
    """The views of the target in ``frames`` beyond frame 0 (see the module docstring).

    Args:
        frames: T×H×W×3 video frames; ``depth`` is their metric depth.
        trajectory: the tracked target (object-frame poses in world, one per frame).
        seen_world: the target's points seen in the real depth frame (world, frame 0).
        mask0: the target's pixels in frame 0.
        model_vertices, model_faces: the frame-0 completed model (object frame), for each frame's silhouette.
    """
    camera = depth.camera
    report = ViewReport()
    rng = np.random.default_rng(seed)
    world_to_cam = np.linalg.inv(camera.extrinsic)
    usable = trajectory.confidence >= config.min_confidence
    directions = _view_directions(trajectory, camera.extrinsic[:3, 3])
    picked = _pick_frames(directions, usable, config)
    reference = cKDTree(seen_world)
    colour = ColourModel(frames[0], mask0, rng)
    model = sample_surface(model_vertices, model_faces, 600, rng)
    pose0 = trajectory.poses_world[0]
    first_depth = depth.depths_m[0]
    views, new_points = [], []

    def silhouette(pose: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
        return silhouette_raster(
            project_points(camera, world_to_cam, model @ pose[:3, :3].T + pose[:3, 3]), shape
        )

    for t in picked:
        pose = trajectory.poses_world[t]
        coloured = colour.mask(frames[t])
        # Pixels the model covers at the tracked pose, eroded so no edge pixel mixes in the background, and
        # of the target's colour, so a hand or a wall in front of it is not taken for its surface.
        pixels = ndimage.binary_erosion(silhouette(pose, coloured.shape), iterations=1) & coloured
        pixels &= depth.depths_m[t] > 0
        if pixels.sum() < config.min_pixels:
            report.rejected[t] = f"{int(pixels.sum())} target pixels with depth (need {config.min_pixels})"
            continue
        points, rc = depth.points_world(t)
        points = points[pixels[rc[:, 0], rc[:, 1]]]
        back = pose0 @ np.linalg.inv(pose)  # frame-t world → frame-0 world, by the tracked pose
        at_rest = points @ back[:3, :3].T + back[:3, 3]
        correction, overlap, residual = register(at_rest, reference, config)
        shift = float(np.linalg.norm(correction[:3, 3]))
        turn = float(np.degrees(np.arccos(np.clip((np.trace(correction[:3, :3]) - 1) / 2, -1, 1))))
        to_frame = np.linalg.inv(correction @ back)  # frame-0 world → frame-t world, registered
        inside = _share_inside(
            project_points(camera, world_to_cam, seen_world @ to_frame[:3, :3].T + to_frame[:3, 3]),
            ndimage.binary_dilation(coloured, iterations=2),
        )
        registered = at_rest @ correction[:3, :3].T + correction[:3, 3]
        past = max(
            float(seen_past(registered, np.eye(4), first_depth, camera, config.carve_margin_m).mean()),
            float(seen_past(seen_world, to_frame, depth.depths_m[t], camera, config.carve_margin_m).mean()),
        )
        problem = None
        if past > config.max_seen_past:
            problem = f"{100 * past:.0f}% of its points lie where the other frame saw empty space"
        elif inside < config.min_inside:
            problem = f"at its registered pose only {100 * inside:.0f}% of the first frame's points fall on the target"
        elif overlap < config.min_overlap:
            problem = f"only {100 * overlap:.0f}% of its points lie on the first frame's surface"
        elif residual > config.max_residual_m:
            problem = f"its points lie {1000 * residual:.1f} mm off the first frame's surface"
        elif shift > config.max_correction_m or turn > config.max_correction_deg:
            problem = f"registration moved the tracked pose by {1000 * shift:.0f} mm and {turn:.0f} deg"
        if problem:
            report.rejected[t] = problem
            continue
        new = reference.query(registered)[0] > config.overlap_m
        new_points.append(registered[new])
        views.append(View(t, to_frame, depth.depths_m[t]))
        report.used.append(t)
    added = np.concatenate(new_points) if new_points else np.zeros((0, 3))
    report.points_added = len(added)
    return Views(views, added, camera, config.carve_margin_m, report)
