"""Settings of the procedural video backend (:mod:`.procedural`), apart from it so that the skills' motion can
read them without importing the backend."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from physworld_core.video.realism import RealismConfig, as_realism_config

MIN_FRAMES = 24


@dataclass(frozen=True)
class ProceduralVideoConfig:
    """Settings of the procedural backend.

    Args:
        num_frames: frames in the video (≥ 24, so tracking has enough motion to fit).
        fps: playback rate.
        lift_height: the object's bottom rises at least this far (m) above where it rested.
        clearance: margin (m) kept above the tallest object under the carry path, the container included.
        hold_frames: still frames at the start and at the end (the input image, then the result).
        splat_size: splat side in pixels at the object's original depth (grows as it nears the camera).
        mirror_back: add a mirrored copy of the visible side as the unseen back side.
        fill_iterations: smoothing passes over the disoccluded background after nearest-table filling.
        yaw_jitter_deg: the object turns by up to this much about its vertical axis on the way (random).
        arc_jitter: the carry path bows sideways by up to this much (m, random).
        seed: seeds the jitters and the realism artefacts; different seeds give different plausible videos
            of the same task.
        realism: artefacts of real video models to add (hand occluder, flicker, scale drift, camera shake,
            a path through obstacles, popping); a :class:`~physworld_core.video.realism.RealismConfig`, a
            preset name of :data:`~physworld_core.video.realism.REALISM_PRESETS` ("none", "mild", "harsh")
            or a dict of its fields. Default: none.
    """

    num_frames: int = 32
    fps: float = 8.0
    lift_height: float = 0.10
    clearance: float = 0.03
    hold_frames: int = 2
    splat_size: int = 1
    mirror_back: bool = True
    fill_iterations: int = 20
    yaw_jitter_deg: float = 15.0
    arc_jitter: float = 0.03
    seed: int = 0
    realism: RealismConfig = field(default_factory=RealismConfig)

    def __post_init__(self) -> None:
        object.__setattr__(self, "realism", as_realism_config(self.realism))
        if int(self.num_frames) != self.num_frames or self.num_frames < MIN_FRAMES:
            raise ValueError(f"num_frames must be an integer >= {MIN_FRAMES}, got {self.num_frames!r}")
        if not (np.isfinite(self.fps) and 0 < self.fps <= 120):
            raise ValueError(f"fps must lie in (0, 120], got {self.fps!r}")
        if not (np.isfinite(self.lift_height) and 0 < self.lift_height <= 1.0):
            raise ValueError(f"lift_height must lie in (0, 1] metres, got {self.lift_height!r}")
        if not (np.isfinite(self.clearance) and 0 <= self.clearance <= 0.5):
            raise ValueError(f"clearance must lie in [0, 0.5] metres, got {self.clearance!r}")
        if not 0 <= self.hold_frames <= (self.num_frames - 12) // 2:
            raise ValueError(
                f"hold_frames must lie in [0, {(self.num_frames - 12) // 2}] so at least 12 frames move, "
                f"got {self.hold_frames!r}"
            )
        if not 1 <= self.splat_size <= 5:
            raise ValueError(f"splat_size must lie in [1, 5] pixels, got {self.splat_size!r}")
        if not 0 <= self.fill_iterations <= 500:
            raise ValueError(f"fill_iterations must lie in [0, 500], got {self.fill_iterations!r}")
        if not 0 <= self.yaw_jitter_deg <= 90:
            raise ValueError(f"yaw_jitter_deg must lie in [0, 90], got {self.yaw_jitter_deg!r}")
        if not 0 <= self.arc_jitter <= 0.2:
            raise ValueError(f"arc_jitter must lie in [0, 0.2] metres, got {self.arc_jitter!r}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ValueError(f"seed must be a non-negative integer, got {self.seed!r}")
