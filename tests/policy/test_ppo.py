"""PPO tests on tiny in-file envs: learning, residual composition, checkpoints, resume, autoreset handling."""

from __future__ import annotations

import json
import logging
import math
import re
from dataclasses import replace

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv
from safetensors import safe_open

from physworld_core.errors import PhysworldError
from physworld_core.policy.checkpoint import load_checkpoint, load_policy, save_checkpoint
from physworld_core.policy.ppo import ActorCritic, PPOConfig, compute_gae, policy_action, train_ppo

LOSS_KEYS = ("policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac")


class BiasedPointMass(gym.Env):
    """Task Description: move a 2-D point mass (velocity actions) to within ``TOL`` of a random goal.

    The baseline controller reported in ``info["base_action"]`` is proportional with a per-episode x bias in
    [0.1, 0.5]; its steady-state error is bias / GAIN, so alone it succeeds only when the bias is small.
    Observation: position, goal - position, base action. Success terminates; ``max_steps`` truncates.
    """

    GAIN, STEP, TOL = 2.0, 0.1, 0.1

    def __init__(self, max_steps: int = 30, with_base_action: bool = True, nan_reward: bool = False) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (6,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.max_steps, self.with_base_action, self.nan_reward = max_steps, with_base_action, nan_reward

    def _obs_info(self) -> tuple[np.ndarray, dict]:
        base_action = np.clip(self.GAIN * (self.goal - self.pos) + self.bias, -1, 1).astype(np.float32)
        obs = np.concatenate([self.pos, self.goal - self.pos, base_action]).astype(np.float32)
        info = {"success": bool(np.linalg.norm(self.goal - self.pos) < self.TOL)}
        if self.with_base_action:
            info["base_action"] = base_action
        return obs, info

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.pos = self.np_random.uniform(-0.8, 0.8, 2)
        self.goal = self.np_random.uniform(-0.8, 0.8, 2)
        self.bias = np.array([self.np_random.uniform(0.1, 0.5), 0.0])
        self.steps = 0
        return self._obs_info()

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.pos = np.clip(self.pos + self.STEP * np.clip(action, -1, 1), -1, 1)
        self.steps += 1
        obs, info = self._obs_info()
        reward = -np.linalg.norm(self.goal - self.pos) + (1.0 if info["success"] else 0.0)
        return (
            obs,
            math.nan if self.nan_reward else float(reward),
            info["success"],
            self.steps >= self.max_steps,
            info,
        )


class FixedLengthEnv(gym.Env):
    """Every episode lasts exactly ``LENGTH`` steps (truncated), reward 1 per step, always successful."""

    LENGTH = 5

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (1,), np.float32)

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.steps = 0
        return np.zeros(1, np.float32), {"base_action": np.zeros(1, np.float32)}

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict]:
        self.steps += 1
        obs = np.full(1, self.steps / self.LENGTH, np.float32)
        info = {"base_action": np.zeros(1, np.float32), "success": True}
        return obs, 1.0, False, self.steps >= self.LENGTH, info


def point_mass_envs(num_envs: int = 4, **env_kwargs) -> SyncVectorEnv:
    return SyncVectorEnv([lambda: BiasedPointMass(**env_kwargs) for _ in range(num_envs)])


def small_config(**overrides) -> PPOConfig:
    values = {"total_env_steps": 128, "num_steps": 16, "hidden_sizes": (16, 16), "update_epochs": 2}
    values["num_minibatches"] = 2
    return PPOConfig(**(values | overrides))


def success_rate(policy: ActorCritic | None, residual_scale: float, episodes: int = 100) -> float:
    """Deterministic evaluation on fixed seeds; ``policy=None`` runs the baseline controller alone."""
    env, successes = BiasedPointMass(), 0
    for episode in range(episodes):
        obs, info = env.reset(seed=10_000 + episode)
        while True:
            action = (
                info["base_action"]
                if policy is None
                else policy_action(policy, obs, info["base_action"], True, residual_scale)
            )
            obs, _, terminated, truncated, info = env.step(action)
            if terminated or truncated:
                successes += info["success"]
                break
    return successes / episodes


def assert_finite_losses(curve: list[dict]) -> None:
    for entry in curve:
        for key in LOSS_KEYS:
            assert math.isfinite(entry[key]), f"update {entry['update']}: {key}={entry[key]}"


# ------------------------------------------------------------------------------------------------ learning


def test_residual_ppo_beats_the_base_controller():
    cfg = PPOConfig(
        total_env_steps=6144,
        num_steps=64,
        learning_rate=3e-3,
        gamma=0.95,
        hidden_sizes=(32, 32),
        update_epochs=4,
        residual_scale=0.5,
        seed=0,
    )
    envs = point_mass_envs(num_envs=8)
    result = train_ppo(envs, cfg, residual=True, progress=False)
    envs.close()

    base_success = success_rate(None, cfg.residual_scale)
    trained_success = success_rate(result.policy, cfg.residual_scale)
    assert 0.2 < base_success < 0.6, "the baseline should succeed only sometimes"
    assert trained_success >= base_success + 0.25, (base_success, trained_success)

    assert result.env_steps == 6144 and len(result.curve) == 12
    assert [entry["env_steps"] for entry in result.curve] == list(range(512, 6145, 512))
    assert result.final_success_rate is not None and result.final_success_rate > base_success
    assert result.checkpoint_path is None and result.resumed_from_update == 0
    assert_finite_losses(result.curve)


def test_scratch_ppo_ignores_base_action():
    envs = point_mass_envs(num_envs=2, with_base_action=False)
    result = train_ppo(envs, small_config(), residual=False, progress=False)
    assert result.env_steps == 128
    assert_finite_losses(result.curve)


def test_residual_ppo_without_base_action_says_so():
    envs = point_mass_envs(num_envs=2, with_base_action=False)
    with pytest.raises(PhysworldError, match="base_action"):
        train_ppo(envs, small_config(), residual=True, progress=False)


def test_non_finite_loss_raises():
    envs = point_mass_envs(num_envs=2, nan_reward=True)
    with pytest.raises(PhysworldError, match="non-finite"):
        train_ppo(envs, small_config(), residual=True, progress=False)


def test_fresh_residual_policy_reproduces_base_action():
    torch.manual_seed(0)
    policy = ActorCritic(obs_dim=6, act_dim=2, hidden_sizes=(256, 256), init_log_std=-1.0)
    env = BiasedPointMass()
    obs_batch, base_batch = [], []
    for seed in range(64):
        obs, info = env.reset(seed=seed)
        obs_batch.append(obs)
        base_batch.append(info["base_action"])
    actions = policy_action(policy, np.stack(obs_batch), np.stack(base_batch), True, 0.5)
    np.testing.assert_allclose(actions, np.stack(base_batch), atol=0.02)

    single = policy_action(policy, obs_batch[0], base_batch[0], True, 0.5, deterministic=False)
    assert single.shape == (2,) and np.all(np.abs(single) <= 1.0)


def test_critic_warmup_leaves_the_actor_as_it_was():
    # 2 envs x 16 steps: 12 updates, the first 3 fitting the critic alone. An untouched actor gives every
    # stored action the probability it was sampled with: ratio 1, approx_kl 0.
    cfg = small_config(total_env_steps=384, critic_warmup_updates=3)
    curve = train_ppo(point_mass_envs(num_envs=2), cfg, residual=True, progress=False).curve
    assert max(entry["approx_kl"] for entry in curve[:3]) < 1e-9
    assert curve[3]["approx_kl"] > 1e-6, "the actor moves once the warm-up is over"
    assert curve[0]["value_loss"] > curve[2]["value_loss"], "the critic was fitted"

    # A budget of 2 updates keeps no warm-up: the actor trains from the first update.
    curve = train_ppo(
        point_mass_envs(num_envs=2), replace(cfg, total_env_steps=64), residual=True, progress=False
    ).curve
    assert curve[0]["approx_kl"] > 1e-6


# ------------------------------------------------------------------------------------------------ autoreset


@pytest.mark.parametrize("autoreset_mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_episode_accounting_handles_autoreset(autoreset_mode):
    # 30 vector steps: NEXT_STEP spends 6 steps per 5-step episode (one is the reset), SAME_STEP spends 5.
    envs = SyncVectorEnv([FixedLengthEnv, FixedLengthEnv], autoreset_mode=autoreset_mode)
    cfg = small_config(total_env_steps=60, num_steps=30)
    result = train_ppo(envs, cfg, residual=True, progress=False)
    (entry,) = result.curve
    assert entry["episodes"] == (10 if autoreset_mode == AutoresetMode.NEXT_STEP else 12)
    assert entry["mean_return"] == FixedLengthEnv.LENGTH
    assert entry["success_rate"] == 1.0
    assert_finite_losses(result.curve)


def test_gae_bootstraps_truncation_and_skips_autoreset_steps():
    # One env, three steps: step 0 truncates (bootstrap from its final obs value 10), step 1 is the NEXT_STEP
    # reset transition (invalid), step 2 terminates (no bootstrap).
    ones = torch.ones(3, 1)
    advantages = compute_gae(
        rewards=torch.tensor([[1.0], [0.0], [2.0]]),
        values=torch.zeros(3, 1),
        next_values=torch.tensor([[10.0], [5.0], [7.0]]),
        terminated=torch.tensor([[0.0], [0.0], [1.0]]),
        episode_ended=torch.tensor([[1.0], [0.0], [1.0]]),
        valid=torch.tensor([[1.0], [0.0], [1.0]]),
        gamma=0.5,
        gae_lambda=1.0,
    )
    torch.testing.assert_close(advantages, torch.tensor([[1.0 + 0.5 * 10.0], [0.0], [2.0]]) * ones)


# ------------------------------------------------------------------------------------------------ checkpoints


def test_checkpoint_round_trip_is_safetensors_and_exact(tmp_path):
    cfg = small_config(residual_scale=0.3)
    envs = point_mass_envs(num_envs=2)
    result = train_ppo(envs, cfg, residual=True, checkpoint_dir=tmp_path, progress=False)
    assert result.checkpoint_path == tmp_path / "ppo.safetensors"
    assert sorted(path.name for path in tmp_path.iterdir()) == ["ppo.safetensors"], "no temp files left"

    with safe_open(result.checkpoint_path, framework="pt") as checkpoint:  # safetensors, not pickle
        metadata = checkpoint.metadata()
        assert "policy/obs_normalizer.mean" in checkpoint.keys()  # noqa: SIM118
        assert any(key.startswith("optimizer/") for key in checkpoint.keys())  # noqa: SIM118
    assert json.loads(metadata["meta"])["residual_scale"] == 0.3

    policy, meta = load_policy(result.checkpoint_path)
    assert meta["residual"] is True and meta["residual_scale"] == 0.3
    assert meta["env_steps"] == result.env_steps and meta["curve"] == result.curve
    assert PPOConfig.from_dict(meta["config"]) == cfg
    assert policy.obs_normalizer.count.item() > 1, "observation statistics were saved"

    rng = np.random.default_rng(0)
    obs = rng.normal(size=(50, 6)).astype(np.float32)
    base_action = rng.uniform(-1, 1, size=(50, 2)).astype(np.float32)
    expected = policy_action(result.policy, obs, base_action, True, cfg.residual_scale)
    loaded = policy_action(policy, obs, base_action, meta["residual"], meta["residual_scale"])
    np.testing.assert_array_equal(loaded, expected)


class Killed(Exception):
    pass


def test_killed_run_resumes_from_its_checkpoint(tmp_path, caplog):
    cfg = small_config(total_env_steps=32 * 5, checkpoint_every=1)  # 2 envs x 16 steps = 32 per update

    def kill_after_update_2(entry):
        if entry["update"] == 2:
            raise Killed

    saved = []  # (path, update in the file) each time on_checkpoint is called
    with pytest.raises(Killed):
        train_ppo(
            point_mass_envs(num_envs=2),
            cfg,
            residual=True,
            checkpoint_dir=tmp_path,
            log_fn=kill_after_update_2,
            progress=False,
            on_checkpoint=lambda path: saved.append((path, load_checkpoint(path)[2]["update"])),
        )
    assert saved == [(tmp_path / "ppo.safetensors", 1), (tmp_path / "ppo.safetensors", 2)]

    logged = []
    with caplog.at_level(logging.INFO, logger="physworld_core.policy.ppo"):
        result = train_ppo(
            point_mass_envs(num_envs=2),
            cfg,
            residual=True,
            checkpoint_dir=tmp_path,
            log_fn=logged.append,
            progress=False,
        )
    assert "resuming from update 2 of 5 (64 of 160 env steps done)" in caplog.text
    assert result.resumed_from_update == 2
    assert [entry["update"] for entry in logged] == [3, 4, 5], "resumed after the last checkpoint"
    assert logged[0]["env_steps"] == 3 * 32
    assert [entry["update"] for entry in result.curve] == [1, 2, 3, 4, 5], "curve restored, then continued"
    assert result.env_steps == cfg.total_env_steps
    assert load_policy(result.checkpoint_path)[1]["update"] == 5


def test_larger_total_continues_a_finished_run(tmp_path):
    first = train_ppo(
        point_mass_envs(num_envs=2),
        small_config(total_env_steps=64),
        residual=True,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert first.env_steps == 64

    logged = []
    longer = small_config(total_env_steps=128, checkpoint_every=3)
    result = train_ppo(
        point_mass_envs(num_envs=2),
        longer,
        residual=True,
        checkpoint_dir=tmp_path,
        log_fn=logged.append,
        progress=False,
    )
    assert [entry["env_steps"] for entry in logged] == [96, 128]
    assert result.env_steps == 128 and len(result.curve) == 4
    assert result.wall_seconds >= first.wall_seconds


def test_checkpoint_from_before_a_new_config_field_resumes(tmp_path):
    """A checkpoint written before a PPOConfig field existed trained with that field's default."""
    cfg = small_config(total_env_steps=64)
    first = train_ppo(
        point_mass_envs(num_envs=2), cfg, residual=True, checkpoint_dir=tmp_path, progress=False
    )
    policy_state, optimizer_state, meta = load_checkpoint(first.checkpoint_path)
    del meta["config"]["critic_warmup_updates"]
    save_checkpoint(
        first.checkpoint_path, policy_state=policy_state, optimizer_state=optimizer_state, meta=meta
    )
    result = train_ppo(
        point_mass_envs(num_envs=2),
        replace(cfg, total_env_steps=96),
        residual=True,
        checkpoint_dir=tmp_path,
        progress=False,
    )
    assert [entry["update"] for entry in result.curve] == [1, 2, 3]
    with pytest.raises(PhysworldError, match="critic_warmup_updates"):
        train_ppo(
            point_mass_envs(num_envs=2),
            replace(cfg, total_env_steps=128, critic_warmup_updates=1),
            residual=True,
            checkpoint_dir=tmp_path,
            progress=False,
        )


def test_checkpoint_from_another_config_is_not_resumed(tmp_path):
    train_ppo(
        point_mass_envs(num_envs=2), small_config(), residual=True, checkpoint_dir=tmp_path, progress=False
    )
    with pytest.raises(PhysworldError, match="learning_rate"):
        train_ppo(
            point_mass_envs(num_envs=2),
            small_config(learning_rate=1e-3),
            residual=True,
            checkpoint_dir=tmp_path,
            progress=False,
        )
    with pytest.raises(PhysworldError, match="residual"):
        train_ppo(
            point_mass_envs(num_envs=2),
            small_config(),
            residual=False,
            checkpoint_dir=tmp_path,
            progress=False,
        )


# ------------------------------------------------------------------------------------------------ config


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("total_env_steps", 0),
        ("num_steps", -1),
        ("learning_rate", 0.0),
        ("gamma", 1.5),
        ("gae_lambda", -0.1),
        ("num_minibatches", 0),
        ("update_epochs", 2.5),
        ("clip_coef", 0.0),
        ("ent_coef", -0.01),
        ("vf_coef", float("nan")),
        ("max_grad_norm", 0),
        ("hidden_sizes", ()),
        ("hidden_sizes", (64, 0)),
        ("init_log_std", float("inf")),
        ("residual_scale", -0.5),
        ("seed", -1),
        ("checkpoint_every", 0),
        ("anneal_lr", "yes"),
        ("critic_warmup_updates", -1),
    ],
)
def test_config_rejects_bad_values(field, value):
    with pytest.raises(ValueError, match=rf"PPOConfig\.{field} must be .*got {re.escape(repr(value))}"):
        PPOConfig(**{field: value})


def test_config_accepts_lists_for_hidden_sizes():
    assert PPOConfig(hidden_sizes=[8, 8]).hidden_sizes == (8, 8)
    assert PPOConfig.from_dict(PPOConfig().to_dict()) == PPOConfig()


def test_too_small_batch_for_minibatches_raises():
    with pytest.raises(PhysworldError, match="minibatches"):
        train_ppo(
            point_mass_envs(num_envs=1),
            small_config(num_steps=2, num_minibatches=4),
            residual=True,
            progress=False,
        )
