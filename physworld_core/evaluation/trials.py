"""Execute methods in the ground-truth world and score them with the world's own success test.

The policy observes the object's pose with perception noise (``ObservationNoise``), exactly as in the twin;
the plan (grasp, path, goal) comes from the twin. Truth is used here only to classify failures.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

from physworld_core.evaluation.rollouts import RecordConfig, RolloutRecorder
from physworld_core.evaluation.worlds import BenchmarkTask, make_world_env
from physworld_core.policy.plan import TaskPlan
from physworld_core.policy.task_env import ObjectCentricTaskEnv, ObservationNoise, run_episode
from physworld_core.policy.train import make_actor

FAILURES = ("grasp", "reconstruction", "tracking", "execution")


@dataclass(frozen=True)
class TrialConfig:
    """Args:
    trials: episodes per method (different reset jitter and perception-noise draws).
    noise: perception noise on the observed object position.
    max_steps: episode length.
    seed: first episode seed; trial k uses seed + k.
    """

    trials: int = 10
    noise: ObservationNoise = ObservationNoise()
    max_steps: int = 150
    seed: int = 1000

    def __post_init__(self) -> None:
        if self.trials < 1:
            raise ValueError(f"trials must be >= 1, got {self.trials}")


def classify_failure(result: dict, goal_ok: bool, path_end_ok: bool) -> str | None:
    if result["success"]:
        return None
    if not goal_ok:
        return "reconstruction"
    if not path_end_ok:
        return "tracking"
    if not result["ever_grasped"]:
        return "grasp"
    return "execution"


def run_trials(
    task: BenchmarkTask,
    method: str,
    plan: TaskPlan,
    policy=None,
    meta: dict | None = None,
    config: TrialConfig = TrialConfig(),
    record: RecordConfig | None = None,
    camera=None,
    recordings: dict[int, RolloutRecorder] | None = None,
) -> list[dict]:
    """One row per trial, ready for the ``evaluations`` table.

    With ``record``, the first ``record.trials`` trials are rendered from ``camera`` (resized to the record
    size) and their recorders are put in ``recordings`` by trial index."""
    recording = record is not None and record.trials > 0 and recordings is not None
    factory = functools.partial(make_world_env, task)
    if recording:
        factory = functools.partial(
            make_world_env,
            task,
            camera=camera.resized(record.width, record.height) if camera is not None else None,
            render_mode="rgb_array",
        )
    env = ObjectCentricTaskEnv(factory, plan, noise=config.noise, max_steps=config.max_steps)
    act = make_actor(policy, meta)
    rows = []
    try:
        world = env.env.unwrapped  # truth, used only to say *why* a trial failed
        goal_ok = world.goal_contains_xy(plan.goal_center[:2])  # reconstruction found the real container
        path_end_ok = world.goal_contains_xy(plan.waypoints[-1][:2])  # the tracked path ends in it
        for k in range(config.trials):
            t0 = time.time()
            recorder = RolloutRecorder() if recording and k < record.trials else None
            result = run_episode(env, act, seed=config.seed + k, observer=recorder)
            if recorder is not None:
                recordings[k] = recorder
            rows.append(
                {
                    "method": method,
                    "trial": k,
                    "success": result["success"],
                    "failure": classify_failure(result, goal_ok, path_end_ok),
                    "env_seed": config.seed + k,
                    "steps": result["steps"],
                    "final_distance": result["final_distance"],
                    "seconds": time.time() - t0,
                }
            )
    finally:
        env.close()
    return rows
