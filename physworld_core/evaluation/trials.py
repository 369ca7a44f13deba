"""Execute methods in the ground-truth world and score them with the world's own success test.

The policy observes the object's pose with perception noise (``ObservationNoise``), exactly as in the twin;
the plan (grasp, path, goal) comes from the twin. Truth is used here only to classify failures.
"""

from __future__ import annotations

import functools
import time
from dataclasses import dataclass

import numpy as np

from physworld_core.errors import PhysworldError
from physworld_core.evaluation.rollouts import RecordConfig, RolloutRecorder, keep_renderer
from physworld_core.evaluation.worlds import BenchmarkTask
from physworld_core.policy.hand import TASK_ACTION_NAMES
from physworld_core.policy.plan import TaskPlan
from physworld_core.policy.skill import policy_of
from physworld_core.policy.task_env import ObjectCentricTaskEnv, ObservationNoise, run_episode
from physworld_core.policy.train import make_actor
from physworld_core.skills.registry import DEFAULT_SKILL

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


def classify_failure(
    result: dict, goal_ok: bool | None, path_end_ok: bool | None, skill: str = DEFAULT_SKILL
) -> str | None:
    """Why a trial failed. ``goal_ok`` / ``path_end_ok`` are ``None`` where the world cannot say (a stock env
    keeps its goal inside ``evaluate()``): those classes are then not assigned. A trial that never took hold of
    the object (as its skill counts it: a grasp, or a push that moved it) failed to grasp."""
    if result["success"]:
        return None
    if goal_ok is False:
        return "reconstruction"
    if path_end_ok is False:
        return "tracking"
    if not policy_of(skill).held(result):
        return "grasp"
    return "execution"


class _LastStepTaskEnv(ObjectCentricTaskEnv):
    """Remembers the last observation and info, so a recording can go on after the episode has ended."""

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        self.last = super().reset(seed=seed, options=options)
        return self.last

    def step(self, action: np.ndarray):
        obs, reward, terminated, truncated, info = super().step(action)
        self.last = (obs, info)
        return obs, reward, terminated, truncated, info


def _record_until(env: _LastStepTaskEnv, act, recorder: RolloutRecorder, min_frames: int) -> None:
    """Keep the policy acting (and the recorder recording) until ``min_frames`` frames are recorded."""
    obs, info = env.last
    while len(recorder) < min_frames or recorder.steps % recorder.frame_step:
        action = act(obs, info["base_action"])
        recorder(env.env, action)
        obs, _, _, _, info = env.step(action)


def run_trials(
    task: BenchmarkTask,  # or a StockTask: anything with make_task_world
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
    size) and their recorders are put in ``recordings`` by trial index. The world is built once and every
    trial runs in it; only the recorded trials' recorded steps are rendered, and the renderer is kept up for
    the next world (:func:`~physworld_core.evaluation.rollouts.keep_renderer`). A recorded trial that ended in
    fewer than ``record.min_frames`` frames is recorded on after its scored end (its row is unchanged).

    A ``policy`` that ``observes_camera`` (the world model) acts on the world's rendered picture instead of the
    object pose: the world renders ``camera`` at the policy's ``frame_size``, ``policy.actor(world_env)`` gives
    the ``act`` and is reset before each trial, and ``plan`` serves only for the episode (the object's start,
    the goal the failure classes are judged by). Its trials are not recorded: the world renders at the
    model's size, not the record size."""
    observes_camera = getattr(policy, "observes_camera", False)
    if observes_camera and camera is None:
        raise PhysworldError(
            f"method {method!r} acts on the camera picture: the task's scene camera is needed"
        )
    recording = record is not None and record.trials > 0 and recordings is not None and not observes_camera
    factory = functools.partial(task.make_task_world, plan.waypoints[0])
    if observes_camera:
        factory = functools.partial(
            task.make_task_world,
            plan.waypoints[0],
            camera=camera.resized(*policy.frame_size),
            render_mode="rgb_array",
        )
    if recording:
        factory = functools.partial(
            task.make_task_world,
            plan.waypoints[0],
            camera=camera.resized(record.width, record.height) if camera is not None else None,
            render_mode="rgb_array",
        )
    env = _LastStepTaskEnv(factory, plan, noise=config.noise, max_steps=config.max_steps)
    act = None if observes_camera else make_actor(policy, meta)
    rows = []
    try:
        if recording:
            keep_renderer(env.env)  # the next method's world then renders at once
        world = env.world  # truth, used only to say *why* a trial failed
        contains = getattr(
            world, "goal_contains_xy", lambda xy: None
        )  # worlds that can say where the goal is
        goal_ok = contains(plan.goal_center[:2])  # reconstruction found the real goal
        path_end_ok = contains(plan.waypoints[-1][:2])  # the tracked path ends in it
        if observes_camera:
            act = policy.actor(env.env)
        for k in range(config.trials):
            if observes_camera:
                act.reset()  # a new episode: the model's context starts empty
            t0 = time.time()
            recorder = None
            if recording and k < record.trials:
                recorder = RolloutRecorder(
                    frame_step=record.frame_step(), fps=record.recorded_fps(), action_names=TASK_ACTION_NAMES
                )
            result = run_episode(env, act, seed=config.seed + k, observer=recorder)
            seconds = time.time() - t0
            if recorder is not None:
                recorder.trial_frames = len(recorder)
                _record_until(env, act, recorder, record.min_frames)
                recordings[k] = recorder
            rows.append(
                {
                    "method": method,
                    "trial": k,
                    "success": result["success"],
                    "failure": classify_failure(result, goal_ok, path_end_ok, plan.skill),
                    "env_seed": config.seed + k,
                    "steps": result["steps"],
                    "final_distance": result["final_distance"],
                    "seconds": seconds,
                }
            )
    finally:
        env.close()
    return rows
