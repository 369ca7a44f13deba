"""The ``learned`` video backend: the world model's frame head, rolled out from a scene's first frame.

This closes the loop: a model trained on earlier verified data (the platform's own rollouts and the
generated clips that passed the physics checks) generates the next videos. From the scene's image (centre
cropped to a square, averaged down to the model's size) the model predicts, step after step, the next
actions (its own action head, or the ``actions`` given: a plan's) and, from each action, the next frame's
latent, which the autoencoder decodes; the predicted latent is fed back as the next frame (nothing is
rendered). Frames are scaled back up to the scene's size, so the video stage's checks read them like any
other backend's. ``seed`` perturbs the model's own actions (``action_noise``, in standard deviations of the
training actions), so samples of one scene differ.

The video's ``plan`` records the checkpoint's blob URI and SHA-256: the ``videos`` row says which model version
made it.

The backend lives here, after ``video`` in the layer order, and is registered by the composition root
(``assets/video.py`` calls ``physworld_core.video.backends.register``): the video stage never imports what is
built on its output.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.nn import functional as F

from physworld_core.errors import VideoModelError
from physworld_core.scene import ScenePackage
from physworld_core.video.base import GeneratedVideo, VideoBackend
from physworld_core.worldmodel.checkpoint import load_checkpoint
from physworld_core.worldmodel.model import Rollout, WorldActionModel, frames_to_tensor, tensor_to_frames
from physworld_core.worldmodel.policy import snap_to_levels, torch_threads


@dataclass(frozen=True)
class LearnedVideoConfig:
    """Args:
    checkpoint: local path of a world-model safetensors file (the ``world_model`` asset's blob,
        ``store.blobs.local_path(uri)``).
    checkpoint_uri: the blob URI that file came from, recorded in the video's plan (lineage); "" for a file
        that is not in the lake.
    num_frames: frames in the video, the input frame included.
    actions: the actions to follow, one per step at the model's rate (a plan's); empty: the model's own.
    action_noise: noise added to the model's own actions, in standard deviations of the training actions.
    seed: seeds that noise (the video stage sets it per sample).
    threads: torch CPU threads while generating.
    """

    checkpoint: str = ""
    checkpoint_uri: str = ""
    num_frames: int = 32
    actions: tuple[tuple[float, ...], ...] = ()
    action_noise: float = 0.1
    seed: int = 0
    threads: int | None = 1

    def __post_init__(self) -> None:
        if not isinstance(self.num_frames, int) or self.num_frames < 2:
            raise ValueError(f"LearnedVideoConfig.num_frames must be an int >= 2, got {self.num_frames!r}")
        if not (math.isfinite(self.action_noise) and self.action_noise >= 0):
            raise ValueError(f"LearnedVideoConfig.action_noise must be >= 0, got {self.action_noise!r}")
        if isinstance(self.actions, list):  # configs arriving from JSON carry lists
            object.__setattr__(self, "actions", tuple(tuple(a) for a in self.actions))
        if self.actions and len(self.actions) < self.num_frames - 1:
            raise ValueError(
                f"LearnedVideoConfig: {len(self.actions)} actions for {self.num_frames} frames (one per step "
                f"needed: {self.num_frames - 1})"
            )


class LearnedVideoBackend(VideoBackend):
    """Image-to-video with the platform's own world-action model (see the module doc)."""

    name = "learned"
    config_class = LearnedVideoConfig

    def __init__(self, config: LearnedVideoConfig | None = None) -> None:
        super().__init__(config)
        path = Path(self.config.checkpoint) if self.config.checkpoint else None
        if path is None or not path.is_file():
            raise VideoModelError(
                f"the learned video backend needs a trained world model: checkpoint={self.config.checkpoint!r} "
                "is not a file (materialize the world_model asset and pass its checkpoint)"
            )
        self.model, self.meta, _ = load_checkpoint(path)
        self.model.eval()
        self.sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
        dim = self.model.cfg.action_dim
        bad = [i for i, a in enumerate(self.config.actions) if len(a) != dim]
        if bad:
            raise VideoModelError(
                f"action {bad[0]} has {len(self.config.actions[bad[0]])} values, the model takes {dim}"
            )

    def generate(self, scene: ScenePackage) -> GeneratedVideo:
        rgb = np.asarray(scene.rgb)
        if rgb.shape[0] != rgb.shape[1]:
            raise VideoModelError(
                f"the learned backend generates square videos; scene {scene.task_id} is {rgb.shape[1]}x"
                f"{rgb.shape[0]} (capture a square image)"
            )
        with torch_threads(self.config.threads), torch.no_grad():
            frames, actions = rollout_video(
                self.model,
                rgb,
                self.config.num_frames,
                self.config.actions or None,
                self.config.action_noise,
                self.config.seed,
                action_levels=self.meta.get("action_levels"),
            )
        size = rgb.shape[0]
        upscaled = F.interpolate(
            frames_to_tensor(frames[1:]), size=(size, size), mode="bilinear", align_corners=False
        )
        video = np.concatenate([rgb[None], tensor_to_frames(upscaled)])
        plan = {
            "backend": self.name,
            "checkpoint_uri": self.config.checkpoint_uri or None,
            "checkpoint_sha256": self.sha256,
            "model_fps": self.model.cfg.fps,
            "actions_from": "given" if self.config.actions else "model",
            "actions": np.round(actions, 4).tolist(),
        }
        return GeneratedVideo(video, self.model.cfg.fps, plan)


def model_frame(model: WorldActionModel, rgb: np.ndarray) -> torch.Tensor:
    """A square H×W×3 uint8 image → (3, S, S) in [0, 1] at the model's size (area-averaged)."""
    size = model.cfg.image_size
    image = frames_to_tensor(rgb[None])
    return F.interpolate(image, size=(size, size), mode="area")[0]


@torch.no_grad()
def rollout_video(
    model: WorldActionModel,
    first_frame: np.ndarray,
    num_frames: int,
    actions: np.ndarray | None = None,
    action_noise: float = 0.0,
    seed: int = 0,
    use_cache: bool = True,
    action_levels=None,
) -> tuple[np.ndarray, np.ndarray]:
    """Roll the model out from ``first_frame`` (square, any size): ``num_frames`` frames at the model's size
    (the first is the input, encoded and decoded) and the ``num_frames - 1`` actions taken, in data units.

    ``actions`` (≥ num_frames - 1 rows): follow them; None: the model's own first predicted action each step,
    plus ``action_noise`` standard deviations of Gaussian noise (seeded), snapped to ``action_levels`` (the
    few values a command like the gripper's takes in the data)."""
    generator = torch.Generator().manual_seed(seed)
    rollout = Rollout(model, use_cache=use_cache)
    latent = model.encode_frames(model_frame(model, first_frame)[None])[0]
    latents, taken = [latent], []
    for step in range(num_frames - 1):
        chunk = rollout.observe(latent)
        if actions is not None:
            action = torch.as_tensor(np.asarray(actions[step], dtype=np.float32))
        else:
            noise = torch.randn(model.cfg.action_dim, generator=generator) * action_noise * model.action_std
            action = torch.as_tensor(snap_to_levels((chunk[0] + noise).numpy(), action_levels))
        latent = rollout.act(action)
        latents.append(latent)
        taken.append(action.numpy())
    frames = tensor_to_frames(model.decode_latents(torch.stack(latents)))
    return frames, np.stack(taken).astype(np.float32)
