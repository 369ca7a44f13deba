"""The push baseline: a closed gripper drives the object along the planned path on the table.

Non-prehensile tasks (an object too wide to grasp, or a prompt that says "push") get this instead of the
grasp-carry-release state machine. Like that one it reads only observed quantities (TCP, observed object
position) and the plan from the twin, and it is the ``planner_only`` method on its own and the base action
under residual PPO. The phases reuse :class:`~physworld_core.policy.baseline.Phase` so the policy's observation
is the same for both skills: APPROACH (lift and fly round behind the object), DESCEND (lower to pushing
height), CARRY (push), RETREAT (done: lift away).

The object's orientation is not observed, so the pusher parks behind the object's *footprint radius*: for a
box that leaves a small gap behind a flat face, which the push closes at its start.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from transforms3d.quaternions import quat2mat

from physworld_core.policy.baseline import BaselineConfig, Phase
from physworld_core.policy.hand import MOVE_LIMIT_M, saturated_move, saturated_turn
from physworld_core.policy.plan import TaskPlan, resample_path
from physworld_core.policy.skill import SkillPolicy
from physworld_core.skills.registry import skill_of

CONTACT_MOVE_M = 0.01
"""A push that never moved the object this far never made contact: the push counterpart of a missed grasp."""
PRE_CONTACT_M = 0.02
"""The pusher comes down this far behind its contact point, so it meets the object moving forward."""
AT_PRE_CONTACT_M = 0.015
"""…and counts as there (behind the object, seen from above) within this."""
SAFE_HEIGHT_MARGIN_M = 0.01
"""Flying round, the pusher rises straight up until within this of its safe height."""
SAFE_HEIGHT_ABOVE_M = 0.04
"""The safe height clears twice the object's height by this much."""
DOWN_AT_M = 0.006
"""The descent ends this far above the pushing height."""
LIFTED_OFF_M = 0.02
"""A pusher this far above the pushing height while pushing has lost the object: it goes round again."""
BEHIND_FRACTION = 0.5
"""…as has one no longer this share of the object's standoff behind its centre."""
MIN_ADVANCE_M = 0.002
"""The push always advances at least this far per step, however near the waypoint."""
MIN_SPEED_FRACTION = 0.1
"""Re-centring slows the forward push to no less than this share of its speed."""
MAX_SIDEWAYS_M = 0.01
"""Largest sideways correction per step while pushing."""
PUSH_STEP_M = 0.02
"""Largest Cartesian move per step while pushing (slower than moving freely)."""
RETREAT_ABOVE_M = 0.05
"""Done, the pusher rises this far above its safe height."""


@dataclass(frozen=True)
class PushPlan:
    """What a push plan carries: ``standoff``, how far the object reaches from its centre on the table (its
    footprint radius): the pusher is parked this far behind the centre, plus the fingertips' clearance."""

    standoff: float

    def __post_init__(self) -> None:
        if not self.standoff > 0:
            raise ValueError("a push plan needs a positive push_standoff (the object's footprint radius)")


@dataclass(frozen=True)
class PushConfig:
    """Args:
    push_height: TCP height above the table while pushing (fingertips a few mm above it).
    clearance: gap between the object's footprint and the fingertips' centre when parked behind it.
    lookahead: the pushed-towards waypoint is the first one at least this far ahead of the object.
    speed: commanded advance per control step while pushing (m).
    realign: lateral offset from the push line (m) at which the pusher lifts and goes round again.
    slow_at: lateral offset at which the forward push has slowed to a crawl while it re-centres.
    goal_tolerance: the push ends when the object's centre is this close to the last waypoint (m).
    max_step_m: largest Cartesian move per control step while moving freely.
    max_turn_rad: largest turn per step while the hand returns to its rest orientation.
    phase_timeout: steps after which approach or descent gives up waiting and moves on.
    """

    push_height: float = 0.014
    clearance: float = 0.013
    lookahead: float = 0.04
    speed: float = 0.015
    realign: float = 0.025
    slow_at: float = 0.02
    goal_tolerance: float = 0.008
    max_step_m: float = 0.03
    gain: float = 0.8
    phase_timeout: int = 60
    controller_limit_m: float = MOVE_LIMIT_M
    max_turn_rad: float = 0.08

    def __post_init__(self) -> None:
        if not (0 < self.max_step_m <= self.controller_limit_m):
            raise ValueError(f"max_step_m must be in (0, {self.controller_limit_m}], got {self.max_step_m}")
        for name in (
            "push_height",
            "clearance",
            "lookahead",
            "speed",
            "realign",
            "slow_at",
            "goal_tolerance",
        ):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")


class PushController:
    """Stateful; call :meth:`reset` at each episode start, then :meth:`act` every step."""

    def __init__(self, plan: TaskPlan, config: PushConfig = PushConfig()):
        if plan.skill != skill_of(__name__):
            raise ValueError(f"PushController needs a push plan, got skill {plan.skill!r}")
        self.plan = plan
        self.config = config
        self.waypoints = plan.waypoints_array
        self.table_z = float(plan.goal_center[2])
        rest_height = float(self.waypoints[0, 2] - self.table_z)  # the object's centre above the table
        self.push_z = self.table_z + config.push_height
        self.safe_z = self.table_z + 2.0 * max(rest_height, 0.0) + SAFE_HEIGHT_ABOVE_M
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.APPROACH
        self.phase_steps = 0
        self.waypoint_index = 0
        self._contact = None

    @property
    def progress(self) -> float:
        return self.waypoint_index / max(len(self.waypoints) - 1, 1)

    def current_waypoint(self) -> np.ndarray:
        return self.waypoints[min(self.waypoint_index, len(self.waypoints) - 1)]

    def reach_point(self, object_position: np.ndarray) -> np.ndarray:
        """Where the TCP should be to push: behind the object on the line to the current waypoint."""
        d = self._direction(object_position)
        behind = self.plan.payload.standoff + self.config.clearance
        return np.array([*(object_position[:2] - d * behind), self.push_z])

    def engaged(self, grasped: bool) -> bool:
        """Whether the object is being moved by the hand: pushing, for this skill."""
        return self.phase == Phase.CARRY

    def _direction(self, object_position: np.ndarray) -> np.ndarray:
        e = self.current_waypoint()[:2] - object_position[:2]
        if np.linalg.norm(e) < 1e-3:
            e = self.waypoints[-1, :2] - object_position[:2]
        norm = np.linalg.norm(e)
        return e / norm if norm > 1e-6 else np.array([1.0, 0.0])

    def _advance(self, phase: Phase) -> None:
        self.phase, self.phase_steps = phase, 0

    @property
    def target_turn(self) -> float:
        """The hand keeps its rest orientation: a push needs no turn of the hand."""
        return self.plan.grasp_turn

    hand_rotation = None
    """The pusher keeps pointing down (see :func:`~physworld_core.policy.hand.arm_action`)."""

    def act(
        self, tcp: np.ndarray, object_position: np.ndarray, hand_turn: float = 0.0, **_rotations
    ) -> np.ndarray:
        """Normalised action [dx, dy, dz, dyaw, gripper]; the gripper stays closed (the fingers are the
        pusher)."""
        c = self.config
        self.phase_steps += 1
        obj = np.asarray(object_position, dtype=np.float64)
        last = len(self.waypoints) - 1
        while (
            self.waypoint_index < last
            and np.linalg.norm(self.waypoints[self.waypoint_index, :2] - obj[:2]) < c.lookahead
        ):
            self.waypoint_index += 1
        to_goal = float(np.linalg.norm(self.waypoints[-1, :2] - obj[:2]))
        if self.phase != Phase.RETREAT and to_goal < c.goal_tolerance:
            self._advance(Phase.RETREAT)
        d = self._direction(obj)
        normal = np.array([-d[1], d[0]])
        contact = self.reach_point(obj)[:2]
        pre = contact - d * PRE_CONTACT_M
        rel = tcp[:2] - obj[:2]
        lateral, along = float(normal @ rel), float(rel @ d)
        max_step = c.max_step_m
        if self.phase == Phase.CARRY and (
            abs(lateral) > c.realign
            or along > -BEHIND_FRACTION * self.plan.payload.standoff
            or tcp[2] > self.push_z + LIFTED_OFF_M
        ):
            self._advance(Phase.APPROACH)  # fell off the line: go round again
        if self.phase == Phase.APPROACH:
            far = np.linalg.norm(tcp[:2] - pre) > AT_PRE_CONTACT_M
            if tcp[2] < self.safe_z - SAFE_HEIGHT_MARGIN_M and far and self.phase_steps < c.phase_timeout:
                target = np.array([tcp[0], tcp[1], self.safe_z])  # straight up, clear of the object
            elif far and self.phase_steps < c.phase_timeout:
                target = np.array([pre[0], pre[1], max(self.safe_z, tcp[2])])  # fly over at a safe height
            else:
                self._advance(Phase.DESCEND)
        if self.phase == Phase.DESCEND:
            target = np.array([pre[0], pre[1], self.push_z])
            if tcp[2] < self.push_z + DOWN_AT_M or self.phase_steps > c.phase_timeout:
                self._advance(Phase.CARRY)
        if self.phase == Phase.CARRY:
            # Forward (no further than the object still has to go, plus any gap to close) and sideways back
            # onto the line through the object's centre, which re-centres the push.
            gap = max(0.0, -(along + self.plan.payload.standoff + c.clearance))
            remaining = float(np.linalg.norm(self.current_waypoint()[:2] - obj[:2]))
            forward = min(c.speed, max(remaining, MIN_ADVANCE_M) + gap) * float(
                np.clip(1 - abs(lateral) / c.slow_at, MIN_SPEED_FRACTION, 1)
            )
            sideways = float(np.clip(-lateral, -MAX_SIDEWAYS_M, MAX_SIDEWAYS_M))
            target = np.array([*(tcp[:2] + d * forward + normal * sideways), self.push_z])
            max_step = PUSH_STEP_M
        if self.phase == Phase.RETREAT:
            target = np.array([tcp[0], tcp[1], self.safe_z + RETREAT_ABOVE_M])
        move = np.clip(saturated_move(tcp, target, c.gain, max_step, c.controller_limit_m), -1, 1)
        turn = saturated_turn(hand_turn, self.target_turn, c.gain, c.max_turn_rad)
        return np.array([*move, np.clip(turn, -1, 1), -1.0], dtype=np.float32)


def plan_push(
    path: np.ndarray,
    position: np.ndarray,
    verts_world: np.ndarray,
    goal: np.ndarray,
    spacing: float,
    physical: bool,
) -> TaskPlan:
    """A push keeps the object on the table: the tracked path, flattened to the object's resting height.

    The physical plan ends on the goal's centre (the twin's region, which the object must lie in); the
    ``visual_imitation`` plan ends where the video left the object."""
    path = path.copy()
    path[:, 2] = position[2]
    if physical:
        path = np.vstack([path, [goal[0], goal[1], position[2]]])
    waypoints = resample_path(path, spacing)
    radius = float(np.linalg.norm(verts_world[:, :2] - position[:2], axis=1).max())
    return TaskPlan(
        grasp_offset=(0.0, 0.0, 0.0),
        grasp_width=0.0,
        waypoints=tuple(tuple(map(float, w)) for w in waypoints),
        release_position=tuple(map(float, waypoints[-1])),
        goal_center=tuple(map(float, goal)),
        skill=HOOKS.name,
        payload=PushPlan(radius),
    )


class PushPolicy(SkillPolicy):
    name = skill_of(__name__)
    payload_type = PushPlan

    def plan(self, spec, vertices, faces, closing_axis, grasp_config, spacing, physical, parts) -> TaskPlan:
        target = spec.target
        centre_local = 0.5 * (vertices.min(0) + vertices.max(0))
        poses = np.asarray(spec.trajectory_poses, dtype=np.float64)
        rest_R = quat2mat(target.pose[3:])
        position = rest_R @ centre_local + np.asarray(target.pose[:3])
        verts_world = vertices @ rest_R.T + np.asarray(target.pose[:3])
        path = np.array([quat2mat(p[3:]) @ centre_local + p[:3] for p in poses])
        path = path - path[0] + position  # the trajectory starts where the twin's object rests
        goal = np.asarray(spec.goal.center, float)
        return plan_push(path, position, verts_world, goal, spacing, physical)

    def controller(self, plan: TaskPlan, config: BaselineConfig) -> PushController:
        return PushController(plan)

    def held(self, result: dict) -> bool:
        """A push holds nothing: it took hold of the object if it moved it (:data:`CONTACT_MOVE_M`)."""
        return result["moved_m"] >= CONTACT_MOVE_M

    def payload_to_dict(self, payload: PushPlan) -> dict:
        return {"push_standoff": payload.standoff}

    def payload_from_dict(self, d: dict) -> PushPlan | None:
        return None if not d.get("push_standoff") else PushPlan(d["push_standoff"])


HOOKS = PushPolicy()
