"""The world model's configs, apart from the model so that reading them needs no torch.

:class:`WorldModelConfig` is the model's shape (what a checkpoint was built for), :class:`TrainConfig` the
training phases and their budgets. The Dagster asset builds its config schema from their defaults when the
definitions load; importing torch there would double the load time of every code server and CLI call.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any

RESUMABLE_FIELDS = ("checkpoint_every", "eval_every", "device", "threads")
"""Settings a killed run may be resumed with changed: they do not change what is learned."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@dataclass(frozen=True)
class WorldModelConfig:
    """The model's shape: what a checkpoint was built for.

    Args:
        image_size: frames are ``image_size`` × ``image_size`` RGB (64 on CPU; larger on a GPU).
        latent_grid: side of the autoencoder's latent grid; ``image_size / latent_grid`` must be a power of 2
            (one stride-2 convolution per halving).
        latent_channels: channels of the latent grid: a frame latent has ``latent_channels * latent_grid**2``
            numbers (8 × 8 × 8 = 512 at the defaults).
        autoencoder_channels: channels of the autoencoder's first convolution, doubling at every halving (16
            keeps an update of 32 frames at 64² under 0.1 s on one CPU core).
        width: token width of the transformer (frame and action tokens alike).
        layers, heads: transformer depth and attention heads (``width`` must divide by ``heads``, the head
            width must be even for rotary positions).
        mlp_ratio: hidden width of each block's MLP, as a multiple of ``width``.
        action_dim: size of one action (the hand's task action has 5).
        lookahead: K, the actions predicted at every frame token (L-MTP); 1 predicts the next action only.
        context_frames: frames (each followed by its action) the transformer attends over.
        fps: frames per second the model runs at. Data recorded faster is taken every n-th frame (its moves
            summed over the skipped steps), so the recorded rate must be a multiple of this.
    """

    image_size: int = 64
    latent_grid: int = 8
    latent_channels: int = 8
    autoencoder_channels: int = 16
    width: int = 256
    layers: int = 4
    heads: int = 4
    mlp_ratio: int = 4
    action_dim: int = 5
    lookahead: int = 8
    context_frames: int = 16
    fps: float = 10.0

    def __post_init__(self) -> None:
        ints = ("image_size", "latent_grid", "latent_channels", "autoencoder_channels", "width", "layers")
        ints += ("heads", "mlp_ratio")
        for name in (*ints, "action_dim", "lookahead", "context_frames"):
            value = getattr(self, name)
            if not _is_int(value) or value < 1:
                raise ValueError(f"WorldModelConfig.{name} must be an int >= 1, got {value!r}")
        ratio = self.image_size / self.latent_grid
        if ratio < 1 or ratio != int(ratio) or int(ratio) & (int(ratio) - 1):
            raise ValueError(
                f"WorldModelConfig: image_size / latent_grid must be a power of 2, got "
                f"{self.image_size} / {self.latent_grid}"
            )
        if self.width % self.heads or (self.width // self.heads) % 2:
            raise ValueError(
                f"WorldModelConfig: width {self.width} must split into {self.heads} heads of even width"
            )
        if self.context_frames < 2:
            raise ValueError(f"WorldModelConfig.context_frames must be >= 2, got {self.context_frames}")
        if not (isinstance(self.fps, int | float) and math.isfinite(self.fps) and self.fps > 0):
            raise ValueError(f"WorldModelConfig.fps must be a positive number, got {self.fps!r}")

    @property
    def latent_dim(self) -> int:
        return self.latent_channels * self.latent_grid**2

    @property
    def context_tokens(self) -> int:
        return 2 * self.context_frames

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> WorldModelConfig:
        return cls(**values)


@dataclass(frozen=True)
class TrainConfig:
    """Args:
    autoencoder_updates, video_updates, action_updates: updates of each phase (0 skips a phase; the
        autoencoder phase cannot be skipped).
    batch_size: windows per transformer update.
    autoencoder_batch: frames per autoencoder update.
    learning_rate: AdamW step of the transformer phases (linear warm-up, then cosine decay to 10 %).
    autoencoder_learning_rate: AdamW step of the autoencoder phase.
    weight_decay: AdamW weight decay.
    frame_loss_weight: weight of the next-frame loss next to the action loss during fine-tuning.
    foreground_weight: the autoencoder's pixel weights are ``1 + foreground_weight * |frame - median frame|``
        (0: plain MSE).
    grad_clip: global gradient-norm clip.
    validation_fraction: episodes held out for the learning curves (at least one).
    max_episodes: training episodes used (None: all but the validation ones).
    eval_every: validation losses every this many updates.
    checkpoint_every: a checkpoint every this many updates (and at the end of every phase).
    seed: model initialisation and batch sampling.
    device: "cpu" or "cuda" (any torch device).
    threads: torch CPU threads while training (None: torch's default, one per core). One by default: the
        model's operations are small, and on a 2-core machine shared with other work two threads spend their
        time waiting for each other (measured here under load: 40 + 40 updates at the default size took
        172 s with two threads, 16 s with one).
    """

    autoencoder_updates: int = 1500
    video_updates: int = 500
    action_updates: int = 1500
    batch_size: int = 16
    autoencoder_batch: int = 32
    learning_rate: float = 5e-4
    autoencoder_learning_rate: float = 2e-3
    weight_decay: float = 0.01
    frame_loss_weight: float = 1.0
    foreground_weight: float = 10.0
    grad_clip: float = 1.0
    validation_fraction: float = 0.1
    max_episodes: int | None = None
    eval_every: int = 50
    checkpoint_every: int = 100
    seed: int = 0
    device: str = "cpu"
    threads: int | None = 1

    def __post_init__(self) -> None:
        checks = [
            ("autoencoder_updates", _is_int(self.autoencoder_updates) and self.autoencoder_updates >= 1),
            ("video_updates", _is_int(self.video_updates) and self.video_updates >= 0),
            ("action_updates", _is_int(self.action_updates) and self.action_updates >= 0),
            ("batch_size", _is_int(self.batch_size) and self.batch_size >= 1),
            ("autoencoder_batch", _is_int(self.autoencoder_batch) and self.autoencoder_batch >= 1),
            ("learning_rate", isinstance(self.learning_rate, int | float) and self.learning_rate > 0),
            (
                "autoencoder_learning_rate",
                isinstance(self.autoencoder_learning_rate, int | float)
                and self.autoencoder_learning_rate > 0,
            ),
            ("weight_decay", isinstance(self.weight_decay, int | float) and self.weight_decay >= 0),
            (
                "frame_loss_weight",
                isinstance(self.frame_loss_weight, int | float) and self.frame_loss_weight >= 0,
            ),
            (
                "foreground_weight",
                isinstance(self.foreground_weight, int | float) and self.foreground_weight >= 0,
            ),
            ("grad_clip", isinstance(self.grad_clip, int | float) and self.grad_clip > 0),
            (
                "validation_fraction",
                isinstance(self.validation_fraction, float) and 0 < self.validation_fraction < 1,
            ),
            (
                "max_episodes",
                self.max_episodes is None or (_is_int(self.max_episodes) and self.max_episodes >= 1),
            ),
            ("eval_every", _is_int(self.eval_every) and self.eval_every >= 1),
            ("checkpoint_every", _is_int(self.checkpoint_every) and self.checkpoint_every >= 1),
            ("seed", _is_int(self.seed) and self.seed >= 0),
            ("device", isinstance(self.device, str) and bool(self.device)),
            ("threads", self.threads is None or (_is_int(self.threads) and self.threads >= 1)),
        ]
        for name, ok in checks:
            if not ok:
                raise ValueError(f"TrainConfig.{name}: invalid value {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed."""
        return {k: v for k, v in self.to_dict().items() if k not in RESUMABLE_FIELDS}

    def updates(self, phase: str) -> int:
        return {
            "autoencoder": self.autoencoder_updates,
            "video": self.video_updates,
            "actions": self.action_updates,
        }[phase]
