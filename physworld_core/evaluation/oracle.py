"""Run a family's privileged oracle in its world: the evidence that every benchmark task is solvable."""

from __future__ import annotations

import time
from dataclasses import dataclass

from mani_skill.utils.registration import REGISTERED_ENVS

from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.world import get_family


def episode_limit(env_id: str) -> int:
    """The family's registered episode length. ManiSkill enforces it in its own TimeLimitWrapper, so the
    gymnasium spec ``gym.make`` returns says ``max_episode_steps=None``; read ManiSkill's registry instead."""
    return int(REGISTERED_ENVS[env_id].max_episode_steps or 200)


@dataclass(frozen=True)
class OracleResult:
    task_id: str
    success: bool
    steps: int
    seconds: float
    info: dict


def run_oracle(
    task: BenchmarkTask,
    episode_seed: int = 0,
    hold_steps: int = 10,
    observer=None,
    camera=None,
) -> OracleResult:
    """One oracle episode. Success must hold for ``hold_steps`` consecutive steps (or at the time limit):
    a can that bounces out of the bin a moment after "entering" it is not a success.

    ``observer(env, action)`` sees every step before the action is applied (a
    :class:`~physworld_core.evaluation.rollouts.RolloutRecorder` turns oracle episodes into scripted
    demonstrations); with ``camera`` the world renders from it."""
    family = get_family(task.family)
    if family.oracle is None:
        raise ValueError(f"world family {task.family!r} has no oracle")
    start = time.perf_counter()
    render = {"camera": camera, "render_mode": "rgb_array"} if camera is not None else {}
    env = make_world_env(task, control_mode=family.oracle_control_mode, **render)
    try:
        env.reset(seed=episode_seed)
        world = env.unwrapped
        policy = family.oracle(world)
        held, info, steps = 0, {}, 0
        limit = episode_limit(family.env_id)
        for steps in range(1, limit + 1):
            action = policy()
            if observer is not None:
                observer(env, action)
            _, _, _, _, info = env.step(action)
            held = held + 1 if bool(info["success"][0]) else 0
            if held >= hold_steps:
                break
        success = bool(info["success"][0])
    finally:
        env.close()
    clean = {
        k: (v.item() if hasattr(v, "item") and getattr(v, "numel", lambda: 1)() == 1 else v)
        for k, v in info.items()
    }
    return OracleResult(task.task_id, success, steps, time.perf_counter() - start, clean)
