"""Continuous-action PPO, CleanRL style, for scratch and residual policies.

``train_ppo`` reads top to bottom like CleanRL's ``ppo_continuous_action.py``: collect a rollout, compute GAE,
run clipped-objective minibatch updates, repeat. Differences, each for a reason:

* **Residual mode.** The env reports, in ``infos["base_action"]`` after every reset and step, the action a
  scripted baseline controller would take. The policy outputs a residual ``r`` and the env receives
  ``clip(base_action + residual_scale * r, -1, 1)``. The actor's last layer starts near zero, so a fresh
  residual policy reproduces the baseline. ``compose_action`` is the single place this composition happens,
  for training and for evaluation (``policy_action``).
* **Critic warm-up** (``critic_warmup_updates``, as in Silver et al.'s residual policy learning): the first
  updates fit only the value function, so the actor's first steps follow advantages a trained critic gave.
* **Gymnasium 1.x autoreset.** With ``AutoresetMode.NEXT_STEP`` (the default), the step after an episode ends
  ignores the action and returns the reset observation; that transition is masked out of the loss and of GAE.
  ``AutoresetMode.SAME_STEP`` is handled through ``infos["final_obs"]`` / ``infos["final_info"]``.
  Truncated episodes bootstrap from the value of their final observation; terminated ones do not.
* **Observation normalisation** lives inside the policy (``ObsNormalizer`` buffers), so it is saved in the
  checkpoint and applied identically at evaluation.
* **Checkpoints and resume** (safetensors only, see ``checkpoint.py``): called again with the same
  ``checkpoint_dir`` and config, a run killed mid-way continues from its last checkpoint, losing at most
  ``checkpoint_every`` updates. The directory must outlive the process: the policy stage keeps it in the
  lake's work area (``physworld_core.lake.work``), keyed by task, method and config.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn
from torch.distributions.normal import Normal
from tqdm.auto import tqdm

from physworld_core.errors import PhysworldError
from physworld_core.policy.checkpoint import load_checkpoint, save_checkpoint

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "ppo.safetensors"
# Fields that may change between a killed run and its resumption without changing what is being learned.
RESUMABLE_FIELDS = ("total_env_steps", "checkpoint_every")
LOSS_KEYS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac")
ADAM_EPS = 1e-5
"""Adam's epsilon (CleanRL's value, above torch's 1e-8): bounds the first steps, taken while the
second-moment estimates are still near zero."""
ADVANTAGE_EPS = 1e-8
"""Added to a minibatch's advantage spread before dividing by it: equal advantages must not divide by 0."""
FINAL_WINDOW_PARTS = 10
"""``final_success_rate`` reads the last 1/FINAL_WINDOW_PARTS of the updates (at least one): the policy as
it ended, not the average over its training."""


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


@dataclass(frozen=True)
class PPOConfig:
    """Args:
    total_env_steps: environment steps (summed over the vector env's sub-envs) to train for; rounded up to
        whole updates of ``num_envs * num_steps``.
    num_steps: rollout length per sub-env between two updates.
    learning_rate: Adam step size (linearly annealed to zero over training when ``anneal_lr``).
    gamma: discount factor.
    gae_lambda: GAE bias/variance trade-off; 1.0 gives Monte-Carlo returns.
    num_minibatches: minibatches each rollout is split into per epoch.
    update_epochs: passes over each rollout.
    clip_coef: PPO ratio clipping range.
    ent_coef: entropy bonus weight.
    vf_coef: value loss weight.
    max_grad_norm: global gradient-norm clip.
    hidden_sizes: widths of the hidden tanh layers of both the actor and the critic MLPs.
    init_log_std: initial log standard deviation of the Gaussian policy (state independent, learned).
    residual_scale: in residual mode, the env action is ``clip(base_action + residual_scale * r, -1, 1)``;
        bounds how far the policy can move away from the baseline. Unused for scratch policies.
    seed: seeds torch (network init, action sampling), minibatch shuffling and the first env reset.
    checkpoint_every: save a checkpoint every this many updates (and after the last one) when training is
        given a checkpoint directory.
    anneal_lr: linearly decay the learning rate to zero over ``total_env_steps``.
    critic_warmup_updates: updates at the start that fit only the critic. A fresh critic's advantages are
        noise, and in residual mode every early policy step taken on them moves the actor away from a
        baseline that already works. Never more than a quarter of the updates, so a short budget still
        trains the actor.
    """

    total_env_steps: int = 200_000
    num_steps: int = 128
    learning_rate: float = 3e-4
    gamma: float = 0.99
    gae_lambda: float = 0.95
    num_minibatches: int = 4
    update_epochs: int = 10
    clip_coef: float = 0.2
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden_sizes: tuple[int, ...] = (256, 256)
    init_log_std: float = -1.0
    residual_scale: float = 0.5
    seed: int = 0
    checkpoint_every: int = 10
    anneal_lr: bool = True
    critic_warmup_updates: int = 0

    def __post_init__(self) -> None:
        if isinstance(self.hidden_sizes, list):  # configs arriving from JSON / Dagster carry lists
            object.__setattr__(self, "hidden_sizes", tuple(self.hidden_sizes))
        requirements = [
            ("total_env_steps", _is_int(self.total_env_steps) and self.total_env_steps >= 1, "an int >= 1"),
            ("num_steps", _is_int(self.num_steps) and self.num_steps >= 1, "an int >= 1"),
            ("learning_rate", _is_number(self.learning_rate) and self.learning_rate > 0, "a number > 0"),
            ("gamma", _is_number(self.gamma) and 0 <= self.gamma <= 1, "a number in [0, 1]"),
            ("gae_lambda", _is_number(self.gae_lambda) and 0 <= self.gae_lambda <= 1, "a number in [0, 1]"),
            ("num_minibatches", _is_int(self.num_minibatches) and self.num_minibatches >= 1, "an int >= 1"),
            ("update_epochs", _is_int(self.update_epochs) and self.update_epochs >= 1, "an int >= 1"),
            ("clip_coef", _is_number(self.clip_coef) and self.clip_coef > 0, "a number > 0"),
            ("ent_coef", _is_number(self.ent_coef) and self.ent_coef >= 0, "a number >= 0"),
            ("vf_coef", _is_number(self.vf_coef) and self.vf_coef > 0, "a number > 0"),
            ("max_grad_norm", _is_number(self.max_grad_norm) and self.max_grad_norm > 0, "a number > 0"),
            (
                "hidden_sizes",
                isinstance(self.hidden_sizes, tuple)
                and len(self.hidden_sizes) >= 1
                and all(_is_int(width) and width >= 1 for width in self.hidden_sizes),
                "a non-empty tuple of ints >= 1",
            ),
            ("init_log_std", _is_number(self.init_log_std) and -10 <= self.init_log_std <= 2, "in [-10, 2]"),
            ("residual_scale", _is_number(self.residual_scale) and self.residual_scale > 0, "a number > 0"),
            ("seed", _is_int(self.seed) and self.seed >= 0, "an int >= 0"),
            (
                "checkpoint_every",
                _is_int(self.checkpoint_every) and self.checkpoint_every >= 1,
                "an int >= 1",
            ),
            ("anneal_lr", isinstance(self.anneal_lr, bool), "a bool"),
            (
                "critic_warmup_updates",
                _is_int(self.critic_warmup_updates) and self.critic_warmup_updates >= 0,
                "an int >= 0",
            ),
        ]
        for name, ok, requirement in requirements:
            if not ok:
                raise ValueError(f"PPOConfig.{name} must be {requirement}, got {getattr(self, name)!r}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready copy (tuples become lists)."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> PPOConfig:
        return cls(**values)


@dataclass
class TrainResult:
    """What ``train_ppo`` hands back.

    Args:
        policy: the trained actor-critic (with its observation normaliser).
        curve: one dict per update: ``update``, ``env_steps``, ``mean_return`` and ``success_rate`` over the
            episodes that finished during that update (``None`` when none did), ``episodes``, ``wall_s``
            (cumulative, including time spent before a resume) and the update's mean ``policy_loss``,
            ``value_loss``, ``entropy``, ``approx_kl``, ``clipfrac``, ``learning_rate``.
        env_steps: environment steps trained on, including those before a resume.
        wall_seconds: training wall time, including time spent before a resume.
        final_success_rate: success over the episodes that finished in the last 10% of updates (at least
            one update); ``None`` when no episode finished there.
        checkpoint_path: the final checkpoint, or ``None`` without a checkpoint directory.
        resumed_from_update: the update the run resumed after (its checkpoint's), 0 when it started fresh.
    """

    policy: ActorCritic
    curve: list[dict[str, Any]]
    env_steps: int
    wall_seconds: float
    final_success_rate: float | None
    checkpoint_path: Path | None
    resumed_from_update: int = 0


# --------------------------------------------------------------------------------------------------- model


class ObsNormalizer(nn.Module):
    """Running mean/std of observations (parallel Welford update, as gymnasium's ``RunningMeanStd``).

    Statistics are buffers, so they travel with the policy's ``state_dict`` into the checkpoint.
    """

    def __init__(self, obs_dim: int, clip: float = 10.0, epsilon: float = 1e-8) -> None:
        super().__init__()
        self.clip = clip
        self.epsilon = epsilon
        self.register_buffer("mean", torch.zeros(obs_dim, dtype=torch.float64))
        self.register_buffer("var", torch.ones(obs_dim, dtype=torch.float64))
        self.register_buffer("count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update(self, obs_batch: np.ndarray) -> None:
        batch = torch.as_tensor(obs_batch, dtype=torch.float64).reshape(-1, self.mean.shape[0])
        batch_mean, batch_var, batch_count = batch.mean(0), batch.var(0, correction=0), batch.shape[0]
        delta = batch_mean - self.mean
        total = self.count + batch_count
        self.mean += delta * batch_count / total
        self.var.copy_(
            (self.var * self.count + batch_var * batch_count + delta**2 * self.count * batch_count / total)
            / total
        )
        self.count.copy_(total)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        normalized = (obs.double() - self.mean) / torch.sqrt(self.var + self.epsilon)
        return normalized.clamp(-self.clip, self.clip).float()


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


def _mlp(in_dim: int, hidden_sizes: tuple[int, ...], out_dim: int, out_std: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for width in hidden_sizes:
        layers += [layer_init(nn.Linear(in_dim, width)), nn.Tanh()]
        in_dim = width
    layers.append(layer_init(nn.Linear(in_dim, out_dim), std=out_std))
    return nn.Sequential(*layers)


class ActorCritic(nn.Module):
    """Separate tanh MLPs for the Gaussian actor mean and the critic; state-independent log std.

    ``get_value`` / ``get_action_and_value`` take *normalised* observations (what the rollout stores);
    ``act`` takes raw observations. The actor's output layer is initialised with std 0.01, so a fresh policy
    outputs ~0: in residual mode that reproduces the baseline controller.
    """

    def __init__(
        self, obs_dim: int, act_dim: int, hidden_sizes: tuple[int, ...], init_log_std: float
    ) -> None:
        super().__init__()
        self.obs_dim, self.act_dim = obs_dim, act_dim
        self.obs_normalizer = ObsNormalizer(obs_dim)
        self.critic = _mlp(obs_dim, hidden_sizes, 1, out_std=1.0)
        self.actor_mean = _mlp(obs_dim, hidden_sizes, act_dim, out_std=0.01)
        self.actor_logstd = nn.Parameter(torch.full((act_dim,), float(init_log_std)))

    def get_value(self, obs_normalized: torch.Tensor) -> torch.Tensor:
        return self.critic(obs_normalized).squeeze(-1)

    def get_action_and_value(
        self, obs_normalized: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        action_mean = self.actor_mean(obs_normalized)
        probs = Normal(action_mean, self.actor_logstd.expand_as(action_mean).exp())
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action).sum(-1), probs.entropy().sum(-1), self.get_value(obs_normalized)

    def act(self, obs: torch.Tensor, deterministic: bool = True) -> torch.Tensor:
        """Policy output for raw observations: the residual in residual mode, else the (unclipped) action."""
        obs_normalized = self.obs_normalizer(obs)
        if deterministic:
            return self.actor_mean(obs_normalized)
        return self.get_action_and_value(obs_normalized)[0]


def compose_action(
    policy_output: np.ndarray, base_action: np.ndarray | None, residual: bool, residual_scale: float
) -> np.ndarray:
    """The env action: ``clip(base_action + residual_scale * r, -1, 1)``, or ``clip(r, -1, 1)`` (scratch)."""
    if not residual:
        return np.clip(policy_output, -1.0, 1.0).astype(np.float32)
    if base_action is None:
        raise PhysworldError("a residual policy needs the baseline controller's base_action, got None")
    return np.clip(np.asarray(base_action) + residual_scale * policy_output, -1.0, 1.0).astype(np.float32)


def policy_action(
    policy: ActorCritic,
    obs: np.ndarray,
    base_action: np.ndarray | None,
    residual: bool,
    residual_scale: float,
    deterministic: bool = True,
) -> np.ndarray:
    """Evaluation-time action for one observation ``(obs_dim,)`` or a batch ``(n, obs_dim)``.

    Same composition as training; take ``residual`` and ``residual_scale`` from the checkpoint metadata
    (``load_policy(path)[1]``) so evaluation uses the values the policy was trained with.
    """
    with torch.no_grad():
        policy_output = policy.act(torch.as_tensor(np.asarray(obs, dtype=np.float32)), deterministic).numpy()
    return compose_action(policy_output, base_action, residual, residual_scale)


# --------------------------------------------------------------------------------------------------- GAE


def compute_gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    next_values: torch.Tensor,
    terminated: torch.Tensor,
    episode_ended: torch.Tensor,
    valid: torch.Tensor,
    gamma: float,
    gae_lambda: float,
) -> torch.Tensor:
    """Generalised advantage estimates, shape ``(num_steps, num_envs)``.

    ``next_values[t]`` is the value of the observation reached by step ``t`` (the final observation when the
    episode ended there), so truncated episodes bootstrap and terminated ones (``terminated``) do not.
    ``episode_ended`` stops the recursion at episode boundaries; ``valid == 0`` marks NEXT_STEP autoreset
    transitions, which get advantage 0 and are excluded from the loss.
    """
    advantages = torch.zeros_like(rewards)
    last_gae = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_values[t] * (1.0 - terminated[t]) - values[t]
        last_gae = delta + gamma * gae_lambda * (1.0 - episode_ended[t]) * last_gae
        last_gae = last_gae * valid[t]
        advantages[t] = last_gae
    return advantages


# --------------------------------------------------------------------------------------------------- training


def _check_spaces(envs: gym.vector.VectorEnv) -> tuple[int, int]:
    obs_space, act_space = envs.single_observation_space, envs.single_action_space
    if not isinstance(obs_space, gym.spaces.Box) or len(obs_space.shape) != 1:
        raise PhysworldError(f"PPO needs a flat Box observation space, got {obs_space}")
    if not isinstance(act_space, gym.spaces.Box) or len(act_space.shape) != 1:
        raise PhysworldError(f"PPO needs a flat Box action space, got {act_space}")
    if not (np.all(act_space.low == -1.0) and np.all(act_space.high == 1.0)):
        raise PhysworldError(
            f"PPO needs actions normalised to [-1, 1], got low={act_space.low} high={act_space.high}"
        )
    return obs_space.shape[0], act_space.shape[0]


def _autoreset_mode(envs: gym.vector.VectorEnv) -> AutoresetMode:
    mode = envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
    mode = mode if isinstance(mode, AutoresetMode) else AutoresetMode(mode)
    if mode == AutoresetMode.DISABLED:
        raise PhysworldError("PPO needs a vector env that autoresets (NEXT_STEP or SAME_STEP), got DISABLED")
    return mode


def _base_action(infos: dict[str, Any], num_envs: int, act_dim: int) -> np.ndarray:
    if "base_action" not in infos:
        raise PhysworldError(
            "residual PPO needs the env to report infos['base_action'] (the baseline controller's action) "
            f"after every reset and step; info keys were {sorted(infos)}"
        )
    base_action = np.asarray(infos["base_action"], dtype=np.float32)
    if base_action.shape != (num_envs, act_dim):
        raise PhysworldError(
            f"infos['base_action'] must have shape {(num_envs, act_dim)}, got {base_action.shape}"
        )
    return base_action


def _episode_success(episode_info: dict[str, Any], env_index: int) -> bool:
    if "success" not in episode_info or not episode_info["_success"][env_index]:
        raise PhysworldError(
            f"sub-env {env_index} ended an episode without reporting info['success']; "
            f"info keys were {sorted(episode_info)}"
        )
    return bool(episode_info["success"][env_index])


def _check_resumable(
    meta: dict[str, Any],
    cfg: PPOConfig,
    residual: bool,
    obs_dim: int,
    act_dim: int,
    num_envs: int,
    path: Path,
) -> None:
    run_keys = ("residual", "obs_dim", "act_dim", "num_envs")
    # Fields a checkpoint predates take their defaults, which is what that run trained with.
    saved = PPOConfig().to_dict() | meta["config"] | {key: meta[key] for key in run_keys}
    wanted = cfg.to_dict() | dict(zip(run_keys, (residual, obs_dim, act_dim, num_envs), strict=True))
    differences = {
        key: (saved.get(key), value)
        for key, value in wanted.items()
        if key not in RESUMABLE_FIELDS and saved.get(key) != value
    }
    if differences:
        described = ", ".join(
            f"{key}: checkpoint {old!r} vs now {new!r}" for key, (old, new) in differences.items()
        )
        raise PhysworldError(
            f"{path} belongs to a different training run ({described}); "
            "use another checkpoint_dir or delete the checkpoint to start over"
        )


def _final_success_rate(curve: list[dict[str, Any]]) -> float | None:
    window = curve[-max(1, len(curve) // FINAL_WINDOW_PARTS) :]
    episodes = sum(entry["episodes"] for entry in window)
    if episodes == 0:
        return None
    return sum(entry["success_rate"] * entry["episodes"] for entry in window if entry["episodes"]) / episodes


@dataclass(frozen=True)
class _RunShape:
    """A run's fixed sizes, read once from the env and the config, so each step below takes one argument
    for them instead of eight."""

    residual: bool
    obs_dim: int
    act_dim: int
    num_envs: int
    autoreset_mode: AutoresetMode
    batch_size: int
    num_updates: int
    warmup_updates: int


def _run_shape(envs: gym.vector.VectorEnv, cfg: PPOConfig, residual: bool) -> _RunShape:
    """Check the env and the config agree before anything is built, so a bad pairing fails at once."""
    obs_dim, act_dim = _check_spaces(envs)
    autoreset_mode = _autoreset_mode(envs)
    num_envs = envs.num_envs
    batch_size = num_envs * cfg.num_steps
    if batch_size < 2 * cfg.num_minibatches:
        raise PhysworldError(
            f"num_envs * num_steps = {batch_size} is too small for {cfg.num_minibatches} minibatches"
        )
    num_updates = math.ceil(cfg.total_env_steps / batch_size)
    return _RunShape(
        residual=residual,
        obs_dim=obs_dim,
        act_dim=act_dim,
        num_envs=num_envs,
        autoreset_mode=autoreset_mode,
        batch_size=batch_size,
        num_updates=num_updates,
        warmup_updates=min(cfg.critic_warmup_updates, num_updates // 4),
    )


@dataclass
class _Learner:
    """What the updates change: the policy, its optimizer and the minibatch shuffler (all in a checkpoint but
    the shuffler, which a resume re-seeds)."""

    policy: ActorCritic
    optimizer: torch.optim.Optimizer
    shuffle_rng: np.random.Generator


def _new_learner(cfg: PPOConfig, shape: _RunShape) -> _Learner:
    """A fresh policy and optimizer. Torch is seeded before the networks are built, so a seed fixes the
    initial weights as well as the actions sampled later."""
    torch.manual_seed(cfg.seed)
    shuffle_rng = np.random.default_rng(cfg.seed)
    policy = ActorCritic(shape.obs_dim, shape.act_dim, cfg.hidden_sizes, cfg.init_log_std)
    optimizer = torch.optim.Adam(policy.parameters(), lr=cfg.learning_rate, eps=ADAM_EPS)
    return _Learner(policy, optimizer, shuffle_rng)


@dataclass
class _Progress:
    """How far training has got: the update it started after (0 fresh, else the checkpoint's), the env
    steps and curve so far, and the wall time spent before this process (a resumed run reports its total)."""

    start_update: int = 0
    env_steps: int = 0
    curve: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    wall_before: float = 0.0


def _resume(learner: _Learner, path: Path, cfg: PPOConfig, shape: _RunShape) -> _Progress:
    """Restore a killed or finished run from its checkpoint (refusing one from a different run).

    Torch and the shuffler are re-seeded from the update index: a resumed run then draws the numbers of its
    own position, not the first updates' again."""
    policy_state, optimizer_state, meta = load_checkpoint(path)
    _check_resumable(meta, cfg, shape.residual, shape.obs_dim, shape.act_dim, shape.num_envs, path)
    learner.policy.load_state_dict(policy_state)
    learner.optimizer.load_state_dict(optimizer_state)
    progress = _Progress(meta["update"], meta["env_steps"], meta["curve"], meta["wall_seconds"])
    learner.shuffle_rng = np.random.default_rng([cfg.seed, progress.start_update])
    torch.manual_seed(cfg.seed + progress.start_update)
    logger.info(
        "%s: resuming from update %d of %d (%d of %d env steps done)",
        path,
        progress.start_update,
        shape.num_updates,
        progress.env_steps,
        shape.num_updates * shape.batch_size,
    )
    return progress


def _save(
    path: Path,
    learner: _Learner,
    cfg: PPOConfig,
    shape: _RunShape,
    progress: _Progress,
    update: int,
    wall: float,
) -> None:
    """Write the checkpoint: weights, optimizer state and everything a resume checks or restores."""
    save_checkpoint(
        path,
        policy_state=learner.policy.state_dict(),
        optimizer_state=learner.optimizer.state_dict(),
        meta={
            "config": cfg.to_dict(),
            "residual": shape.residual,
            "residual_scale": cfg.residual_scale,
            "obs_dim": shape.obs_dim,
            "act_dim": shape.act_dim,
            "num_envs": shape.num_envs,
            "update": update,
            "env_steps": progress.env_steps,
            "wall_seconds": wall,
            "curve": progress.curve,
        },
    )


@dataclass
class _Rollout:
    """One update's transitions, each ``(num_steps, num_envs[, dim])``, reused from update to update.

    ``valid`` is 0 for NEXT_STEP autoreset transitions (the env ignored the action and returned a reset
    observation); ``next_values`` is the value of the observation each step reached (the final one where an
    episode ended), so truncated episodes bootstrap (see :func:`compute_gae`)."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    rewards: torch.Tensor
    values: torch.Tensor
    next_values: torch.Tensor
    terminated: torch.Tensor
    episode_ended: torch.Tensor
    valid: torch.Tensor

    @classmethod
    def zeros(cls, num_steps: int, shape: _RunShape) -> _Rollout:
        steps = (num_steps, shape.num_envs)
        return cls(
            obs=torch.zeros((*steps, shape.obs_dim)),
            actions=torch.zeros((*steps, shape.act_dim)),
            logprobs=torch.zeros(steps),
            rewards=torch.zeros(steps),
            values=torch.zeros(steps),
            next_values=torch.zeros(steps),
            terminated=torch.zeros(steps),
            episode_ended=torch.zeros(steps),
            valid=torch.zeros(steps),
        )


@dataclass
class _EnvCursor:
    """Where the vector env stands between two steps. A rollout ends mid-episode, so the next one goes on
    from the same observation, baseline action, pending NEXT_STEP resets and partial episode returns."""

    next_obs: np.ndarray
    base_action: np.ndarray | None
    reset_pending: np.ndarray  # NEXT_STEP: this env's next step is its reset
    episode_return: np.ndarray


def _reset(envs: gym.vector.VectorEnv, seed: int, shape: _RunShape) -> _EnvCursor:
    """Reset every sub-env; the first baseline action comes with the reset's infos."""
    next_obs, infos = envs.reset(seed=seed)
    base_action = _base_action(infos, shape.num_envs, shape.act_dim) if shape.residual else None
    return _EnvCursor(next_obs, base_action, np.zeros(shape.num_envs, dtype=bool), np.zeros(shape.num_envs))


def _final_observation(
    next_obs: np.ndarray, infos: dict[str, Any], done: np.ndarray, mode: AutoresetMode
) -> tuple[np.ndarray, dict[str, Any]]:
    """The observation a step reached and the infos of the episodes it ended. SAME_STEP autoreset has
    already replaced an ended episode's observation by the reset one; its own is in ``infos["final_obs"]``."""
    if mode == AutoresetMode.SAME_STEP and done.any():
        final_obs = np.array(next_obs, copy=True)
        final_obs[done] = np.stack(infos["final_obs"][done])
        return final_obs, infos["final_info"]
    return next_obs, infos


def _collect(
    envs: gym.vector.VectorEnv,
    policy: ActorCritic,
    cursor: _EnvCursor,
    rollout: _Rollout,
    cfg: PPOConfig,
    shape: _RunShape,
) -> tuple[list[float], list[bool]]:
    """Fill ``rollout`` with ``cfg.num_steps`` steps of the current policy; the returns and successes of the
    episodes that ended. The observation statistics take in each observation before it is normalised, and
    the rollout stores normalised observations: the loss sees what the policy saw."""
    finished_returns, finished_successes = [], []
    for step in range(cfg.num_steps):
        policy.obs_normalizer.update(cursor.next_obs)
        with torch.no_grad():
            rollout.obs[step] = policy.obs_normalizer(torch.as_tensor(cursor.next_obs))
            action, logprob, _, value = policy.get_action_and_value(rollout.obs[step])
        rollout.actions[step], rollout.logprobs[step], rollout.values[step] = action, logprob, value
        rollout.valid[step] = torch.as_tensor(~cursor.reset_pending, dtype=torch.float32)

        env_action = compose_action(action.numpy(), cursor.base_action, shape.residual, cfg.residual_scale)
        cursor.next_obs, reward, term, trunc, infos = envs.step(env_action)
        done = term | trunc
        rollout.rewards[step] = torch.as_tensor(reward, dtype=torch.float32)
        rollout.terminated[step] = torch.as_tensor(term, dtype=torch.float32)
        rollout.episode_ended[step] = torch.as_tensor(done, dtype=torch.float32)
        cursor.base_action = _base_action(infos, shape.num_envs, shape.act_dim) if shape.residual else None

        final_obs, episode_info = _final_observation(cursor.next_obs, infos, done, shape.autoreset_mode)
        with torch.no_grad():
            rollout.next_values[step] = policy.get_value(policy.obs_normalizer(torch.as_tensor(final_obs)))

        cursor.episode_return += reward * ~cursor.reset_pending
        for env_index in np.flatnonzero(done):
            finished_returns.append(float(cursor.episode_return[env_index]))
            finished_successes.append(_episode_success(episode_info, env_index))
            cursor.episode_return[env_index] = 0.0
        if shape.autoreset_mode == AutoresetMode.NEXT_STEP:
            cursor.reset_pending = done
    return finished_returns, finished_successes


@dataclass(frozen=True)
class _Batch:
    """A rollout flattened to the transitions the policy chose, with their GAE advantages and returns."""

    obs: torch.Tensor
    actions: torch.Tensor
    logprobs: torch.Tensor
    advantages: torch.Tensor
    returns: torch.Tensor


def _batch(rollout: _Rollout, cfg: PPOConfig, shape: _RunShape) -> _Batch:
    """Advantages by GAE, then one flat batch without the NEXT_STEP reset transitions: their action never
    reached an env, so there is nothing to learn from them."""
    advantages = compute_gae(
        rollout.rewards,
        rollout.values,
        rollout.next_values,
        rollout.terminated,
        rollout.episode_ended,
        rollout.valid,
        cfg.gamma,
        cfg.gae_lambda,
    )
    returns = advantages + rollout.values
    keep = rollout.valid.reshape(-1).bool()
    return _Batch(
        obs=rollout.obs.reshape(-1, shape.obs_dim)[keep],
        actions=rollout.actions.reshape(-1, shape.act_dim)[keep],
        logprobs=rollout.logprobs.reshape(-1)[keep],
        advantages=advantages.reshape(-1)[keep],
        returns=returns.reshape(-1)[keep],
    )


def _minibatch_step(
    learner: _Learner, batch: _Batch, mb_inds: np.ndarray, cfg: PPOConfig, update: int, fit_actor: bool
) -> list[float]:
    """One gradient step on the clipped surrogate objective over ``mb_inds``; the step's policy loss, value
    loss, entropy, approximate KL and clip fraction (in :data:`LOSS_KEYS` order). During critic warm-up
    (``fit_actor`` false) only the value loss is minimised, the rest still measured."""
    policy = learner.policy
    _, newlogprob, entropy, newvalue = policy.get_action_and_value(batch.obs[mb_inds], batch.actions[mb_inds])
    logratio = newlogprob - batch.logprobs[mb_inds]
    ratio = logratio.exp()
    with torch.no_grad():
        approx_kl = ((ratio - 1) - logratio).mean()
        clipfrac = ((ratio - 1.0).abs() > cfg.clip_coef).float().mean()

    mb_advantages = batch.advantages[mb_inds]
    mb_advantages = (mb_advantages - mb_advantages.mean()) / (mb_advantages.std(correction=0) + ADVANTAGE_EPS)
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - cfg.clip_coef, 1 + cfg.clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    v_loss = 0.5 * ((newvalue - batch.returns[mb_inds]) ** 2).mean()
    entropy_loss = entropy.mean()
    loss = cfg.vf_coef * v_loss
    if fit_actor:
        loss = loss + pg_loss - cfg.ent_coef * entropy_loss
    if not torch.isfinite(loss):
        raise PhysworldError(
            f"PPO loss became non-finite at update {update} (policy {pg_loss.item()}, "
            f"value {v_loss.item()}); check the env's observations and rewards for NaN/inf"
        )

    learner.optimizer.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(policy.parameters(), cfg.max_grad_norm)
    learner.optimizer.step()
    return [t.item() for t in (pg_loss, v_loss, entropy_loss, approx_kl, clipfrac)]


def _optimise(learner: _Learner, batch: _Batch, cfg: PPOConfig, update: int, shape: _RunShape) -> list[float]:
    """``cfg.update_epochs`` passes over the batch in shuffled minibatches; the update's mean of each loss
    term (:data:`LOSS_KEYS` order)."""
    minibatch_stats = []
    b_inds = np.arange(batch.obs.shape[0])
    for _epoch in range(cfg.update_epochs):
        learner.shuffle_rng.shuffle(b_inds)
        for mb_inds in np.array_split(b_inds, cfg.num_minibatches):
            minibatch_stats.append(
                _minibatch_step(learner, batch, mb_inds, cfg, update, fit_actor=update > shape.warmup_updates)
            )
    return np.mean(minibatch_stats, axis=0).tolist()


def _curve_entry(
    update: int,
    env_steps: int,
    wall_seconds: float,
    finished: tuple[list[float], list[bool]],
    learner: _Learner,
    losses: list[float],
) -> dict[str, Any]:
    """One update's line of the learning curve (see :class:`TrainResult`); ``finished`` holds the returns and
    successes of the episodes that ended during it (mean ``None`` when none did)."""
    finished_returns, finished_successes = finished
    return {
        "update": update,
        "env_steps": env_steps,
        "mean_return": float(np.mean(finished_returns)) if finished_returns else None,
        "success_rate": float(np.mean(finished_successes)) if finished_successes else None,
        "episodes": len(finished_returns),
        "wall_s": round(wall_seconds, 3),
        "learning_rate": learner.optimizer.param_groups[0]["lr"],
        **dict(zip(LOSS_KEYS, losses, strict=True)),
    }


def train_ppo(
    envs: gym.vector.VectorEnv,
    cfg: PPOConfig,
    *,
    residual: bool,
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train a PPO policy on an already-built vector env (the caller builds and closes it).

    With ``residual=True`` the env must report ``infos["base_action"]`` (shape ``(num_envs, act_dim)``) after
    every reset and step. Every env must report ``info["success"]`` when an episode ends.

    With ``checkpoint_dir``, ``ppo.safetensors`` there is written every ``cfg.checkpoint_every`` updates and
    at the end. If it already exists (a killed or finished run), training resumes from it: weights, optimizer
    state, observation statistics, update index, env steps and curve are restored and training continues to
    ``cfg.total_env_steps``. Only ``total_env_steps`` and ``checkpoint_every`` may differ from the saved
    config; anything else raises. Env episodes in flight at the kill are lost (the env is reset). A resume
    is logged (``resuming from update N of M``) and shown in the progress bar.

    ``log_fn`` is called after every update with that update's curve entry; ``on_checkpoint`` with the
    checkpoint's path each time one is written (to copy it somewhere that outlives this machine).

    Each update: collect a rollout (:func:`_collect`), compute advantages (:func:`_batch`), optimise
    (:func:`_optimise`), record the curve entry and checkpoint.
    """
    shape = _run_shape(envs, cfg, residual)
    learner = _new_learner(cfg, shape)
    checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    run = _Progress()
    if checkpoint_path is not None and checkpoint_path.exists():
        run = _resume(learner, checkpoint_path, cfg, shape)

    rollout = _Rollout.zeros(cfg.num_steps, shape)
    start_time = time.perf_counter()
    cursor = _reset(envs, cfg.seed + run.start_update, shape)
    pbar = tqdm(
        total=shape.num_updates * shape.batch_size,
        initial=run.env_steps,
        disable=not progress,
        unit="step",
        desc=f"ppo (resuming from update {run.start_update} of {shape.num_updates})"
        if run.start_update
        else "ppo",
    )

    for update in range(run.start_update + 1, shape.num_updates + 1):
        if cfg.anneal_lr:
            learner.optimizer.param_groups[0]["lr"] = (
                1.0 - (update - 1.0) / shape.num_updates
            ) * cfg.learning_rate
        finished = _collect(envs, learner.policy, cursor, rollout, cfg, shape)
        losses = _optimise(learner, _batch(rollout, cfg, shape), cfg, update, shape)

        run.env_steps += shape.batch_size
        wall_seconds = run.wall_before + time.perf_counter() - start_time
        entry = _curve_entry(update, run.env_steps, wall_seconds, finished, learner, losses)
        run.curve.append(entry)
        if checkpoint_path is not None and (
            update % cfg.checkpoint_every == 0 or update == shape.num_updates
        ):
            _save(checkpoint_path, learner, cfg, shape, run, update, wall_seconds)
            if on_checkpoint is not None:
                on_checkpoint(checkpoint_path)
        pbar.update(shape.batch_size)
        pbar.set_postfix(ret=entry["mean_return"], success=entry["success_rate"], refresh=False)
        if log_fn is not None:
            log_fn(entry)

    pbar.close()
    return TrainResult(
        policy=learner.policy.eval(),
        curve=run.curve,
        env_steps=run.env_steps,
        wall_seconds=run.wall_before + time.perf_counter() - start_time,
        final_success_rate=_final_success_rate(run.curve),
        checkpoint_path=checkpoint_path,
        resumed_from_update=run.start_update,
    )
