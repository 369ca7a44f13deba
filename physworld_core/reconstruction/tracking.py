"""6-DoF model-based tracking of the target through the generated video (render-and-compare on silhouettes).

The video has no depth, but the target's metric model from the real depth frame does: its projected
silhouette must match the object's pixels in every frame, which fixes translation (including distance, via
apparent size) and rotation. Per frame:

1. segment the target by its colour model (from frame 0) near where the motion so far predicts it;
2. fit the pose by robust least squares: mask pixels should be covered by the projected model, projected
   model points should fall on the mask (down-weighted, since walls and hands may occlude the object), a
   weak prior keeps the pose near the constant-velocity prediction, and a stiff penalty keeps the model
   out of the static scene the real depth frame saw (the table, a block's top, a pot's rim): a small
   object's distance is barely visible in its size, and it is the surface under it that says where it rests;
3. score the fit by silhouette IoU, the frame's confidence.

Low-confidence ("unseen") frames are replaced by interpolation and positions are lightly smoothed. Only
short gaps are bridged: a run of unseen frames longer than ``max_unseen_seconds``, or a target that leaves
the image and does not come back, raises :class:`ReconstructionError` naming the frames, because the motion
there would be invented (an object frozen where it was last seen is a silently wrong twin). Each unseen run
is classified by where the target was when it was lost: at or past the image border ("leaves the image") or
inside it ("hidden": occluded, or no longer looking like frame 0). What is bridged is recorded in the stats
(``visible_fraction``, ``unseen_frames``) so the reconstruction check can flag a video with many gaps.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.optimize import least_squares
from scipy.spatial import cKDTree
from scipy.spatial.transform import Rotation

from physworld_core.errors import ReconstructionError
from physworld_core.perception.exemplars import ColourModel
from physworld_core.reconstruction.types import Trajectory
from physworld_core.scene import CameraSpec


@dataclass(frozen=True)
class TrackingConfig:
    """Args:
    model_points: surface samples of the model used for projection.
    max_mask_pixels: mask pixels sampled per frame for the coverage term.
    colour_distance: RGB distance (0–255) within which a pixel can match a target exemplar.
    min_pixels: fewer target pixels than this and the frame is "not seen".
    min_confidence: silhouette IoU below which a frame's pose is replaced by interpolation.
    prior_weight: strength of the constant-velocity / no-rotation prior, per metre; in the "axis" mode a turn
        costs what it moves the model's points by (radians × their mean distance from its centre), so a turn
        and a shift that move the silhouette alike cost alike: costed per radian, a small object turned fast
        is cheaper to fit by sliding it (regression test: ``test_pour_0061_…``).
    smooth_window: moving-average window over positions (odd; 1 disables).
    max_unseen_seconds: longest run of unseen frames bridged by interpolation (0.5 s: a hand or a bin wall
        passing in front of the object); longer runs raise, since the motion there is unknown.
    edge_margin_px: a target whose model projects within this many pixels of the image border (or past it)
        when it is lost has left the image rather than been hidden.
    rotation: "yaw" fits rotation about the vertical only (tilt stays as in frame 0: a 10-pixel silhouette
        cannot tell a tilt from a shift towards the camera), "axis" about ``turn_axis`` only (a fallen object
        stood up turns about the horizontal axis square to its own: known from the prompt, that one angle is
        what a silhouette can follow), "full" fits all three angles.
    turn_axis: the world axis of the "axis" mode.
    turn_range: (least, most) turn (rad) about ``turn_axis`` since frame 0 the fit may reach, and the turn's
        prediction stops at: a silhouette that looks alike at two turns (a bottle lying along the line of sight
        and standing) otherwise lets the predicted spin carry the fit through vertical and on.
    support_weight: penalty per metre of the model below the static scene (see :class:`HeightMap`).
    """

    model_points: int = 400
    max_mask_pixels: int = 300
    colour_distance: float = 40.0
    min_pixels: int = 6
    min_confidence: float = 0.3
    prior_weight: float = 30.0
    smooth_window: int = 3
    max_unseen_seconds: float = 0.5
    edge_margin_px: float = 2.0
    rotation: str = "yaw"
    support_weight: float = 2000.0
    turn_axis: tuple[float, float, float] | None = None
    turn_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.model_points < 20 or self.max_mask_pixels < 20:
            raise ValueError("model_points and max_mask_pixels must be >= 20")
        if self.smooth_window < 1 or self.smooth_window % 2 == 0:
            raise ValueError(f"smooth_window must be odd and >= 1, got {self.smooth_window}")
        if self.rotation not in ("yaw", "axis", "full"):
            raise ValueError(f"rotation must be 'yaw', 'axis' or 'full', got {self.rotation!r}")
        if (self.rotation == "axis") != (self.turn_axis is not None):
            raise ValueError("turn_axis is given for rotation 'axis', and only for it")
        if self.turn_range is not None and (
            self.rotation != "axis" or not self.turn_range[0] <= 0.0 <= self.turn_range[1]
        ):
            raise ValueError(
                f"turn_range is a (least <= 0 <= most) turn about turn_axis, got {self.turn_range}"
            )
        if self.turn_axis is not None:
            axis = np.asarray(self.turn_axis, dtype=np.float64)
            if axis.shape != (3,) or not np.linalg.norm(axis) > 1e-6:
                raise ValueError(f"turn_axis must be a non-zero 3-vector, got {self.turn_axis!r}")
            object.__setattr__(self, "turn_axis", tuple(map(float, axis / np.linalg.norm(axis))))
        if not 0 <= self.min_confidence < 1:
            raise ValueError(f"min_confidence must be in [0, 1), got {self.min_confidence}")
        if not self.max_unseen_seconds >= 0:
            raise ValueError(f"max_unseen_seconds must be >= 0, got {self.max_unseen_seconds}")
        if not self.edge_margin_px >= 0:
            raise ValueError(f"edge_margin_px must be >= 0, got {self.edge_margin_px}")

    @property
    def axis(self) -> np.ndarray:
        """The world axis a 4-parameter pose turns about: the vertical, or ``turn_axis``."""
        return np.array([0.0, 0.0, 1.0]) if self.turn_axis is None else np.asarray(self.turn_axis)


@dataclass(frozen=True, eq=False)
class HeightMap:
    """Top view of the static scene: the highest surface seen in each ``cell`` × ``cell`` column (world z), NaN
    where the real depth frame saw nothing. Built from frame 0's depth without the target, it is what the
    moving target may rest on but never sink into: a block's top, a pot's rim, the table.

    Why: a small object's silhouette is a few pixels wide, so its size says little about its distance, and
    the fit slides it along the viewing ray, away from the camera and down (on stacking tasks by 30-60 mm at
    the end). Solid geometry the real depth saw bounds that slide from below."""

    origin: np.ndarray
    cell: float
    heights: np.ndarray

    @classmethod
    def from_points(cls, points_world: np.ndarray, cell: float = 0.004) -> HeightMap:
        pts = np.asarray(points_world, float)
        pts = pts[np.all(np.isfinite(pts), axis=1)]
        if len(pts) == 0:
            return cls(np.zeros(2), cell, np.full((1, 1), np.nan))
        origin = pts[:, :2].min(0)
        ij = np.floor((pts[:, :2] - origin) / cell).astype(int)
        heights = np.full(ij.max(0) + 1, -np.inf)
        np.maximum.at(heights, (ij[:, 0], ij[:, 1]), pts[:, 2])
        return cls(origin, cell, np.where(np.isfinite(heights), heights, np.nan))

    def at(self, xy: np.ndarray) -> np.ndarray:
        """Surface height under each of the points ``xy`` (N×2); NaN where unseen or outside the map."""
        ij = np.floor((np.asarray(xy, float) - self.origin) / self.cell).astype(int)
        inside = np.all((ij >= 0) & (ij < self.heights.shape), axis=1)
        out = np.full(len(ij), np.nan)
        out[inside] = self.heights[ij[inside, 0], ij[inside, 1]]
        return out


def sample_surface(
    vertices: np.ndarray, faces: np.ndarray, count: int, rng: np.random.Generator
) -> np.ndarray:
    """``count`` points spread uniformly over a triangle mesh's surface: a triangle is drawn in proportion to
    its area, then a point uniformly inside it (a draw past the diagonal is folded back).

    The one copy for tracking's model points and the fidelity metrics. Computed in float64 whatever the
    mesh's dtype; a mesh without area (or with a non-finite one) has no surface to sample and is refused."""
    triangles = np.asarray(vertices, dtype=np.float64)[np.asarray(faces)]
    areas = 0.5 * np.linalg.norm(
        np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0]), axis=1
    )
    total = areas.sum()
    if not (np.isfinite(total) and total > 0):
        raise ValueError(f"cannot sample a surface of area {total}: the mesh has no (finite) area")
    chosen = rng.choice(len(triangles), size=count, p=areas / total)
    u, v = rng.random(count), rng.random(count)
    flip = u + v > 1
    u[flip], v[flip] = 1 - u[flip], 1 - v[flip]
    a, b, c = triangles[chosen, 0], triangles[chosen, 1], triangles[chosen, 2]
    return a + u[:, None] * (b - a) + v[:, None] * (c - a)


def project_points(camera: CameraSpec, world_to_cam: np.ndarray, points_world: np.ndarray) -> np.ndarray:
    """Pixel (u, v) of each world point."""
    pc = points_world @ world_to_cam[:3, :3].T + world_to_cam[:3, 3]
    return camera.project(pc)


def silhouette_raster(uv: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The filled silhouette of projected surface samples ``uv`` in an image of ``shape``."""
    out = np.zeros(shape, bool)
    cols, rows = np.floor(uv[:, 0]).astype(int), np.floor(uv[:, 1]).astype(int)
    ok = (rows >= 0) & (rows < shape[0]) & (cols >= 0) & (cols < shape[1])
    out[rows[ok], cols[ok]] = True
    return ndimage.binary_closing(ndimage.binary_dilation(out), iterations=2)


def _inside_image(uv: np.ndarray, shape: tuple[int, int], margin: float) -> float:
    """Share of projected points at least ``margin`` pixels inside the image."""
    height, width = shape
    inside = (uv[:, 0] >= margin) & (uv[:, 0] < width - margin)
    inside &= (uv[:, 1] >= margin) & (uv[:, 1] < height - margin)
    return float(inside.mean())


def _frame_span(first: int, last: int) -> str:
    return f"frame {first}" if first == last else f"frames {first}-{last}"


def _unseen_runs(seen: np.ndarray, inside: np.ndarray) -> list[tuple[int, int, bool]]:
    """``(first, last, left_image)`` for each maximal run of unseen frames.

    A run left the image when the target's model reached the border margin in the last frame it was seen,
    or when the predicted pose of the first unseen frame lies mostly outside the image; otherwise the
    target was hidden while in view.
    """
    runs = []
    t, count = 0, len(seen)
    while t < count:
        if seen[t]:
            t += 1
            continue
        first = t
        while t < count and not seen[t]:
            t += 1
        left_image = (first > 0 and inside[first - 1] < 1.0) or inside[first] < 0.5
        runs.append((first, t - 1, bool(left_image)))
    return runs


def _check_unseen(runs: list[tuple[int, int, bool]], count: int, fps: float, config: TrackingConfig) -> None:
    """Raise when the unseen runs leave the target's motion unknown (see the module docstring)."""
    max_unseen = int(np.floor(config.max_unseen_seconds * fps + 1e-9))
    for first, last, left_image in runs:
        unseen = last - first + 1
        if left_image and last == count - 1:
            after = f"after frame {first - 1}" if first > 0 else "from the first frame"
            raise ReconstructionError(
                f"tracking lost the target: it leaves the image {after} and does not come back: tracking "
                f"has no view of it for {unseen} of {count} frames ({_frame_span(first, last)}), so where it "
                "ends up is unknown; use a video that keeps the target in the picture"
            )
        if unseen > max_unseen:
            span = f"{_frame_span(first, last)} ({unseen} of {count} frames, {unseen / fps:.1f} s)"
            if left_image:
                what = f"outside the image in {span}"
            elif first > 0:
                what = (
                    f"hidden in {span}, though it was inside the image in frame {first - 1} (something "
                    "covers it, or it no longer looks as in frame 0)"
                )
            else:
                what = f"not found in {span}"
            raise ReconstructionError(
                f"tracking lost the target: it is {what}; at most {max_unseen} unseen frames in a row "
                f"({config.max_unseen_seconds} s) are bridged by interpolation"
            )


def _pick_component(mask: np.ndarray, predicted_uv: np.ndarray) -> np.ndarray:
    """The connected component of ``mask`` nearest the predicted image position."""
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    centres = np.array(ndimage.center_of_mass(mask, labels, range(1, n + 1)))  # (row, col)
    sizes = ndimage.sum(mask, labels, range(1, n + 1))
    dist = np.hypot(centres[:, 0] - predicted_uv[1], centres[:, 1] - predicted_uv[0])
    best = int(np.argmin(dist - 0.5 * np.sqrt(sizes)))
    return labels == best + 1


RETRY_TURNS_RAD = (-0.5, -0.25, 0.25, 0.5)
"""In the one-angle ("axis") mode every frame is also fit from these turns either side of the prediction, and the
fit whose silhouette overlaps the mask best is kept. A cup poured in a generated clip turns up to ~25° a frame
at its fastest, more than the spin carried over from the frames before predicts, and the local fit from the
prediction stays near it with a good overlap: a tipped cylinder's silhouette changes slowly with its tilt, so
a fit tens of degrees short still overlaps well (regression test: ``test_pour_0000_…``)."""
RETRY_MIN_GAIN_IOU = 0.02
"""A retried turn replaces the fit from the prediction only when its silhouette IoU is higher by this much:
a tie keeps the prediction's, so a retry never makes the track jump between two looks alike."""
SEED_MASK_DILATION_PX = 3
"""Frame 0's colour mask is kept within this many pixels of the geometric (depth) mask: the same colour rule
as every later frame, seeded where the object really is."""
SCALE_RANGE = (0.6, 1.4)
"""How much larger or smaller than the object's pixels frame 0's calibration may find the completed model's
silhouette: mirroring guesses the unseen depth, not the size twice over."""
SILHOUETTE_LOSS_SCALE_PX = 2.0
"""Residuals (pixels) past which the robust loss counts linearly: stray or occluded pixels pull, not steer."""
OFF_IMAGE_PENALTY_PX = 5.0
"""Added to a model point's residual when it projects outside the image (no mask there to pay against)."""
FIT_STEP = (0.01, 0.1)
"""Typical step of the pose fit's variables, metres for the shift and radians for the turn (least squares'
``x_scale``); the calibration's scale steps by ``SCALE_STEP``."""
SCALE_STEP = 0.05
FIT_MAX_EVALUATIONS = 80
"""Cost evaluations per pose fit: a frame starts next to the prediction, so a fit that needs more is lost."""
MOTION_MEMORY = 0.5
"""Weight of the previous estimate when velocity and spin are updated from a fitted frame (exponential
smoothing): one frame's fit error does not become the prediction of all the frames after it."""


def _pose(params: np.ndarray, base: np.ndarray, axis: np.ndarray = np.array([0.0, 0.0, 1.0])) -> np.ndarray:
    """Pose from (dx, dy, dz, angle about ``axis``) or (dx, dy, dz, rx, ry, rz) relative to ``base`` (rotation
    about its frame's origin)."""
    rotvec = axis * params[3] if len(params) == 4 else params[3:]
    T = np.eye(4)
    T[:3, :3] = Rotation.from_rotvec(rotvec).as_matrix() @ base[:3, :3]
    T[:3, 3] = base[:3, 3] + params[:3]
    return T


def _placed(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
    """Object-frame ``points`` in the world at ``pose``."""
    return points @ pose[:3, :3].T + pose[:3, 3]


@dataclass(frozen=True, eq=False)
class _View:
    """How the tracked model is seen: the camera, its world-to-camera transform and the image's (H, W)."""

    camera: CameraSpec
    world_to_cam: np.ndarray
    shape: tuple[int, int]

    def project(self, points_world: np.ndarray) -> np.ndarray:
        return project_points(self.camera, self.world_to_cam, points_world)

    def iou(self, uv: np.ndarray, mask: np.ndarray) -> float:
        """Overlap of the silhouette of projected points ``uv`` with ``mask``: a fit's confidence."""
        raster = silhouette_raster(uv, self.shape)
        return float((raster & mask).sum() / max((raster | mask).sum(), 1))


@dataclass
class _Motion:
    """What one frame hands the next: the last pose, the velocity and spin (rotation vector) per frame that
    predict the next pose, and in "axis" mode the turn about the axis since frame 0 (kept in ``turn_range``)."""

    prev: np.ndarray
    velocity: np.ndarray
    spin: np.ndarray
    angle: float = 0.0

    def predict(self, config: TrackingConfig) -> tuple[np.ndarray, np.ndarray]:
        """This frame's predicted pose and the turn predicted since the last one.

        Constant velocity; unless in "yaw" mode, constant spin too: an object turned a quarter turn (stood
        up) turns several degrees a frame, and predicting it keeps turning lets the fit follow, where the
        no-turn prior alone holds it back. The turn is never predicted past ``turn_range``."""
        predicted = self.prev.copy()
        predicted[:3, 3] += self.velocity
        step = self.spin
        if config.rotation != "yaw":
            if config.turn_range is not None:
                turned = float(np.clip(self.angle + self.spin @ config.axis, *config.turn_range))
                step = config.axis * (turned - self.angle)
            predicted[:3, :3] = Rotation.from_rotvec(step).as_matrix() @ self.prev[:3, :3]
        return predicted, step

    def follow(self, pose: np.ndarray) -> None:
        """Take a fitted frame's pose: velocity and spin move towards what this frame did (``MOTION_MEMORY``)."""
        self.velocity = MOTION_MEMORY * self.velocity + (1 - MOTION_MEMORY) * (pose[:3, 3] - self.prev[:3, 3])
        turned = Rotation.from_matrix(pose[:3, :3] @ self.prev[:3, :3].T).as_rotvec()
        self.spin = MOTION_MEMORY * self.spin + (1 - MOTION_MEMORY) * turned


@dataclass
class _Track:
    """Per-frame results: pose, confidence (the fit's silhouette IoU, 0 when the target was not found), IoU,
    and the share of the model projected inside the image (how a lost target is told to have left it)."""

    poses: np.ndarray
    confidence: np.ndarray
    ious: np.ndarray
    inside: np.ndarray

    @classmethod
    def empty(cls, count: int) -> _Track:
        return cls(np.zeros((count, 4, 4)), np.zeros(count), np.zeros(count), np.zeros(count))


def _target_mask(
    t: int, frame: np.ndarray, colour: ColourModel, mask0: np.ndarray, centre_uv: np.ndarray
) -> np.ndarray:
    """The target's pixels in ``frame``: its colour, in the connected part nearest the predicted position;
    in frame 0 the same colour rule, seeded by the geometric mask."""
    colour_mask = colour.mask(frame)
    if t == 0:
        return colour_mask & ndimage.binary_dilation(mask0, iterations=SEED_MASK_DILATION_PX)
    return _pick_component(colour_mask, centre_uv)


def _silhouette_cost(
    mask: np.ndarray, view: _View, rng: np.random.Generator, config: TrackingConfig
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """Residuals (pixels) of model ``points`` at ``pose`` against ``mask``: every (sampled) mask pixel should be
    covered by a projected point, every projected point should fall on the mask. Mask pixels are subsampled
    to ``max_mask_pixels`` to bound the cost per frame."""
    rows, cols = np.nonzero(mask)
    if len(rows) > config.max_mask_pixels:
        keep = rng.choice(len(rows), config.max_mask_pixels, replace=False)
        rows, cols = rows[keep], cols[keep]
    mask_uv = np.stack([cols + 0.5, rows + 0.5], 1)
    outside = ndimage.distance_transform_edt(~mask)
    height, width = view.shape

    def residuals(points: np.ndarray, pose: np.ndarray) -> np.ndarray:
        uv = view.project(_placed(points, pose))
        coverage = cKDTree(uv).query(mask_uv)[0]
        # Bilinear lookup keeps the term differentiable: a model drifting towards the camera grows past
        # the mask's edge and pays for it (integer lookups would leave that direction unconstrained).
        off_mask = ndimage.map_coordinates(outside, [uv[:, 1] - 0.5, uv[:, 0] - 0.5], order=1, mode="nearest")
        off_image = (uv[:, 0] < 0) | (uv[:, 0] >= width) | (uv[:, 1] < 0) | (uv[:, 1] >= height)
        return np.concatenate([coverage, np.where(off_image, off_mask + OFF_IMAGE_PENALTY_PX, off_mask)])

    return residuals


def _below_support(
    model: np.ndarray, pose: np.ndarray, support_z: float, static: HeightMap | None, config: TrackingConfig
) -> float:
    """Penalty for the model at ``pose`` sinking below the table it started on or the static scene (see
    :class:`HeightMap`): solid objects do not sink into what they rest on, and silhouettes alone let an
    object whose lower part hides behind a container wall slide down the viewing ray below the table."""
    placed = _placed(model, pose)
    floor = np.full(len(placed), support_z)
    if static is not None:
        floor = np.fmax(floor, static.at(placed[:, :2]))
    return config.support_weight * max(0.0, float((floor - placed[:, 2]).max()))


def _calibrate_scale(model: np.ndarray, cost: Callable, pose0: np.ndarray) -> tuple[np.ndarray, float]:
    """Frame 0 is the real depth frame: its pose is known. Fit how much larger or smaller the completed model's
    silhouette is than the object's pixels (mirroring guesses the unseen depth), with the same cost as
    tracking; uncalibrated, that bias becomes a drift along the viewing ray. The scaled model and its scale."""
    centroid = model.mean(0)

    def scaled(scale: float) -> np.ndarray:
        return centroid + scale * (model - centroid)

    fit = least_squares(
        lambda x: cost(scaled(x[0]), pose0),
        [1.0],
        bounds=([SCALE_RANGE[0]], [SCALE_RANGE[1]]),
        loss="soft_l1",
        f_scale=SILHOUETTE_LOSS_SCALE_PX,
        x_scale=[SCALE_STEP],
    )
    scale = float(fit.x[0])
    return scaled(scale), scale


def _fit_pose(
    model: np.ndarray,
    lever: float,
    cost: Callable,
    support: Callable[[np.ndarray], float],
    predicted: np.ndarray,
    turn_bounds: tuple[np.ndarray, np.ndarray],
    mask: np.ndarray,
    view: _View,
    config: TrackingConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """A later frame's pose by robust least squares from the prediction: the silhouette cost, a prior keeping
    the pose near the prediction, the support penalty. In "axis" mode, also from each of
    :data:`RETRY_TURNS_RAD`, keeping the best overlap. The fit's parameters (relative to ``predicted``) and
    pose."""
    dofs = 6 if config.rotation == "full" else 4
    prior_scale = np.ones(dofs)
    if config.rotation == "axis":  # a turn costs what it moves the model's points by
        prior_scale[3] = lever
    lower, upper = turn_bounds

    def fit_from(x0: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
        fit = least_squares(
            lambda x: np.concatenate(
                [
                    cost(model, _pose(x, predicted, config.axis)),
                    config.prior_weight * x * prior_scale,
                    [support(_pose(x, predicted, config.axis))],
                ]
            ),
            x0,
            loss="soft_l1",
            f_scale=SILHOUETTE_LOSS_SCALE_PX,
            x_scale=[FIT_STEP[0]] * 3 + [FIT_STEP[1]] * (dofs - 3),
            max_nfev=FIT_MAX_EVALUATIONS,
            bounds=(lower, upper),
        )
        pose = _pose(fit.x, predicted, config.axis)
        return fit.x, pose, view.iou(view.project(_placed(model, pose)), mask)

    x, pose, iou = fit_from(np.zeros(dofs))
    if config.rotation == "axis":  # one angle: cheap to try it from several turns
        for offset in RETRY_TURNS_RAD:
            if not lower[3] < offset < upper[3]:
                continue
            tried = fit_from(np.array([0.0, 0.0, 0.0, offset]))
            if tried[2] > iou + RETRY_MIN_GAIN_IOU:
                x, pose, iou = tried
    return x, pose


def _turn_bounds(config: TrackingConfig, predicted_angle: float) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of the fit's parameters: free, but for the turn, which keeps the total in ``turn_range``."""
    dofs = 6 if config.rotation == "full" else 4
    lower, upper = np.full(dofs, -np.inf), np.full(dofs, np.inf)
    if config.turn_range is not None:
        lower[3] = config.turn_range[0] - predicted_angle - 1e-9
        upper[3] = config.turn_range[1] - predicted_angle + 1e-9
    return lower, upper


def _check_enough_seen(good: np.ndarray, runs: list[tuple[int, int, bool]], config: TrackingConfig) -> None:
    """Raise when the target is unseen too long at a stretch (:func:`_check_unseen`) or, in many short gaps,
    in more than half the frames: interpolation would then invent the motion rather than bridge it."""
    count = len(good)
    if good.sum() < max(2, count // 2):  # many short gaps
        spans = ", ".join(
            f"{_frame_span(first, last)} ({'outside the image' if left else 'hidden'})"
            for first, last, left in runs
        )
        raise ReconstructionError(
            f"tracking lost the target: only {int(good.sum())} of {count} frames fit with silhouette IoU >= "
            f"{config.min_confidence}; unseen in {spans}"
        )


def _bridged_positions(
    poses: np.ndarray, good: np.ndarray, times: np.ndarray, config: TrackingConfig
) -> np.ndarray:
    """Positions with low-confidence frames replaced by interpolation between good ones, then lightly smoothed
    (a moving average of ``smooth_window``, ends kept): a single frame's fit error is not motion."""
    count = len(poses)
    positions = poses[:, :3, 3].copy()
    for axis in range(3):
        positions[~good, axis] = np.interp(times[~good], times[good], positions[good, axis])
    if config.smooth_window > 1:
        k = config.smooth_window // 2
        padded = np.pad(positions, ((k, k), (0, 0)), mode="edge")
        smooth = np.stack([padded[i : i + count] for i in range(2 * k + 1)]).mean(0)
        smooth[0], smooth[-1] = positions[0], positions[-1]
        positions = smooth
    return positions


def track_target(
    frames: np.ndarray,
    fps: float,
    camera: CameraSpec,
    vertices: np.ndarray,
    faces: np.ndarray,
    pose0: np.ndarray,
    mask0: np.ndarray,
    config: TrackingConfig = TrackingConfig(),
    seed: int = 0,
    static: HeightMap | None = None,
) -> tuple[Trajectory, dict]:
    """Track the model (object-frame ``vertices``/``faces``, at ``pose0`` in frame 0) through ``frames``.

    ``static``: the static scene seen in the real depth frame; the model never sinks into it (see
    :class:`HeightMap`). Without it, only the table the target started on bounds it from below.

    Per frame (see the module docstring): predict the pose (:meth:`_Motion.predict`), find the target's
    pixels (:func:`_target_mask`), fit the pose to them (:func:`_calibrate_scale` in frame 0, whose pose is
    known; :func:`_fit_pose` after), score it; then refuse a track with the target lost too long
    (:func:`_check_unseen`, :func:`_check_enough_seen`) and bridge the short gaps (:func:`_bridged_positions`).
    """
    count, height, width, _ = frames.shape
    if mask0.sum() < config.min_pixels:
        raise ReconstructionError("the target is not visible in the first video frame")
    rng = np.random.default_rng(seed)
    model = sample_surface(vertices, faces, config.model_points, rng)
    view = _View(camera, np.linalg.inv(camera.extrinsic), (height, width))
    colour = ColourModel(frames[0], mask0, rng, config.colour_distance)
    track = _Track.empty(count)
    motion = _Motion(prev=pose0.copy(), velocity=np.zeros(3), spin=np.zeros(3))
    support_z = float(_placed(vertices, pose0)[:, 2].min())  # the table the target started on
    for t in range(count):
        predicted, step = motion.predict(config)
        centre_uv = view.project(_placed(model, predicted).mean(0)[None])[0]
        mask = _target_mask(t, frames[t], colour, mask0, centre_uv)
        if mask.sum() < config.min_pixels:
            if t == 0:  # its pose is known but its colour is not: every later frame would be guesswork
                raise ReconstructionError(
                    "the target's colour is not found in the first video frame, where its mask is; use a "
                    "video whose first frame is the scene's image"
                )
            track.poses[t], track.confidence[t] = predicted, 0.0
            track.inside[t] = _inside_image(
                view.project(_placed(model, predicted)), view.shape, config.edge_margin_px
            )
            motion.prev = predicted
            continue
        cost = _silhouette_cost(mask, view, rng, config)
        if t == 0:
            model, silhouette_scale = _calibrate_scale(model, cost, pose0)
            lever = float(np.linalg.norm(model - model.mean(0), axis=1).mean())
            pose = pose0.copy()
        else:
            predicted_angle = (
                motion.angle + float(step @ config.axis) if config.turn_range is not None else 0.0
            )
            x, pose = _fit_pose(
                model,
                lever,
                cost,
                lambda pose: _below_support(model, pose, support_z, static, config),
                predicted,
                _turn_bounds(config, predicted_angle),
                mask,
                view,
                config,
            )
            if config.turn_range is not None:
                motion.angle = predicted_angle + float(x[3])
        uv = view.project(_placed(model, pose))
        iou = view.iou(uv, mask)
        track.poses[t], track.ious[t], track.confidence[t] = pose, iou, iou
        track.inside[t] = _inside_image(uv, view.shape, config.edge_margin_px)
        if t > 0:
            motion.follow(pose)
        motion.prev = pose
    good = track.confidence >= config.min_confidence
    runs = _unseen_runs(good, track.inside)
    _check_unseen(runs, count, fps, config)
    _check_enough_seen(good, runs, config)
    times = np.arange(count) / fps
    poses = track.poses
    poses[:, :3, 3] = _bridged_positions(poses, good, times, config)
    stats = {
        "mean_iou": float(track.ious.mean()),
        "min_iou": float(track.ious.min()),
        "frames": count,
        "silhouette_scale": silhouette_scale,
        "low_confidence_frames": int((~good).sum()),
        "visible_fraction": float(good.mean()),
        "unseen_frames": [int(t) for t in np.nonzero(~good)[0]],
        "outside_image_frames": [t for first, last, left in runs if left for t in range(first, last + 1)],
    }
    return Trajectory(times=times, poses_world=poses, confidence=track.confidence), stats
