"""The held-out twin score the residual gate compares: every actor is scored on the same footing."""

from __future__ import annotations

from types import SimpleNamespace

import gymnasium as gym
import numpy as np

from physworld_core.policy import train

BUILT: list[EngineWithMemory] = []


class EngineWithMemory(gym.Env):
    """Succeeds only in the first ``FRESH_EPISODES`` episodes after it is built: a stand-in for a physics
    engine whose state a reset does not clear, so an episode's outcome depends on the episodes before it."""

    FRESH_EPISODES = 3

    def __init__(self) -> None:
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (2,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (2,), np.float32)
        self.plan = SimpleNamespace(goal_center=(0.0, 0.0, 0.0))
        self.max_steps = 2
        self.episodes, self.closed = 0, False
        BUILT.append(self)

    def reset(self, *, seed=None, options=None):
        self.episodes += 1
        return np.zeros(2, np.float32), {"base_action": np.zeros(2, np.float32)}

    def step(self, action):
        info = {
            "base_action": np.zeros(2, np.float32),
            "success": self.episodes <= self.FRESH_EPISODES,
            "grasped": True,
            "moved": 0.0,
            "object_position": np.zeros(3),
            "phase": 0,
        }
        return np.zeros(2, np.float32), 0.0, False, False, info

    def close(self):
        self.closed = True


def test_every_actor_is_scored_in_an_env_of_its_own(monkeypatch):
    BUILT.clear()
    monkeypatch.setattr(train, "_task_env", lambda *args: EngineWithMemory())
    cfg = train.PolicyTrainConfig(eval_episodes=EngineWithMemory.FRESH_EPISODES)
    plan = SimpleNamespace(to_json=lambda: "{}")  # only passed through to the env factory, which ignores it
    actors = {"learned": lambda obs, base: base + 0.1, "baseline": lambda obs, base: base}

    rates = train.twin_success_rates("{}", plan, cfg, actors)

    assert rates == {"learned": 1.0, "baseline": 1.0}, "the baseline was scored after the learned episodes"
    assert len(BUILT) == 2 and all(env.closed for env in BUILT)
