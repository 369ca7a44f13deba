"""Realism knobs: the artefacts real image-to-video models show, added on purpose to a procedural video.

Why this exists: a learned video model does not hand the later stages a clean render. A hand carries the
object and covers part of it, the exposure flickers, the object slowly grows or shrinks, the camera shakes,
the path goes straight through whatever is in the way, and the object drops out for a frame or two. The
reconstruction, twin and policy stages must survive all of that, so the procedural backend can add each one,
seeded, to any degree (:class:`RealismConfig`, with named :data:`REALISM_PRESETS`).

Split of the work: the knobs that change *what moves* (path through an obstacle, scale drift, popping) are
applied where the trajectory is planned and the object rendered (:mod:`.procedural`); the image-space
post-effects (hand occluder, flicker, shake) are the small pure functions here. Everything random is drawn
up front by :func:`sample_realism`, one independent stream per knob, so turning one knob on never changes
another knob's samples, and frame 0 is never touched (the reconstruction pairs it with the real depth).
"""

from __future__ import annotations

import zlib
from dataclasses import asdict, dataclass, fields
from typing import Any

import numpy as np
from scipy import ndimage

SKIN_TONES_RGB = ((224, 172, 140), (198, 134, 96), (241, 194, 164), (160, 106, 72), (212, 158, 120))
"""Skin colours the hand occluder is drawn in (one per video, seeded)."""


@dataclass(frozen=True)
class RealismConfig:
    """How strongly each artefact is added; every knob at 0 (the default) leaves the video untouched.

    Args:
        hand_occluder: width of a skin-coloured hand (palm plus forearm) that holds the object from above
            while it is lifted, carried and lowered, relative to the object's width in the image; it covers
            the object's upper part. 0 = no hand.
        flicker: standard deviation of the per-frame global brightness gain (0.05 = ±5 %); each colour channel
            also jitters by a third of that.
        scale_drift: the object is rendered up to this much larger or smaller (relative, about its centre) by
            the last frame, growing linearly from the start of the motion; sign and size (½–1 × this) seeded.
        shake_px: per-frame camera shake, image translation uniform in ±this many pixels on each axis.
        shake_deg: per-frame camera shake, image rotation uniform in ±this many degrees about the centre.
        through_obstacle: probability that the carry path is not lifted over the obstacles but runs straight
            through them at half the tallest one's height (True counts as 1).
        pop_frames: number of mid-motion frames in which the object vanishes (rendered absent).
    """

    hand_occluder: float = 0.0
    flicker: float = 0.0
    scale_drift: float = 0.0
    shake_px: float = 0.0
    shake_deg: float = 0.0
    through_obstacle: float = 0.0
    pop_frames: int = 0

    def __post_init__(self) -> None:
        limits = {
            "hand_occluder": 2.0,
            "flicker": 0.3,
            "scale_drift": 0.5,
            "shake_px": 10.0,
            "shake_deg": 5.0,
            "through_obstacle": 1.0,
        }
        for name, upper in limits.items():
            value = getattr(self, name)
            if not (
                isinstance(value, (int, float, np.number)) and np.isfinite(value) and 0 <= value <= upper
            ):
                raise ValueError(f"{name} must be a number in [0, {upper}], got {value!r}")
            object.__setattr__(self, name, float(value))
        pops = self.pop_frames
        if (
            isinstance(pops, (bool, np.bool_))
            or not isinstance(pops, (int, np.integer))
            or not 0 <= pops <= 4
        ):
            raise ValueError(f"pop_frames must be an integer in [0, 4], got {pops!r}")
        object.__setattr__(self, "pop_frames", int(pops))

    @property
    def enabled(self) -> bool:
        """Whether any knob is on."""
        return self != RealismConfig()


REALISM_PRESETS: dict[str, RealismConfig] = {
    "none": RealismConfig(),
    "mild": RealismConfig(
        hand_occluder=0.6,
        flicker=0.03,
        scale_drift=0.05,
        shake_px=1.0,
        shake_deg=0.3,
        through_obstacle=0.0,
        pop_frames=1,
    ),
    "harsh": RealismConfig(
        hand_occluder=1.0,
        flicker=0.10,
        scale_drift=0.15,
        shake_px=3.0,
        shake_deg=1.0,
        through_obstacle=1.0,
        pop_frames=3,
    ),
}
"""name → knob settings; ``ProceduralVideoConfig(realism="mild")`` picks one by name."""


def as_realism_config(value: Any) -> RealismConfig:
    """A :class:`RealismConfig` from an instance, a preset name, or a dict of its fields.

    Raises:
        ValueError: unknown preset, unknown field, bad value, or another type; the message starts "realism".
    """
    if isinstance(value, RealismConfig):
        return value
    if isinstance(value, str):
        if value not in REALISM_PRESETS:
            raise ValueError(f"realism preset {value!r} is unknown; presets: {', '.join(REALISM_PRESETS)}")
        return REALISM_PRESETS[value]
    if isinstance(value, dict):
        known = {f.name for f in fields(RealismConfig)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(
                f"realism has no setting(s) {', '.join(map(str, unknown))}; it accepts {', '.join(sorted(known))}"
            )
        try:
            return RealismConfig(**value)
        except ValueError as exc:
            raise ValueError(f"realism.{exc}") from None
    raise ValueError(
        f"realism must be a RealismConfig, a preset name ({', '.join(REALISM_PRESETS)}) or a dict, "
        f"got {type(value).__name__}"
    )


@dataclass(frozen=True, eq=False)
class RealismSamples:
    """Every random draw of one video's artefacts (index = frame; frame 0 always neutral).

    Args:
        through_obstacle: the carry path cuts through the obstacles.
        scale_factors: T object scale factors about its centre (1 = unchanged).
        popped_frames: sorted frame indices where the object is rendered absent.
        gains_rgb: T×3 per-channel brightness gains (1 = unchanged).
        shake: T×3 (dx pixels right, dy pixels down, degrees counter-clockwise) image jitter.
        hand_angle_deg: direction the forearm leaves the palm, degrees from image-up (positive = right).
        hand_side: where the palm grips across the object's width, in [-1, 1] of its half-width.
        skin_rgb: the hand's colour.
    """

    through_obstacle: bool
    scale_factors: np.ndarray
    popped_frames: tuple[int, ...]
    gains_rgb: np.ndarray
    shake: np.ndarray
    hand_angle_deg: float
    hand_side: float
    skin_rgb: tuple[int, int, int]


def knob_rng(seed: int, knob: str) -> np.random.Generator:
    """An independent random stream per (seed, knob): a knob's samples do not depend on the others."""
    return np.random.default_rng([int(seed), zlib.crc32(knob.encode())])


def sample_realism(realism: RealismConfig, seed: int, num_frames: int, hold_frames: int) -> RealismSamples:
    """Draw every artefact of one video (``hold_frames`` still frames at each end, the motion in between)."""
    frames = np.arange(num_frames)
    first_moving, last_moving = hold_frames, num_frames - 1 - hold_frames

    through = bool(knob_rng(seed, "through_obstacle").uniform() < realism.through_obstacle)

    rng = knob_rng(seed, "scale_drift")
    drift = float(rng.choice([-1.0, 1.0]) * rng.uniform(0.5, 1.0) * realism.scale_drift)
    progress = np.clip((frames - first_moving) / max(num_frames - 1 - first_moving, 1), 0.0, 1.0)
    scale_factors = 1.0 + drift * progress

    candidates = np.arange(max(first_moving + 1, 1), last_moving)  # mid-motion, never the first or last
    count = min(realism.pop_frames, len(candidates))
    popped = knob_rng(seed, "pop_frames").choice(candidates, size=count, replace=False) if count else []
    popped_frames = tuple(sorted(int(i) for i in popped))

    rng = knob_rng(seed, "flicker")
    brightness = np.clip(
        rng.normal(0.0, realism.flicker, num_frames), -3 * realism.flicker, 3 * realism.flicker
    )
    tint = np.clip(rng.normal(0.0, realism.flicker / 3, (num_frames, 3)), -realism.flicker, realism.flicker)
    gains_rgb = (1.0 + brightness[:, None]) * (1.0 + tint)

    rng = knob_rng(seed, "shake")
    shake = np.concatenate(
        [
            rng.uniform(-1.0, 1.0, (num_frames, 2)) * realism.shake_px,
            rng.uniform(-1.0, 1.0, (num_frames, 1)) * realism.shake_deg,
        ],
        axis=1,
    )

    gains_rgb[0], shake[0], scale_factors[0] = 1.0, 0.0, 1.0  # frame 0 is the input image, always

    rng = knob_rng(seed, "hand_occluder")
    return RealismSamples(
        through_obstacle=through,
        scale_factors=scale_factors,
        popped_frames=popped_frames,
        gains_rgb=gains_rgb,
        shake=shake,
        hand_angle_deg=float(rng.uniform(-60.0, 60.0)),
        hand_side=float(rng.uniform(-0.5, 0.5)),
        skin_rgb=SKIN_TONES_RGB[int(rng.integers(len(SKIN_TONES_RGB)))],
    )


# --- image-space post-effects (pure: a new frame out, the input untouched) ----------------------------------


def draw_hand(
    frame: np.ndarray,
    object_box: tuple[float, float, float, float],
    width_ratio: float,
    angle_deg: float,
    side: float,
    skin_rgb: tuple[int, int, int],
) -> np.ndarray:
    """A hand gripping the object from above: a palm disc on its upper part and a forearm leaving the image.

    Args:
        frame: H×W×3 uint8.
        object_box: (row_min, row_max, col_min, col_max) of the object in the image.
        width_ratio: palm diameter over the object's width in pixels.
        angle_deg: forearm direction, degrees from image-up (positive = towards the right).
        side: palm centre across the object, in [-1, 1] of its half-width.
        skin_rgb: colour; shaded like a cylinder lit from the front (edges darker).
    """
    row_min, row_max, col_min, col_max = object_box
    object_width = max(col_max - col_min, 2.0)
    palm_radius = 0.5 * width_ratio * object_width
    palm = np.array(
        [row_min + 0.3 * (row_max - row_min), 0.5 * (col_min + col_max) + 0.5 * side * object_width]
    )
    angle = np.deg2rad(angle_deg)
    arm_end = palm + 4.0 * max(palm_radius, 4.0) * np.array([-np.cos(angle), np.sin(angle)])
    height, width = frame.shape[:2]
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64) + 0.5
    pixels = np.stack([rows, cols], axis=-1)

    # Forearm: a capsule of 0.7× the palm's radius from the palm to far along the arm; palm: a disc.
    axis = arm_end - palm
    along = np.clip(((pixels - palm) @ axis) / max(float(axis @ axis), 1e-9), 0.0, 1.0)
    arm_distance = np.linalg.norm(pixels - (palm + along[..., None] * axis), axis=-1)
    palm_distance = np.linalg.norm(pixels - palm, axis=-1)
    arm_cover = 1.0 - arm_distance / (0.7 * palm_radius)
    palm_cover = 1.0 - palm_distance / palm_radius
    cover = np.maximum(arm_cover, palm_cover)  # 1 on the axis/centre, 0 at the outline
    inside = cover > 0
    out = frame.copy()
    if not inside.any():
        return out
    shade = 0.7 + 0.3 * np.sqrt(1.0 - (1.0 - np.clip(cover[inside], 0.0, 1.0)) ** 2)
    out[inside] = np.clip(np.round(shade[:, None] * np.asarray(skin_rgb, float)), 0, 255).astype(np.uint8)
    return out


def apply_gain(frame: np.ndarray, gain_rgb: np.ndarray) -> np.ndarray:
    """Multiply each colour channel by its gain (exposure/white-balance flicker)."""
    return np.clip(np.round(frame.astype(np.float64) * np.asarray(gain_rgb, float)), 0, 255).astype(np.uint8)


def shake_frame(frame: np.ndarray, dx: float, dy: float, angle_deg: float) -> np.ndarray:
    """Move the whole image by (dx, dy) pixels and turn it by ``angle_deg`` about its centre (bilinear).

    Pixels that come in from outside the image repeat the border, as a stabilised camera crop would.
    """
    if dx == 0 and dy == 0 and angle_deg == 0:
        return frame.copy()
    height, width = frame.shape[:2]
    angle = np.deg2rad(angle_deg)
    # Output pixel (r, c) samples the input at R⁻¹((r, c) − centre − shift) + centre (rows down, cols right).
    cos, sin = np.cos(angle), np.sin(angle)
    inverse = np.array([[cos, sin], [-sin, cos]])  # inverse of a counter-clockwise turn in (row, col)
    centre = np.array([(height - 1) / 2, (width - 1) / 2])
    offset = centre - inverse @ (centre + np.array([dy, dx]))
    out = np.empty_like(frame)
    for channel in range(frame.shape[2]):
        out[..., channel] = np.clip(
            np.round(
                ndimage.affine_transform(
                    frame[..., channel].astype(np.float64), inverse, offset=offset, order=1, mode="nearest"
                )
            ),
            0,
            255,
        )
    return out


def samples_to_dict(realism: RealismConfig, samples: RealismSamples) -> dict[str, Any]:
    """The JSON-serialisable record of what was applied (``plan["realism"]``), minus path facts."""
    return {
        "config": asdict(realism),
        "enabled": realism.enabled,
        "through_obstacle": samples.through_obstacle,
        "popped_frames": list(samples.popped_frames),
        "scale_factors": [float(v) for v in samples.scale_factors],
        "flicker_gains_rgb": samples.gains_rgb.tolist(),
        "shake_dx_dy_deg": samples.shake.tolist(),
        "hand": {
            "angle_deg": samples.hand_angle_deg,
            "side": samples.hand_side,
            "skin_rgb": list(samples.skin_rgb),
        },
    }
