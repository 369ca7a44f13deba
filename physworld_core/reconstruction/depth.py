"""Metric depth for every video frame: a relative depth backend plus a robust scale-and-shift calibration.

Why: the reconstruction needs a 4D point cloud, i.e. metric depth in every frame, but only frame 0 was
measured (the scene's RGB-D frame); the video frames are pixels. A monocular depth model (Depth Anything,
DPT/MiDaS) predicts depth per frame up to an unknown scale and shift, and in *disparity* (inverse depth) for
the relative checkpoints. The one real depth frame pins both down: fit ``α·pred + β`` to the sensor on the
pixels where both are valid, in the space the model predicts in (disparity for disparity models, as MiDaS'
scale-and-shift-invariant loss does, then invert), robustly, because monocular models are wrong at object
boundaries, on reflective and thin things, and the sensor has flying pixels.

Later frames have no sensor depth. Their pixels that still look as in the scene image (the table, the
objects nobody moved) show surfaces whose metric depth *is* known from the sensor, so each frame's
prediction is aligned on those static pixels to the scene's depth; all frames then share one metric frame
and the moving parts get depth from the model, calibrated per frame (models drift in scale across frames).

Backends, chosen by name from :data:`DEPTH_BACKENDS` (``load(name, **config)``):

- ``"geometric"`` (default, offline, no weights): the sensor depth where the pixel is unchanged, the fitted
  table plane where the video shows table, and a height prior for moved objects (see
  :class:`GeometricDepthBackend` for what it cannot do).
- ``"transformers"``: ``AutoModelForDepthEstimation`` from a local ``model_dir`` (Depth Anything, DPT, ZoeDepth,
  GLPN, Depth Pro); heavy imports happen when the backend is built.

Limits of the alignment: it assumes the camera does not move (static pixels are found by colour at the same
pixel), that the video has the scene's size (resize the scene first otherwise), and that at least
``min_static_fraction`` of the sensor's valid pixels stay unchanged in every frame.
"""

from __future__ import annotations

import inspect
import json
import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
from scipy import ndimage

from physworld_core.backends import ConfiguredBackend, Registry
from physworld_core.errors import ReconstructionError
from physworld_core.models import load_transformers_model, pick_device, require_models_extra
from physworld_core.perception.plane import fit_support_plane
from physworld_core.scene import MAX_DEPTH_M, CameraSpec, ScenePackage, depth_to_points_world

KINDS = ("depth", "disparity")
"""What a backend predicts: depth (grows with distance) or disparity / inverse depth (shrinks with it)."""

MIN_CALIBRATION_PIXELS = 100
"""Fewer valid pixels than this and a two-parameter robust fit plus a held-out check is not trustworthy."""

DEFAULT_CHANGE_THRESHOLD = 24
"""A pixel "changed" when a colour channel differs from the scene image by more than this (0-255), after
per-channel gain compensation; video-codec noise stays well below it, a moved object well above."""


class DepthCalibrationError(ReconstructionError):
    """A relative depth prediction cannot be tied to metric depth (too few pixels, degenerate fit)."""


class DepthModelError(ReconstructionError):
    """A learned depth model cannot be loaded or run as configured (package, model directory)."""


# --- predictions and backends --------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class DepthPrediction:
    """What a depth backend returns for a clip.

    Args:
        values: T×H×W float32, relative (unknown scale and shift) unless the backend is metric.
        kind: "depth" or "disparity" (inverse depth, what relative MiDaS / Depth Anything output).
        valid: T×H×W bool, where ``values`` mean something (finite, and for the geometric backend: where it
            had a source for the pixel).
        backend: name of the backend that made it.
    """

    values: np.ndarray
    kind: str
    valid: np.ndarray
    backend: str

    def __post_init__(self) -> None:
        values = np.asarray(self.values, dtype=np.float32)
        valid = np.asarray(self.valid, dtype=bool)
        if values.ndim != 3:
            raise ValueError(f"DepthPrediction.values must be T×H×W, got shape {values.shape}")
        if valid.shape != values.shape:
            raise ValueError(f"DepthPrediction.valid must match values {values.shape}, got {valid.shape}")
        if self.kind not in KINDS:
            raise ValueError(f"DepthPrediction.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        valid = valid & np.isfinite(values)
        object.__setattr__(self, "values", values)
        object.__setattr__(self, "valid", valid)


class DepthBackend(ConfiguredBackend, ABC):
    """A per-frame depth predictor chosen by name from :data:`DEPTH_BACKENDS`.

    Subclasses set ``name``, ``config_class`` (a frozen, validated dataclass) and ``needs_scene`` (whether
    :meth:`predict` reads the scene's RGB-D frame, as the offline backend does; a learned model reads only
    the frames), and implement :meth:`predict`.
    """

    needs_scene: ClassVar[bool] = False
    shapes_moved_objects: ClassVar[bool] = True
    """Whether a moved object's depth is measured per pixel (its shape), so other frames can add views of
    it (``reconstruction.views``); a backend that only places it does not."""

    @abstractmethod
    def predict(self, frames: np.ndarray, scene: ScenePackage | None = None) -> DepthPrediction:
        """Predict depth (or disparity) for T×H×W×3 uint8 ``frames``, one map per frame at H×W."""


_REGISTRY: Registry[DepthBackend] = Registry("depth backend")
DEPTH_BACKENDS = _REGISTRY.classes
"""name → backend class. Register with :func:`register`; heavy libraries are imported in ``__init__``."""
register = _REGISTRY.register
load = _REGISTRY.load
"""``load(name, config=None, **settings)``: e.g. ``load("transformers", model_dir="/weights/da2-small")``."""


def as_frames(frames: Any) -> np.ndarray:
    """A T×H×W×3 uint8 array from a list or array of frames (a single H×W×3 frame becomes T = 1)."""
    array = np.asarray(frames)
    if array.ndim == 3:
        array = array[None]
    if array.ndim != 4 or array.shape[-1] != 3 or array.dtype != np.uint8 or len(array) == 0:
        raise ReconstructionError(
            f"frames must be a non-empty T×H×W×3 uint8 array (or list of H×W×3 frames), got "
            f"{array.shape} {array.dtype}"
        )
    return array


def check_frames_match_scene(frames: np.ndarray, scene: ScenePackage) -> None:
    """Frames must be pixel-registered with the scene's depth: the same camera at the same size."""
    if frames.shape[1:3] != scene.depth_m.shape:
        raise ReconstructionError(
            f"task {scene.task_id}: video frames are {frames.shape[2]}x{frames.shape[1]} but the scene's depth "
            f"frame is {scene.width}x{scene.height}; metric depth needs them pixel-aligned (resize the scene's "
            "depth and camera.resized() to the video size, or generate the video at the scene's size)"
        )


def changed_pixels(frame: np.ndarray, reference_rgb: np.ndarray, threshold: int) -> np.ndarray:
    """H×W bool: where ``frame`` no longer shows what ``reference_rgb`` showed.

    A global per-channel gain (median ratio over well-exposed pixels) is divided out first: learned video
    models, and cameras, change exposure and white balance over a clip, which would otherwise mark the whole
    frame as changed. Changes narrower than 3 pixels are then dropped (a 3×3 opening): an mp4 round trip
    (chroma subsampling, ringing) changes saturated edges by up to ~100 levels in a one-pixel band, while a
    moved object changes a blob. The price: a moved object thinner than 3 pixels is not seen as changed.
    """
    frame_f = frame.astype(np.float32)
    reference_f = reference_rgb.astype(np.float32)
    exposed = (frame_f > 16) & (reference_f > 16)
    gains = np.ones(3, dtype=np.float32)
    for channel in range(3):
        both = exposed[..., channel]
        if both.sum() >= 32:
            ratio = frame_f[..., channel][both] / reference_f[..., channel][both]
            gains[channel] = float(np.clip(np.median(ratio), 0.5, 2.0))
    difference = np.abs(frame_f / gains - reference_f).max(axis=-1)
    return ndimage.binary_opening(difference > threshold, structure=np.ones((3, 3), dtype=bool))


# --- calibration --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DepthCalibration:
    """A fitted ``α·pred + β`` (in the prediction's own space) and how well it explains held-out pixels.

    Args:
        kind: "depth" (metric = α·pred + β) or "disparity" (metric = 1 / (α·pred + β)).
        alpha, beta: the fit; ``alpha > 0`` (a larger prediction means farther for depth, nearer for
            disparity, as the models are trained).
        residual_mm: median absolute metric depth error in millimetres on held-out valid pixels (pixels the
            fit never saw). A held-out pixel the fit maps to no valid depth counts with its full depth.
        p90_mm: 90th percentile of the same errors.
        inlier_fraction: share of the fit pixels within 3 robust standard deviations of the fit.
        num_fit_pixels, num_heldout_pixels: how many pixels were used for the fit and for the check.
    """

    kind: str
    alpha: float
    beta: float
    residual_mm: float
    p90_mm: float
    inlier_fraction: float
    num_fit_pixels: int
    num_heldout_pixels: int

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"DepthCalibration.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if not (np.isfinite(self.alpha) and self.alpha > 0 and np.isfinite(self.beta)):
            raise ValueError(
                f"DepthCalibration needs a finite alpha > 0 and finite beta, got {self.alpha}, {self.beta}"
            )
        if not 0.0 <= self.inlier_fraction <= 1.0:
            raise ValueError(
                f"DepthCalibration.inlier_fraction must lie in [0, 1], got {self.inlier_fraction}"
            )
        for name in ("alpha", "beta", "residual_mm", "p90_mm", "inlier_fraction"):
            object.__setattr__(self, name, float(getattr(self, name)))

    def apply(self, prediction: np.ndarray) -> np.ndarray:
        """Metric depth in metres for a prediction of this kind; 0 where it maps to no valid depth."""
        return to_metric(np.asarray(prediction, dtype=np.float64), self.kind, self.alpha, self.beta)

    def to_dict(self) -> dict:
        return {
            "kind": self.kind,
            "alpha": self.alpha,
            "beta": self.beta,
            "residual_mm": self.residual_mm,
            "p90_mm": self.p90_mm,
            "inlier_fraction": self.inlier_fraction,
            "num_fit_pixels": self.num_fit_pixels,
            "num_heldout_pixels": self.num_heldout_pixels,
        }


def to_metric(prediction: np.ndarray, kind: str, alpha: float, beta: float) -> np.ndarray:
    """``α·pred + β`` as metres (inverted for disparity); 0 where not positive, finite and within range."""
    fitted = alpha * prediction + beta
    with np.errstate(divide="ignore", invalid="ignore"):
        metric = fitted if kind == "depth" else 1.0 / fitted
    good = np.isfinite(metric) & (metric > 0) & (metric <= MAX_DEPTH_M)
    return np.where(good, metric, 0.0).astype(np.float32)


def calibrate(
    prediction: np.ndarray,
    depth_m: np.ndarray,
    kind: str,
    mask: np.ndarray | None = None,
    *,
    holdout_fraction: float = 0.2,
    min_pixels: int = MIN_CALIBRATION_PIXELS,
    seed: int = 0,
) -> DepthCalibration:
    """Fit ``α·prediction + β`` to metric ``depth_m`` robustly and check it on held-out pixels.

    The fit happens in the prediction's space (disparity targets ``1/depth``), where a relative model's error
    is closest to affine. It is robust in two steps: least median of squares over random pixel pairs finds
    the fit most pixels agree with (a 2-parameter model needs 2 pixels per hypothesis, so a few hundred
    hypotheses are enough even at 40 % outliers), then iteratively reweighted least squares with Tukey's
    biweight refines it on all pixels while giving gross outliers (object edges, flying pixels) weight 0.
    A random ``holdout_fraction`` of the valid pixels is kept out of the fit to measure the residual.

    Args:
        prediction: H×W relative prediction.
        depth_m: H×W metric depth in metres, 0/NaN invalid.
        kind: "depth" or "disparity".
        mask: optional H×W bool restricting which pixels may be used (e.g. the static pixels of a frame).
        holdout_fraction: share of the usable pixels kept for the residual check, in (0, 0.5].
        min_pixels: fewer usable pixels than this raises.
        seed: seeds the hold-out split and the hypotheses (the result is deterministic).

    Raises:
        DepthCalibrationError: mismatched shapes, too few usable pixels, a constant prediction, or a
            degenerate fit (α ≤ 0 or not finite).
    """
    prediction = np.asarray(prediction, dtype=np.float64)
    depth_m = np.asarray(depth_m, dtype=np.float64)
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {', '.join(KINDS)}, got {kind!r}")
    if not 0.0 < holdout_fraction <= 0.5:
        raise ValueError(f"holdout_fraction must lie in (0, 0.5], got {holdout_fraction!r}")
    if prediction.ndim != 2 or prediction.shape != depth_m.shape:
        raise DepthCalibrationError(
            f"the prediction is {_size(prediction)} but the metric depth frame is {_size(depth_m)}; "
            "they must be the same H×W"
        )
    usable = np.isfinite(prediction) & np.isfinite(depth_m) & (depth_m > 0)
    if mask is not None:
        mask = np.asarray(mask, dtype=bool)
        if mask.shape != depth_m.shape:
            raise DepthCalibrationError(f"the mask is {_size(mask)} but the depth frame is {_size(depth_m)}")
        usable &= mask
    count = int(usable.sum())
    if count < min_pixels:
        raise DepthCalibrationError(
            f"only {count} pixels have both a valid metric depth and a valid prediction (of "
            f"{depth_m.size}); at least {min_pixels} are needed to calibrate scale and shift"
        )
    rng = np.random.default_rng(seed)
    rows, cols = np.nonzero(usable)
    order = rng.permutation(count)
    held = order[: max(1, round(holdout_fraction * count))]
    fit = order[len(held) :]
    x = prediction[rows[fit], cols[fit]]
    truth = depth_m[rows[fit], cols[fit]]
    target = truth if kind == "depth" else 1.0 / truth
    if np.ptp(x) <= 1e-12 * max(1.0, float(np.abs(x).max())):
        raise DepthCalibrationError(
            f"the prediction is constant ({float(x[0]):.4g}) on all {len(x)} fit pixels; no scale can be fitted "
            "(a broken model or an empty frame)"
        )

    alpha, beta, _sigma, inliers = robust_affine_fit(x, target, rng)
    if not (np.isfinite(alpha) and np.isfinite(beta)) or alpha <= 0:
        hint = (
            " — the prediction falls as the depth grows: is it disparity? set the backend's output_kind"
            if kind == "depth"
            else " — the prediction grows with the depth: is it depth rather than disparity? set output_kind"
        )
        raise DepthCalibrationError(f"degenerate calibration: alpha={alpha:.4g}, beta={beta:.4g}{hint}")

    held_truth = depth_m[rows[held], cols[held]]
    held_metric = to_metric(prediction[rows[held], cols[held]], kind, alpha, beta).astype(np.float64)
    errors_mm = 1000.0 * np.where(held_metric > 0, np.abs(held_metric - held_truth), held_truth)
    return DepthCalibration(
        kind=kind,
        alpha=alpha,
        beta=beta,
        residual_mm=float(np.median(errors_mm)),
        p90_mm=float(np.percentile(errors_mm, 90)),
        inlier_fraction=float(inliers.mean()),
        num_fit_pixels=len(fit),
        num_heldout_pixels=len(held),
    )


TUKEY_C = 4.685
"""Tukey biweight cut-off in robust standard deviations (95 % efficiency on Gaussian noise)."""


def robust_affine_fit(
    x: np.ndarray,
    y: np.ndarray,
    rng: np.random.Generator,
    *,
    hypotheses: int = 256,
    max_scored: int = 4000,
    iterations: int = 50,
) -> tuple[float, float, float, np.ndarray]:
    """``y ≈ α·x + β`` by least median of squares, refined by Tukey-weighted least squares.

    Returns (α, β, robust σ of the residuals, inlier mask |residual| ≤ 3σ). Without a good start a
    redescending estimator can lock onto outliers; LMedS gives that start, tolerating up to half the points
    being outliers.
    """
    scored = np.arange(len(x)) if len(x) <= max_scored else rng.choice(len(x), max_scored, replace=False)
    xs, ys = x[scored], y[scored]
    first, second = rng.integers(0, len(x), size=(2, hypotheses))
    dx = x[first] - x[second]
    spread = float(np.ptp(x))
    ok = np.abs(dx) > 1e-9 * spread
    slopes = (y[first][ok] - y[second][ok]) / dx[ok]
    intercepts = y[first][ok] - slopes * x[first][ok]
    ls_slope, ls_intercept = _weighted_line(x, y, np.ones_like(x))
    slopes = np.append(slopes, ls_slope)
    intercepts = np.append(intercepts, ls_intercept)
    medians = np.median(np.abs(ys[None, :] - slopes[:, None] * xs[None, :] - intercepts[:, None]), axis=1)
    best = int(np.argmin(medians))
    alpha, beta = float(slopes[best]), float(intercepts[best])

    y_size = max(float(np.median(np.abs(y))), 1e-12)
    x_size = float(np.abs(x).max())
    floor = 1e-9 * y_size  # an exact prediction has zero residual spread
    for _ in range(iterations):
        residuals = y - alpha * x - beta
        sigma = max(1.4826 * float(np.median(np.abs(residuals))), floor)
        u = residuals / (TUKEY_C * sigma)
        weights = np.where(np.abs(u) < 1.0, (1.0 - u**2) ** 2, 0.0)
        if weights.sum() < 2:
            break
        new_alpha, new_beta = _weighted_line(x, y, weights)
        # Converged when the fitted values move by less than a billionth of the targets' size.
        change = abs(new_alpha - alpha) * x_size + abs(new_beta - beta)
        converged = change <= 1e-9 * y_size
        alpha, beta = new_alpha, new_beta
        if converged:
            break
    residuals = y - alpha * x - beta
    sigma = max(1.4826 * float(np.median(np.abs(residuals))), floor)
    return alpha, beta, sigma, np.abs(residuals) <= 3.0 * sigma


def _weighted_line(x: np.ndarray, y: np.ndarray, weights: np.ndarray) -> tuple[float, float]:
    """Weighted least-squares line, solved about the weighted means (well conditioned for disparities)."""
    total = float(weights.sum())
    mean_x, mean_y = float(weights @ x) / total, float(weights @ y) / total
    dx, dy = x - mean_x, y - mean_y
    denominator = float(weights @ (dx * dx))
    if denominator <= 0:
        return float("nan"), float("nan")
    slope = float(weights @ (dx * dy)) / denominator
    return slope, mean_y - slope * mean_x


def _size(array: np.ndarray) -> str:
    return "x".join(str(n) for n in array.shape[::-1]) if array.ndim == 2 else f"shape {array.shape}"


# --- the video: every frame metric --------------------------------------------------------------------------


@dataclass(frozen=True)
class MetricDepthConfig:
    """How a clip's predictions are tied to the scene's metric depth.

    Args:
        change_threshold: colour difference (0-255, per channel, after gain compensation) above which a
            pixel no longer shows what the sensor saw; see :func:`changed_pixels`.
        static_margin_px: pixels this close to a changed pixel are not used as static anchors either
            (mixed colours and the model's blur at moving edges).
        min_static_fraction: a frame whose static pixels are fewer than this share of the sensor's valid
            pixels is refused: the camera moved or the video is not of this scene.
        fuse_static: keep the sensor's depth on static pixels (frame 0: every unchanged pixel) and use the
            calibrated prediction only where the scene changed or the sensor had no value. The static scene
            is then identical in every frame, as it physically is, instead of flickering with the model.
        holdout_fraction: share of each frame's anchor pixels kept out of the fit for the residual.
        seed: seeds the hold-out split and the robust fit.
    """

    change_threshold: int = DEFAULT_CHANGE_THRESHOLD
    static_margin_px: int = 2
    min_static_fraction: float = 0.2
    fuse_static: bool = True
    holdout_fraction: float = 0.2
    seed: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.change_threshold, bool) or not 0 < self.change_threshold < 255:
            raise ValueError(f"change_threshold must lie in (0, 255), got {self.change_threshold!r}")
        if (
            isinstance(self.static_margin_px, bool)
            or int(self.static_margin_px) != self.static_margin_px
            or not (0 <= self.static_margin_px <= 32)
        ):
            raise ValueError(f"static_margin_px must be an integer in [0, 32], got {self.static_margin_px!r}")
        if not 0.0 < self.min_static_fraction <= 1.0:
            raise ValueError(f"min_static_fraction must lie in (0, 1], got {self.min_static_fraction!r}")
        if not 0.0 < self.holdout_fraction <= 0.5:
            raise ValueError(f"holdout_fraction must lie in (0, 0.5], got {self.holdout_fraction!r}")
        if isinstance(self.seed, bool) or int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")


@dataclass(frozen=True, eq=False)
class MetricDepthVideo:
    """Metric depth for every frame of a clip, in the scene camera's frame.

    Args:
        depths_m: T×H×W float32 metres (z-depth), 0 where unknown.
        calibrations: per frame, the fit of that frame's prediction to the scene's metric depth on its
            static pixels (frame 0: on every pixel that looks as in the scene image).
        static_fractions: per frame, the share of the sensor's valid pixels that were static anchors.
        camera: the scene camera (same for every frame: a static camera is assumed).
        backend: the depth backend's name.
    """

    depths_m: np.ndarray
    calibrations: tuple[DepthCalibration, ...]
    static_fractions: tuple[float, ...]
    camera: CameraSpec
    backend: str

    def __post_init__(self) -> None:
        depths = np.asarray(self.depths_m, dtype=np.float32)
        if depths.ndim != 3:
            raise ValueError(f"MetricDepthVideo.depths_m must be T×H×W, got {depths.shape}")
        if not (len(self.calibrations) == len(self.static_fractions) == len(depths)):
            raise ValueError("MetricDepthVideo needs one calibration and one static fraction per frame")
        if (depths.shape[2], depths.shape[1]) != (self.camera.width, self.camera.height):
            raise ValueError(f"MetricDepthVideo frames {depths.shape[1:]} do not match the camera size")
        if not np.all(np.isfinite(depths)) or depths.min() < 0:
            raise ValueError("MetricDepthVideo.depths_m must be finite and non-negative (0 = unknown)")
        depths.setflags(write=False)
        object.__setattr__(self, "depths_m", depths)
        object.__setattr__(self, "calibrations", tuple(self.calibrations))
        object.__setattr__(self, "static_fractions", tuple(float(f) for f in self.static_fractions))

    @property
    def num_frames(self) -> int:
        return int(self.depths_m.shape[0])

    def points_world(self, frame: int) -> tuple[np.ndarray, np.ndarray]:
        """Frame ``frame`` back-projected: (N×3 world points, N×2 pixel (row, col))."""
        return depth_to_points_world(self.depths_m[frame], self.camera)

    def to_dict(self) -> dict:
        """Per-frame reports (no arrays): what a table row or a run's metadata records."""
        return {
            "backend": self.backend,
            "num_frames": self.num_frames,
            "frames": [
                {"frame": index, "static_fraction": fraction, **calibration.to_dict()}
                for index, (calibration, fraction) in enumerate(zip(self.calibrations, self.static_fractions))
            ],
        }


def metric_depth_video(
    frames: Any,
    scene: ScenePackage,
    backend: DepthBackend | str = "geometric",
    config: MetricDepthConfig | None = None,
) -> MetricDepthVideo:
    """Metric depth for every frame: predict, then align each frame to the scene's depth on static pixels.

    Each frame ``t`` (frame 0 included: a learned video model need not reproduce its conditioning image
    exactly) is calibrated on the pixels that still look as in ``scene.rgb`` and have valid sensor depth,
    away from changed pixels by ``static_margin_px``. Its metric depth is the calibrated prediction, with the
    sensor's depth kept on those static pixels when ``config.fuse_static``. ``backend`` is a backend or a
    registered name (built with its default config).

    Raises:
        ReconstructionError: frames of another size than the scene's depth frame, not uint8 RGB, or a frame
            with too few static pixels to anchor it.
        DepthCalibrationError: a frame's fit is degenerate (see :func:`calibrate`).
    """
    config = config or MetricDepthConfig()
    frames = as_frames(frames)
    check_frames_match_scene(frames, scene)
    if isinstance(backend, str):
        backend = load(backend)
    prediction = backend.predict(frames, scene)
    if prediction.values.shape != frames.shape[:3]:
        raise ReconstructionError(
            f"depth backend {backend.name!r} returned {prediction.values.shape} for frames {frames.shape[:3]}"
        )
    sensor = scene.depth_m
    sensor_valid = sensor > 0
    structure = np.ones((3, 3), dtype=bool)
    depths, calibrations, fractions = [], [], []
    for index, frame in enumerate(frames):
        changed = changed_pixels(frame, scene.rgb, config.change_threshold)
        if config.static_margin_px and changed.any():
            changed = ndimage.binary_dilation(changed, structure, iterations=config.static_margin_px)
        static = sensor_valid & ~changed
        fraction = float(static.sum() / max(int(sensor_valid.sum()), 1))
        if fraction < config.min_static_fraction:
            raise ReconstructionError(
                f"task {scene.task_id}, frame {index}: only {100 * fraction:.1f}% of the depth pixels still look "
                f"as in the scene image (need {100 * config.min_static_fraction:.0f}%); the camera moved, or "
                "the video does not show this scene, so its depth cannot be anchored to the sensor"
            )
        try:
            calibration = calibrate(
                prediction.values[index],
                sensor,
                prediction.kind,
                static & prediction.valid[index],
                holdout_fraction=config.holdout_fraction,
                seed=config.seed + index,
            )
        except DepthCalibrationError as exc:
            raise DepthCalibrationError(f"task {scene.task_id}, frame {index}: {exc}") from None
        metric = calibration.apply(prediction.values[index])
        metric = np.where(prediction.valid[index], metric, 0.0)
        if config.fuse_static:
            metric = np.where(static, sensor, metric)
        depths.append(metric.astype(np.float32))
        calibrations.append(calibration)
        fractions.append(fraction)
    return MetricDepthVideo(
        depths_m=np.stack(depths),
        calibrations=tuple(calibrations),
        static_fractions=tuple(fractions),
        camera=scene.camera,
        backend=backend.name,
    )


# --- offline backend ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class GeometricDepthConfig:
    """Settings of the offline geometric depth backend.

    Args:
        change_threshold: colour difference (0-255) above which a pixel counts as changed; see
            :func:`changed_pixels`.
        table_colour_tolerance: a changed pixel within this RGB distance of the table's colour (or within the
            table's own colour spread, if larger) shows table, and gets the table plane's depth.
        object_colour_tolerance: a changed region takes the height of the frame-0 object pixels within this
            RGB distance of its median colour.
        min_object_height_m: frame-0 pixels this far above the table are objects (colour/height look-ups).
    """

    change_threshold: int = DEFAULT_CHANGE_THRESHOLD
    table_colour_tolerance: float = 30.0
    object_colour_tolerance: float = 45.0
    min_object_height_m: float = 0.008

    def __post_init__(self) -> None:
        if isinstance(self.change_threshold, bool) or not 0 < self.change_threshold < 255:
            raise ValueError(f"change_threshold must lie in (0, 255), got {self.change_threshold!r}")
        for name in ("table_colour_tolerance", "object_colour_tolerance"):
            value = getattr(self, name)
            if not (np.isfinite(value) and 0 < value <= 442):
                raise ValueError(f"{name} must lie in (0, 442] (an RGB distance), got {value!r}")
        if not (np.isfinite(self.min_object_height_m) and 0 < self.min_object_height_m < 0.5):
            raise ValueError(
                f"min_object_height_m must lie in (0, 0.5) metres, got {self.min_object_height_m!r}"
            )


@register
class GeometricDepthBackend(DepthBackend):
    """Depth for the video frames from the one real depth frame and the scene's geometry; no weights.

    Per frame and pixel:

    1. unchanged from the scene image → the sensor's depth (exact where the scene did not move; frame 0 of
       the procedural video is the scene image, so it reproduces the sensor depth exactly);
    2. changed, and now table-coloured → the fitted support plane's depth along the pixel's ray (the table
       revealed where an object was lifted away);
    3. changed otherwise (the moved object, a hand) → per connected region, a horizontal layer at the median
       height above the table of the frame-0 object pixels whose colour is near the region's median colour
       (the same object, seen before it moved), intersected with each pixel's ray; without such pixels, the
       depth of the nearest pixel that has one.

    What it cannot do, by construction: (3) puts a carried object at the height of its visible surfaces at
    rest, so a lifted object is placed too far from the camera by about its lift (right for objects that
    slide or tip on the table, wrong in the carry phase); it has no notion of an object's shape in depth (a
    layer is flat); two objects of the same colour are not told apart; a moving camera breaks (1). It is a
    stand-in that keeps the pipeline running offline and honest about what was measured, not a depth model.
    The output is metric already (``kind="depth"``), so calibration finds α ≈ 1, β ≈ 0.
    """

    name = "geometric"
    config_class = GeometricDepthConfig
    needs_scene = True
    shapes_moved_objects = False  # a moved object is a flat layer: it has no shape to add views of

    def predict(self, frames: np.ndarray, scene: ScenePackage | None = None) -> DepthPrediction:
        if scene is None:
            raise ReconstructionError(
                "the geometric depth backend builds on the scene's real depth frame: pass the scene"
            )
        frames = as_frames(frames)
        check_frames_match_scene(frames, scene)
        config = self.config
        plane = fit_support_plane(scene)
        sensor = scene.depth_m
        height_px, width_px = sensor.shape

        # Ray directions with unit z in the camera frame, so a ray parameter is a z-depth.
        camera = scene.camera
        rows, cols = np.mgrid[0:height_px, 0:width_px]
        rays_cam = np.stack(
            [(cols + 0.5 - camera.cx) / camera.fx, (rows + 0.5 - camera.cy) / camera.fy, np.ones(rows.shape)],
            -1,
        )
        cam_to_world = camera.extrinsic
        normal = plane.normal_array
        facing = rays_cam @ (cam_to_world[:3, :3].T @ normal)  # n · (R d) per pixel
        camera_height = float(cam_to_world[:3, 3] @ normal)

        def layer_depth(height_above_table: np.ndarray | float) -> np.ndarray:
            """z-depth where each pixel's ray meets the plane raised by ``height_above_table``; 0 if it misses."""
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (plane.offset + height_above_table - camera_height) / facing
            return np.where(np.isfinite(z) & (z > 0) & (z <= MAX_DEPTH_M), z, 0.0)

        table_depth = layer_depth(0.0)
        heights = np.full(sensor.shape, np.nan)
        points_world, pixels = depth_to_points_world(sensor, camera)
        heights[pixels[:, 0], pixels[:, 1]] = plane.signed_height(points_world)
        table_noise = max(0.005, 3.0 * plane.rms)
        on_table = np.abs(np.nan_to_num(heights, nan=np.inf)) < table_noise
        on_object = np.nan_to_num(heights, nan=-np.inf) > config.min_object_height_m
        rgb0 = scene.rgb.astype(np.float64)
        table_colour = np.median(rgb0[on_table], axis=0)
        table_spread = float(np.percentile(np.linalg.norm(rgb0[on_table] - table_colour, axis=1), 95))
        table_tolerance = max(config.table_colour_tolerance, table_spread)
        object_colours, object_heights = rgb0[on_object], heights[on_object]

        values = np.zeros(frames.shape[:3], dtype=np.float32)
        valid = np.zeros(frames.shape[:3], dtype=bool)
        for index, frame in enumerate(frames):
            changed = changed_pixels(frame, scene.rgb, config.change_threshold)
            depth = np.where(changed, 0.0, sensor)
            colour = frame.astype(np.float64)
            table_like = changed & (np.linalg.norm(colour - table_colour, axis=-1) <= table_tolerance)
            depth[table_like] = table_depth[table_like]
            foreground = changed & ~table_like
            labels, count = ndimage.label(foreground, structure=np.ones((3, 3), dtype=bool))
            for label in range(1, count + 1):
                region = labels == label
                look_alike = np.linalg.norm(object_colours - np.median(colour[region], axis=0), axis=1)
                similar = look_alike <= config.object_colour_tolerance
                if similar.any():
                    depth[region] = layer_depth(float(np.median(object_heights[similar])))[region]
            missing = changed & (depth <= 0)
            sources = depth > 0
            if missing.any() and sources.any():
                _, (near_rows, near_cols) = ndimage.distance_transform_edt(~sources, return_indices=True)
                depth[missing] = depth[near_rows[missing], near_cols[missing]]
            values[index] = depth
            valid[index] = depth > 0
        return DepthPrediction(values=values, kind="depth", valid=valid, backend=self.name)


# --- transformers backend -----------------------------------------------------------------------------------

OUTPUT_KINDS = ("auto", *KINDS)

KIND_BY_MODEL_TYPE: dict[str, str] = {
    "dpt": "disparity",  # MiDaS v3 / DPT-Hybrid/Large: relative inverse depth
    "depth_anything": "disparity",  # relative checkpoints; metric ones say depth_estimation_type="metric"
    "zoedepth": "depth",  # metric
    "glpn": "depth",  # metric (NYU / KITTI)
    "depth_pro": "depth",  # metric
}
"""``config.model_type`` → what the model predicts, for ``output_kind="auto"``. Others must set it."""

_DEVICE_PATTERN = re.compile(r"cpu|auto|cuda(:\d+)?")


@dataclass(frozen=True)
class TransformersDepthConfig:
    """Settings of the transformers depth backend.

    Args:
        model_dir: local folder holding ``config.json``, the weights and ``preprocessor_config.json``, as
            written by ``save_pretrained`` or ``hf download <repo> --local-dir <dir>`` (e.g.
            depth-anything/Depth-Anything-V2-Small-hf). Required; nothing is downloaded.
        output_kind: "depth", "disparity", or "auto" (from the model type, see :data:`KIND_BY_MODEL_TYPE`).
        batch_size: frames per forward pass (memory vs. speed; 4 suits a CPU).
        device: "cpu", "cuda", "cuda:N" or "auto" (CUDA when available).
    """

    model_dir: str = ""
    output_kind: str = "auto"
    batch_size: int = 4
    device: str = "cpu"

    def __post_init__(self) -> None:
        if not isinstance(self.model_dir, str | Path) or not str(self.model_dir).strip():
            raise DepthModelError(
                "model_dir is required for the transformers depth backend: set it to a local folder with "
                "config.json and preprocessor_config.json (e.g. `hf download "
                "depth-anything/Depth-Anything-V2-Small-hf --local-dir <dir>`)"
            )
        object.__setattr__(self, "model_dir", str(self.model_dir))
        if self.output_kind not in OUTPUT_KINDS:
            raise ValueError(
                f"output_kind must be one of {', '.join(OUTPUT_KINDS)}, got {self.output_kind!r}"
            )
        if (
            isinstance(self.batch_size, bool)
            or int(self.batch_size) != self.batch_size
            or not 1 <= self.batch_size <= 256
        ):
            raise ValueError(f"batch_size must be an integer in [1, 256], got {self.batch_size!r}")
        object.__setattr__(self, "batch_size", int(self.batch_size))
        if not isinstance(self.device, str) or not _DEVICE_PATTERN.fullmatch(self.device):
            raise ValueError(f"device must be 'cpu', 'cuda', 'cuda:N' or 'auto', got {self.device!r}")


def read_model_config(
    model_dir: str, what: str, error: type[Exception], needs: tuple[str, ...]
) -> tuple[Path, dict]:
    """Resolve a transformers ``model_dir`` and parse its ``config.json``, with errors naming the field."""
    folder = Path(model_dir).expanduser()
    layout = (
        f"it must be a transformers model folder holding {', '.join(needs)} and the weights, as written by "
        "`save_pretrained(dir)` or `hf download <repo> --local-dir <dir>`"
    )
    if not folder.is_dir():
        raise error(f"{what}: model_dir {str(folder)!r} does not exist or is not a directory; {layout}")
    for name in needs:
        if not (folder / name).is_file():
            raise error(f"{what}: model_dir {str(folder)!r} has no {name}; {layout}")
    try:
        config = json.loads((folder / "config.json").read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(
            f"{what}: model_dir {str(folder)!r}: config.json is unreadable ({exc}); {layout}"
        ) from None
    if not isinstance(config, dict) or not isinstance(config.get("model_type"), str):
        raise error(f"{what}: model_dir {str(folder)!r}: config.json has no model_type; {layout}")
    return folder.resolve(), config


@register
class TransformersDepthBackend(DepthBackend):
    """Monocular depth from a transformers depth-estimation model in a local folder.

    Building the backend checks the packages and the folder (cheap); the first :meth:`predict` loads the
    weights. Frames go through the model's own image processor in batches on the configured device; each
    prediction is resized back to the frame size with the processor's post-processing (which also removes
    the padding some models add).
    """

    name = "transformers"
    config_class = TransformersDepthConfig

    def __init__(self, config: TransformersDepthConfig | None = None) -> None:
        super().__init__(config)
        require_models_extra("transformers depth backend", DepthModelError, "torch", "transformers")
        self.model_dir, model_config = read_model_config(
            self.config.model_dir,
            "transformers depth backend",
            DepthModelError,
            ("config.json", "preprocessor_config.json"),
        )
        model_type = model_config["model_type"]
        kind = self.config.output_kind
        if kind == "auto":
            if model_config.get("depth_estimation_type") == "metric":
                kind = "depth"
            elif model_type in KIND_BY_MODEL_TYPE:
                kind = KIND_BY_MODEL_TYPE[model_type]
            else:
                raise DepthModelError(
                    f"model_dir {str(self.model_dir)!r} holds a {model_type!r} model, whose output kind this "
                    f"backend does not know; set output_kind to 'depth' or 'disparity'"
                )
        self.kind = kind
        self.model_type = model_type
        self.device = pick_device(self.config.device, DepthModelError)
        self._loaded: tuple[Any, Any] | None = None

    def _load(self) -> tuple[Any, Any]:
        if self._loaded is None:
            self._loaded = load_transformers_model(
                "depth",
                self.model_dir,
                self.device,
                "AutoModelForDepthEstimation",
                "AutoImageProcessor",
                DepthModelError,
                "a depth-estimation model and its image processor",
            )
        return self._loaded

    def predict(self, frames: np.ndarray, scene: ScenePackage | None = None) -> DepthPrediction:
        """Predict every frame (``scene`` is not used: a learned model sees only pixels)."""
        # torch (~3 s cold, the models extra) only in this learned backend: the default geometric backend and
        # every module importing this one stay torch-free.
        import torch

        frames = as_frames(frames)
        model, processor = self._load()
        height_px, width_px = frames.shape[1:3]
        post_process = getattr(processor, "post_process_depth_estimation", None)
        takes_source = (
            post_process is not None and "source_sizes" in inspect.signature(post_process).parameters
        )
        values = np.empty(frames.shape[:3], dtype=np.float32)
        for start in range(0, len(frames), self.config.batch_size):
            batch = frames[start : start + self.config.batch_size]
            sizes = [(height_px, width_px)] * len(batch)
            try:
                inputs = processor(images=list(batch), return_tensors="pt").to(self.device)
                with torch.inference_mode():
                    outputs = model(**inputs)
                if post_process is not None:
                    extra = {"source_sizes": sizes} if takes_source else {}
                    maps = [r["predicted_depth"] for r in post_process(outputs, target_sizes=sizes, **extra)]
                    resized = torch.stack([m.reshape(height_px, width_px) for m in maps])
                else:
                    resized = torch.nn.functional.interpolate(
                        outputs.predicted_depth[:, None], size=(height_px, width_px), mode="bilinear"
                    )[:, 0]
            except Exception as exc:
                raise DepthModelError(
                    f"{self.model_type} model from {str(self.model_dir)!r} failed on frames {start}-"
                    f"{start + len(batch) - 1} ({width_px}x{height_px}): {type(exc).__name__}: {exc}"
                ) from exc
            values[start : start + len(batch)] = resized.float().cpu().numpy()
        return DepthPrediction(values=values, kind=self.kind, valid=np.isfinite(values), backend=self.name)
