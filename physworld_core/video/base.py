"""What every image-to-video backend returns, and the interface it implements.

A backend turns the first RGB(-D) frame and the prompt of a :class:`ScenePackage` into a short task video.
The procedural backend renders one from the depth; a diffusers backend (Wan / CogVideoX / LTX I2V) will
hallucinate one from weights. Both return :class:`GeneratedVideo`, so the asset and the reconstruction stage
do not care which ran.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from physworld_core.backends import ConfiguredBackend
from physworld_core.scene import ScenePackage
from physworld_core.video.codec import encode_mp4


@dataclass(frozen=True, eq=False)
class GeneratedVideo:
    """A generated task video.

    Args:
        frames: T×H×W×3 uint8 RGB, frame 0 being (close to) the input image.
        fps: playback rate in frames per second.
        plan: JSON-serialisable record of what the backend intended (for the procedural backend: grounded
            target/goal and the per-frame object transforms). Later stages may use it to *score* tracking,
            never as an input, because a learned backend has no such plan.
    """

    frames: np.ndarray
    fps: float
    plan: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        frames = np.asarray(self.frames)
        if frames.ndim != 4 or frames.shape[-1] != 3 or frames.dtype != np.uint8:
            raise ValueError(
                f"GeneratedVideo.frames must be T×H×W×3 uint8, got {frames.shape} {frames.dtype}"
            )
        if len(frames) == 0:
            raise ValueError("GeneratedVideo.frames is empty")
        if not (np.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"GeneratedVideo.fps must be positive, got {self.fps!r}")
        try:
            json.dumps(self.plan)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"GeneratedVideo.plan must be JSON-serialisable: {exc}") from None
        frames.setflags(write=False)
        object.__setattr__(self, "frames", frames)
        object.__setattr__(self, "fps", float(self.fps))

    @property
    def num_frames(self) -> int:
        return int(self.frames.shape[0])

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.frames.shape[2]), int(self.frames.shape[1])

    def to_mp4(self, **kwargs) -> bytes:
        """Encode with :func:`physworld_core.video.codec.encode_mp4`."""
        return encode_mp4(self.frames, self.fps, **kwargs)


class VideoBackend(ConfiguredBackend, ABC):
    """An image-to-video generator, chosen by name from :data:`physworld_core.video.backends.BACKENDS`.

    Subclasses set ``config_class`` (a frozen, validated dataclass) and implement :meth:`generate`. Heavy
    imports (diffusers, torch weights) belong in ``__init__`` of the backend that needs them, so listing the
    registry stays cheap.
    """

    @abstractmethod
    def generate(self, scene: ScenePackage) -> GeneratedVideo:
        """Generate one video of the scene's prompt, starting from the scene's image."""

    def generate_for(self, scene: ScenePackage, perception: Any) -> GeneratedVideo:
        """Generate from the scene and its stored perception (a :class:`~physworld_core.perception.perceive.
        Perception`). A backend that reads only the image and the prompt (a learned model) ignores it; the
        procedural backend moves what perception grounded instead of perceiving the scene again."""
        return self.generate(scene)
