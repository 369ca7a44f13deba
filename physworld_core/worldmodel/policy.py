"""The world-action model as an evaluation method (``world_model``): it acts on the rendered camera picture.

The evaluation runs every method the same way: a plan (here only for the episode's length and the failure
classes; the model never reads it) and ``act(obs, base_action) -> action`` once per control step. A
:class:`WorldModelPolicy` says it ``observes_camera``: the trial's world is then built with the scene camera
at the model's ``frame_size`` and ``policy.actor(world_env)`` gives the ``act``, which renders that world.

The model runs at its own frame rate (10 Hz by default, half the 20 Hz control rate). Every ``stride``-th
control step the actor renders a frame (~70 ms on CPU at 64² — rendering, not the model, is the cost) and
feeds it to the model through the KV cache, which predicts the next K actions. The action taken is the
temporal ensemble of every chunk that predicted this step (ACT's, weights ``exp(-decay * i)``, i = 0 for the
oldest prediction), or the newest chunk's first action; a dimension the demonstrations only ever set to a
few values (a gripper's open/close) is snapped to the nearest of them, since the regression head predicts
their mean. The moves are spread evenly over the ``stride`` control steps until the next frame (a recorded
action below the control rate is the sum of the moves it spans, see
:func:`~physworld_core.worldmodel.data.fit_episode`) and the other commands are held.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.methods import ExternalMethod
from physworld_core.evaluation.rollouts import DELTA_PREFIX
from physworld_core.sim.rates import CONTROL_HZ
from physworld_core.worldmodel.checkpoint import fetch_checkpoint, load_checkpoint
from physworld_core.worldmodel.data import fit_frames
from physworld_core.worldmodel.model import Rollout, WorldActionModel, frames_to_tensor


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run the block with ``threads`` torch CPU threads (None: leave them), then restore the count. A
    one-token forward pass is too small to share between cores; on a shared machine two threads contend."""
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


@dataclass(frozen=True)
class WorldModelPolicyConfig:
    """Args:
    use_cache: step through the KV cache (False recomputes the whole context every step: the ablation).
    threads: torch CPU threads while acting.
    ensemble_decay: temporal ensembling of the action chunks (ACT's ``m``); None takes the newest chunk's
        first action.
    """

    use_cache: bool = True
    threads: int | None = 1
    ensemble_decay: float | None = 0.1

    def __post_init__(self) -> None:
        if self.threads is not None and (not isinstance(self.threads, int) or self.threads < 1):
            raise ValueError(f"WorldModelPolicyConfig.threads must be None or >= 1, got {self.threads!r}")
        if self.ensemble_decay is not None and not self.ensemble_decay >= 0:
            raise ValueError(
                f"WorldModelPolicyConfig.ensemble_decay must be >= 0, got {self.ensemble_decay!r}"
            )


def snap_to_levels(action: np.ndarray, levels) -> np.ndarray:
    """``action`` with every dimension that has levels (a list of the values it takes) set to the nearest."""
    out = np.array(action, dtype=np.float32)
    for dim, values in enumerate(levels or ()):
        if values:
            out[dim] = min(values, key=lambda v: abs(v - out[dim]))
    return out


class WorldModelPolicy:
    """A trained world-action model ready to act in a simulated world.

    Args:
        model: the trained model (it is put in eval mode).
        action_names: names of the action's dimensions (which ones are moves); needed when the model runs
            below the control rate.
        control_hz: the world's control rate.
        checkpoint_sha256: the checkpoint blob's hash, for the rollouts' lineage.
        action_levels: per dimension, the few values it takes in the data (None: continuous).
    """

    observes_camera = True

    def __init__(
        self,
        model: WorldActionModel,
        action_names: tuple[str, ...] | None,
        control_hz: float,
        checkpoint_sha256: str | None = None,
        config: WorldModelPolicyConfig = WorldModelPolicyConfig(),
        action_levels=None,
    ) -> None:
        self.model, self.config = model.eval(), config
        self.checkpoint_sha256, self.action_levels = checkpoint_sha256, action_levels
        ratio = control_hz / model.cfg.fps
        self.stride = round(ratio)
        if self.stride < 1 or abs(ratio - self.stride) > 1e-6:
            raise PhysworldError(
                f"the world model runs at {model.cfg.fps:g} fps, which does not divide the control rate "
                f"{control_hz:g} Hz; train it at a divisor of the control rate"
            )
        self.moves = np.ones(model.cfg.action_dim, dtype=bool)
        if self.stride > 1:
            if action_names is None or len(action_names) != model.cfg.action_dim:
                raise PhysworldError(
                    "the world model runs below the control rate but its checkpoint names no action "
                    "dimensions, so moves cannot be told from commands"
                )
            self.moves = np.array([n.startswith(DELTA_PREFIX) for n in action_names])

    @classmethod
    def from_checkpoint(
        cls,
        path: str | Path,
        control_hz: float,
        checkpoint_sha256: str | None = None,
        config: WorldModelPolicyConfig = WorldModelPolicyConfig(),
    ) -> WorldModelPolicy:
        """Load a world-model checkpoint (a local path: ``store.blobs.local_path(uri)`` for a blob)."""
        model, meta, _ = load_checkpoint(path)
        names = meta.get("action_names")
        return cls(
            model,
            tuple(names) if names else None,
            control_hz,
            checkpoint_sha256,
            config,
            meta.get("action_levels"),
        )

    @property
    def frame_size(self) -> tuple[int, int]:
        """(width, height) the world should render at."""
        return self.model.cfg.image_size, self.model.cfg.image_size

    def actor(self, world_env) -> WorldModelActor:
        """``act(obs, base_action)`` for one world; ``world_env.render()`` must give its camera picture."""
        return WorldModelActor(self, world_env)


METHOD = "world_model"
"""The evaluation method's name in the ``evaluations`` rows."""
NO_CHECKPOINT = (
    "no world_model checkpoint yet: run the `world_model` job (after `export`), or give the evaluation a "
    "world_model_checkpoint"
)


def world_model_method(
    store, checkpoint_uri: str | None, config: WorldModelPolicyConfig = WorldModelPolicyConfig()
) -> ExternalMethod:
    """The ``world_model`` evaluation method from the checkpoint blob at ``checkpoint_uri`` (a ``world_model``
    materialization's), acting at the simulator's control rate; skipped, with the reason, when there is no
    checkpoint yet.

    Raises:
        PhysworldError: ``checkpoint_uri`` names no readable world-model checkpoint.
    """
    if checkpoint_uri is None:
        return ExternalMethod(METHOD, skipped=NO_CHECKPOINT)
    path, sha256 = fetch_checkpoint(store, checkpoint_uri)
    policy = WorldModelPolicy.from_checkpoint(path, CONTROL_HZ, sha256, config)
    return ExternalMethod(
        METHOD, policy, lineage={"checkpoint_uri": checkpoint_uri, "checkpoint_sha256": sha256}
    )


class WorldModelActor:
    """Acts in one world, episode after episode; :meth:`reset` before each (it clears the context)."""

    def __init__(self, policy: WorldModelPolicy, world_env) -> None:
        self.policy, self.world_env = policy, world_env
        self.rollout = Rollout(policy.model, use_cache=policy.config.use_cache)
        self.reset()

    def reset(self) -> None:
        self.rollout.reset()
        self.step, self.action, self.chunks = 0, None, []

    def frame(self) -> np.ndarray:
        """The world's camera picture at the model's size (H×W×3 uint8)."""
        picture = self.world_env.render()
        picture = picture[0] if getattr(picture, "ndim", 3) == 4 else picture
        picture = picture.cpu().numpy() if hasattr(picture, "cpu") else np.asarray(picture)
        return fit_frames(picture.astype(np.uint8)[None], self.policy.model.cfg.image_size, "camera")[0]

    def __call__(self, obs: np.ndarray, base_action: np.ndarray | None = None) -> np.ndarray:
        policy = self.policy
        if self.step % policy.stride == 0:
            model = policy.model
            with torch_threads(policy.config.threads), torch.no_grad():
                if self.action is not None:  # the action taken since the last frame joins the context
                    self.rollout.act(torch.as_tensor(self.action), predict=False)
                latent = model.encode_frames(frames_to_tensor(self.frame()[None]))[0]
                chunk = self.rollout.observe(latent).numpy()
                self.action = snap_to_levels(self.choose(chunk), policy.action_levels)
        self.step += 1
        spread = np.where(policy.moves, self.action / policy.stride, self.action)
        return np.clip(spread, -1.0, 1.0).astype(np.float32)

    def choose(self, chunk: np.ndarray) -> np.ndarray:
        """This step's action from the newest chunk (K, A) and the earlier ones still reaching this step."""
        decay = self.policy.config.ensemble_decay
        if decay is None:
            return chunk[0]
        self.chunks = [*self.chunks, chunk][-len(chunk) :]
        # The chunk predicted i steps ago holds this step at index i; weights favour the oldest, as ACT's.
        predictions = [c[age] for age, c in enumerate(reversed(self.chunks))]
        weights = np.exp(-decay * np.arange(len(predictions)))[::-1]
        return (weights[:, None] * np.stack(predictions)).sum(0) / weights.sum()
