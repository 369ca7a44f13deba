"""Object-centric task environment: any TabletopEnv (twin or world) + a plan → a flat gymnasium env.

Observation: proprioception (TCP, gripper opening, the hand's turn from rest and its error to the baseline's
turn target), the *observed* object position (true pose + perception noise: a per-episode bias and per-step
jitter), the object's offset to the current path waypoint and to the goal, the baseline's phase and progress,
and the baseline action itself. Actions are the hand's task actions ``[dx, dy, dz, dyaw, gripper]`` (see
:mod:`physworld_core.policy.hand`). ``info["base_action"]`` carries the baseline action for
residual PPO; ``info["success"]`` the underlying env's own success test.

Reward (object-centric, PhysWorld-style): reaching the grasp (or, for a push, the point behind the object)
while the object is free, then closeness of the object to the current waypoint of the planned trajectory while
it is held (pushed), and a bonus on success.

The world is any env whose unwrapped base is a :class:`~physworld_core.sim.base_env.TabletopEnv` (a benchmark
world, a twin), or a wrapper that offers the same observation methods as ``task_world`` (a stock ManiSkill env,
see :mod:`physworld_core.evaluation.stock`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar, Protocol

import gymnasium as gym
import numpy as np
from transforms3d.axangles import axangle2mat
from transforms3d.quaternions import quat2mat

from physworld_core.policy.baseline import NUM_PHASES, BaselineConfig, Phase
from physworld_core.policy.hand import TASK_ACTION_NAMES, arm_action, hand_yaw, wrap_angle
from physworld_core.policy.plan import TaskPlan


class TaskWorld(Protocol):
    """A world a policy can be executed and scored in besides the twin (a benchmark world, a stock ManiSkill
    env): what the evaluation layer hands to training and trials, so the policy layer never imports it."""

    source: str
    """The task source it stands for (``benchmark:bin:3``), naming it in checkpoint keys."""

    def make_task_world(self, target_start_xyz=None, camera=None, render_mode: str | None = None) -> gym.Env:
        """A fresh env of the world (picklable as a bound method, for spawned vector-env workers)."""
        ...


def task_world(env: gym.Env):
    """The object that answers ``tcp_position()``, ``target_pose_world()``... for ``env``."""
    return getattr(env, "task_world", None) or env.unwrapped


@dataclass(frozen=True)
class ObservationNoise:
    """Args:
    bias_m: std of a per-episode offset of the observed object position (pose-estimation error).
    step_m: std of per-step jitter on top of it.
    turn_bias_deg: std (per axis) of a per-episode error in the object's observed turn since the episode began,
        which only a skill that tips what it holds reads.
    """

    bias_m: float = 0.004
    step_m: float = 0.0015
    turn_bias_deg: float = 2.0

    def __post_init__(self) -> None:
        if self.bias_m < 0 or self.step_m < 0 or self.turn_bias_deg < 0:
            raise ValueError(f"noise std must be >= 0, got {self}")


@dataclass(frozen=True)
class RewardConfig:
    reach_weight: float = 0.5
    track_weight: float = 1.0
    success_bonus: float = 10.0
    distance_scale: float = 10.0


ACTION_DIM = len(TASK_ACTION_NAMES)
OBS_DIM = 3 + 1 + 2 + 3 + 3 + 3 + 3 + NUM_PHASES + 2 + ACTION_DIM


class ObjectCentricTaskEnv(gym.Env):
    """Wraps one ManiSkill TabletopEnv built by ``env_factory`` (called in the worker, so only the factory is
    pickled for ``spawn``). The env's ``evaluate()`` must report ``success`` and ``grasped``."""

    metadata: ClassVar[dict] = {"render_modes": []}

    def __init__(
        self,
        env_factory: Callable[[], gym.Env],
        plan: TaskPlan,
        noise: ObservationNoise = ObservationNoise(),
        max_steps: int = 150,
        baseline_config: BaselineConfig = BaselineConfig(),
        reward: RewardConfig = RewardConfig(),
    ):
        self.env = env_factory()
        self.plan = plan
        self.noise = noise
        # A skill that takes longer than a pick-and-place gets its own steps on top (its extra_steps).
        self.max_steps = max_steps + plan.hooks.extra_steps
        self.reward_config = reward
        self.controller = plan.hooks.controller(plan, baseline_config)
        self.world = task_world(self.env)
        self.observation_space = gym.spaces.Box(-np.inf, np.inf, (OBS_DIM,), np.float32)
        self.action_space = gym.spaces.Box(-1.0, 1.0, (ACTION_DIM,), np.float32)
        self._rest_yaw = 0.0
        self._rng = np.random.default_rng(0)
        self._turn_rng = np.random.default_rng((0, 1))

    # --- observation -----------------------------------------------------------------------------------
    def _observe(self) -> tuple[np.ndarray, np.ndarray]:
        u = self.world
        tcp = u.tcp_position()
        pose = u.target_pose_world()
        true_obj = pose[:3]
        observed = true_obj + self._bias + self._rng.normal(0.0, self.noise.step_m, 3)
        turn = self.hand_turn()
        # The object's turn since the episode began, not its frame's attitude: a world and its twin frame the
        # same object differently, and a plan from the twin must run in both.
        turned = self._turn_bias @ quat2mat(pose[3:]) @ self._start_rotation.T
        self._base_action = self.controller.act(
            tcp, observed, turn, tcp_rotation=u.tcp_rotation(), object_rotation=turned
        )
        phase = np.zeros(NUM_PHASES, np.float32)
        phase[int(self.controller.phase)] = 1.0
        obs = np.concatenate(
            [
                tcp,
                [u.gripper_opening()],
                [turn, wrap_angle(self.controller.target_turn - turn)],
                observed,
                observed - tcp,
                self.controller.current_waypoint() - observed,
                np.asarray(self.plan.goal_center) - observed,
                phase,
                [self.controller.progress, self._steps / self.max_steps],
                self._base_action,
            ]
        ).astype(np.float32)
        return obs, true_obj

    def reset(self, *, seed: int | None = None, options: dict | None = None):
        super().reset(seed=seed)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self.env.reset(seed=int(self._rng.integers(2**31)))
        self._rest_yaw = hand_yaw(self.world.tcp_rotation())  # every episode starts at the rest pose
        self.controller.reset()
        self._bias = self._rng.normal(0.0, self.noise.bias_m, 3)
        self._steps = 0
        self._start_rotation = quat2mat(self.world.target_pose_world()[3:])
        # Its own stream, so the position noise every other skill sees is drawn as it always was.
        if seed is not None:
            self._turn_rng = np.random.default_rng((seed, 1))
        bias = self._turn_rng.normal(0.0, np.radians(self.noise.turn_bias_deg), 3)
        angle = float(np.linalg.norm(bias))
        self._turn_bias = axangle2mat(bias / angle, angle) if angle > 0 else np.eye(3)
        obs, true_obj = self._observe()
        self._start = true_obj
        return obs, {"base_action": self._base_action.copy(), "success": False, "grasped": False}

    def step(self, action: np.ndarray):
        # ManiSkill's step already ran evaluate() for its info dict; reuse it (is_grasping is the costly part).
        arm = arm_action(
            np.asarray(action, dtype=np.float32), self.world.tcp_rotation(), self.controller.hand_rotation
        )
        _, _, _, _, evaluation = self.env.step(arm)
        self._steps += 1
        u = self.world
        success = bool(evaluation["success"][0])
        obs, true_obj = self._observe()
        reward = self._reward(true_obj, u.tcp_position(), bool(evaluation["grasped"][0]), success)
        moved = float(np.linalg.norm(true_obj[:2] - self._start[:2]))
        terminated = success and self.controller.phase == Phase.RETREAT
        truncated = self._steps >= self.max_steps
        info = {
            "base_action": self._base_action.copy(),
            "success": success,
            "grasped": bool(evaluation["grasped"][0]),
            "object_position": true_obj,
            "moved": moved,
            "phase": int(self.controller.phase),
        }
        return obs, reward, terminated, truncated, info

    def hand_turn(self) -> float:
        """The hand's turn about the vertical since the episode began (rad)."""
        return wrap_angle(hand_yaw(self.world.tcp_rotation()) - self._rest_yaw)

    def _reward(self, obj: np.ndarray, tcp: np.ndarray, grasped: bool, success: bool) -> float:
        c = self.reward_config
        reach = 1.0 - np.tanh(c.distance_scale * np.linalg.norm(tcp - self.controller.reach_point(obj)))
        track = 1.0 - np.tanh(c.distance_scale * np.linalg.norm(obj - self.controller.current_waypoint()))
        r = c.reach_weight * reach + (
            c.track_weight * (1.0 + track) if self.controller.engaged(grasped) else 0.0
        )
        return float(r + (c.success_bonus if success else 0.0))

    def close(self):
        self.env.close()


def run_episode(
    env: ObjectCentricTaskEnv,
    act: Callable[[np.ndarray, np.ndarray], np.ndarray],
    seed: int,
    observer: Callable[[gym.Env, np.ndarray], None] | None = None,
) -> dict:
    """Roll one episode with ``act(obs, base_action) -> action``; report success, steps and final distance.

    ``observer(world_env, action)``, if given, sees the simulator just before each action is applied (a
    rollout recorder pairs every observed frame with the action taken from it, as LeRobot does)."""
    obs, info = env.reset(seed=seed)
    success, steps, ever_grasped, moved = False, 0, False, 0.0
    for steps in range(1, env.max_steps + 1):
        action = act(obs, info["base_action"])
        if observer is not None:
            observer(env.env, action)
        obs, _, terminated, truncated, info = env.step(action)
        success = info["success"]
        ever_grasped |= info["grasped"]
        moved = max(moved, info["moved"])
        if terminated or truncated:
            break
    final = np.linalg.norm(info["object_position"][:2] - np.asarray(env.plan.goal_center)[:2])
    return {
        "success": bool(success),
        "steps": steps,
        "final_distance": float(final),
        "ever_grasped": bool(ever_grasped),
        "moved_m": float(moved),
        "final_phase": int(info["phase"]),
    }
