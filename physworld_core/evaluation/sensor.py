"""Depth the way a real sensor gives it: the benchmark's captures through a model of a consumer depth camera.

A rendered depth frame is exact everywhere; a structured-light camera's is not, and every perception step
that only ever saw exact depth is untested against what users bring. :class:`SensorModel` turns a rendered
frame into one such a camera would give, from published figures for the Kinect v1 (the structured-light
camera most tabletop datasets were recorded with; OSD and YCB-Video use it or its successors):

- **Random error** growing with the square of the distance: "from a few millimetres up to about 4 cm at the
  maximum range of the sensor" (5 m), so σ(z) = 1.6e-3 m⁻¹ · z² (1.6 mm at 1 m). K. Khoshelham and
  S. O. Elberink, "Accuracy and Resolution of Kinect Depth Data for Indoor Mapping Applications", Sensors
  12(2):1437–1454, 2012.
- **Quantisation**: depth comes from an integer disparity, in steps that grow with z² and reach "about 7 cm
  at the maximum range of 5 m" (same paper), so 2.8e-3 m⁻¹ · z² (2.8 mm at 1 m).
- **A small bias**: we assume +2 mm (farther than true) left after calibration; the figure is ours, of the
  order of the offsets that paper's calibration leaves, not a measured one.
- **Holes at depth edges**: the projector sits 7.5 cm beside the camera (same paper), so the background
  just beside a near object's edge is in the projector's shadow and gets no depth: a band of
  f·b·(1/z_near − 1/z_far) pixels.
- **Holes on dark and shiny surfaces**: too little or mirror-like IR return. The RGB image stands in for the
  IR reflectance: pixels darker than ``dark_luma`` or saturated highlights lose their depth with the given
  probability.

Where holes are, depth is 0, as a sensor reports it. The model is seeded, so a capture is reproducible.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from physworld_core.errors import SceneError


@dataclass(frozen=True)
class SensorModel:
    """What a depth camera does to a perfect depth frame (see the module doc for the figures' sources).

    Attributes:
        name: the preset's name, recorded in the task's source.
        noise_per_m2: σ of the random error per squared metre of distance (m⁻¹); 0: no noise.
        quantisation_per_m2: depth step per squared metre of distance (m⁻¹); 0: continuous depth.
        bias_m: systematic offset added to every valid depth (m; positive: farther).
        baseline_m: projector-to-camera distance, which sets the width of the shadow beside near edges; 0: none.
        edge_jump_m: a neighbour nearer by more than this casts a shadow.
        dark_luma, dark_hole_probability: pixels darker than this (0–1) lose their depth with that probability.
        bright_luma, bright_hole_probability: the same for saturated highlights.
    """

    name: str
    noise_per_m2: float = 0.0
    quantisation_per_m2: float = 0.0
    bias_m: float = 0.0
    baseline_m: float = 0.0
    edge_jump_m: float = 0.01
    dark_luma: float = 0.0
    dark_hole_probability: float = 0.0
    bright_luma: float = 1.0
    bright_hole_probability: float = 0.0

    def __post_init__(self) -> None:
        if not self.name or not self.name.isidentifier():
            raise ValueError(f"a sensor's name must be a plain word, got {self.name!r}")
        for field in ("noise_per_m2", "quantisation_per_m2", "baseline_m", "edge_jump_m"):
            value = getattr(self, field)
            if not np.isfinite(value) or value < 0:
                raise ValueError(f"SensorModel.{field} must be a finite number ≥ 0, got {value!r}")
        if not np.isfinite(self.bias_m) or abs(self.bias_m) > 0.05:
            raise ValueError(f"SensorModel.bias_m must be within ±5 cm, got {self.bias_m!r}")
        for field in ("dark_luma", "bright_luma", "dark_hole_probability", "bright_hole_probability"):
            value = getattr(self, field)
            if not 0.0 <= value <= 1.0:
                raise ValueError(f"SensorModel.{field} must lie in [0, 1], got {value!r}")

    @property
    def is_ideal(self) -> bool:
        return self == SensorModel(self.name)

    def apply(self, depth_m: np.ndarray, rgb: np.ndarray, fx: float, seed: int) -> np.ndarray:
        """The frame this sensor would give for the exact ``depth_m`` (H×W metres, 0 = no depth) and the
        image ``rgb`` (H×W×3 uint8) seen by a camera of focal length ``fx`` pixels. Deterministic in ``seed``."""
        if self.is_ideal:
            return depth_m
        rng = np.random.default_rng(seed)
        z = depth_m.astype(np.float64)
        valid = np.isfinite(z) & (z > 0)
        holes = ~valid | self._shadow(np.where(valid, z, np.inf), fx)
        luma = (rgb[..., :3].astype(np.float64) @ np.array([0.299, 0.587, 0.114])) / 255.0
        draw = rng.random(z.shape)
        holes |= (luma < self.dark_luma) & (draw < self.dark_hole_probability)
        holes |= (luma >= self.bright_luma) & (draw < self.bright_hole_probability)
        z2 = np.where(valid, z, 0.0) ** 2
        out = z + self.bias_m + rng.standard_normal(z.shape) * self.noise_per_m2 * z2
        if self.quantisation_per_m2 > 0:  # whole disparity steps: equal steps of 1/z are steps of q·z² in z
            q = self.quantisation_per_m2
            inverse = np.round(1.0 / np.where(out > 0, out, np.inf) / q) * q
            out = np.where(inverse > 0, 1.0 / np.where(inverse > 0, inverse, 1.0), 0.0)
        return np.where(holes, 0.0, out).astype(np.float32)

    def _shadow(self, z: np.ndarray, fx: float) -> np.ndarray:
        """Pixels in the projector's shadow: a farther surface within f·b·(1/z_near − 1/z) pixels to the right
        of a nearer one (the projector is to the camera's left, as on the Kinect seen from the front)."""
        shadow = np.zeros(z.shape, dtype=bool)
        if self.baseline_m <= 0:
            return shadow
        finite = z[np.isfinite(z)]
        if finite.size == 0:
            return shadow
        widest = fx * self.baseline_m * (1.0 / finite.min() - 1.0 / finite.max())
        for shift in range(1, int(min(np.ceil(widest), z.shape[1] - 1)) + 1):
            near = np.full(z.shape, np.inf)
            near[:, shift:] = z[:, :-shift]
            with np.errstate(divide="ignore", invalid="ignore"):
                band = fx * self.baseline_m * (1.0 / near - 1.0 / z)
            shadow |= (near < z - self.edge_jump_m) & (band >= shift)
        return shadow


SENSORS: dict[str, SensorModel] = {
    "ideal": SensorModel("ideal"),
    "realistic": SensorModel(
        "realistic",
        noise_per_m2=1.6e-3,
        quantisation_per_m2=2.8e-3,
        bias_m=0.002,
        baseline_m=0.075,
        edge_jump_m=0.01,
        dark_luma=0.08,
        dark_hole_probability=0.5,
        bright_luma=0.97,
        bright_hole_probability=0.5,
    ),
}
"""The presets a benchmark source can name (``benchmark:<family>:<seed>:<sensor>``)."""

DEFAULT_SENSOR = "ideal"


def get_sensor(name: str) -> SensorModel:
    """The preset ``name``.

    Raises:
        SceneError: no such preset, naming those there are.
    """
    if name not in SENSORS:
        raise SceneError(f"no depth sensor preset {name!r}; presets: {', '.join(SENSORS)}")
    return SENSORS[name]
