"""The scripted baseline: reach the sampled grasp, close, carry the object along the planned path, release.

A small state machine over observed quantities (TCP, hand turn, gripper opening, observed object position). It
is the ``planner_only`` method on its own and the base action under the residual PPO policy. Cartesian targets
and turns of the hand about the vertical are turned into normalised task actions ``[dx, dy, dz, dyaw,
gripper]`` by saturated proportional laws (see :mod:`physworld_core.policy.task_env` for how they reach the
arm's ``pd_ee_delta_pose`` controller).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np

from physworld_core.policy.hand import (
    MOVE_LIMIT_M,
    TURN_LIMIT_RAD,
    rotate_z,
    saturated_move,
    saturated_turn,
    wrap_angle,
)
from physworld_core.policy.plan import TaskPlan


class Phase(IntEnum):
    APPROACH = 0
    DESCEND = 1
    CLOSE = 2
    CARRY = 3
    RELEASE = 4
    RETREAT = 5


NUM_PHASES = len(Phase)


@dataclass(frozen=True)
class BaselineConfig:
    """Args:
    max_step_m: largest Cartesian move per control step (the controller's ±0.1 m maps to ±1).
    gain: proportional gain from position error to commanded move.
    reach_tol, descend_tol: position tolerances that end the approach and descent (m).
    close_steps, release_steps: steps spent closing / opening the gripper.
    waypoint_tol: TCP distance to the current carry target that advances to the next waypoint (m).
    precise_tol: the same across, from the plan's ``precise_from`` waypoint on (over a slot and down into it).
    phase_timeout: steps after which a phase gives up waiting and moves on.
    stall_steps, stall_m, blocked_release_after: past this fraction of the path, a hand that moved less than
        ``stall_m`` over ``stall_steps`` steps is blocked (the path ends inside a surface): it lets go there.
    backup_rise_m: a descent into a slot blocked on a neighbour backs up to the nearest waypoint at least this
        far above where the object is stuck (the one just above the blocked target may still be below it).
    max_turn_rad: largest turn of the hand about the vertical per control step (the controller's ±0.1 rad
        maps to ±1).
    turn_tol: turn error (rad) under which the hand counts as aligned: before descending onto the grasp
        and before releasing.
    turn_done_at: fraction of the carry path by which the object's planned turn is complete, so it is
        aligned before it is lowered into place.
    """

    max_step_m: float = 0.025
    gain: float = 0.8
    reach_tol: float = 0.012
    descend_tol: float = 0.006
    close_steps: int = 6
    release_steps: int = 6
    waypoint_tol: float = 0.02
    precise_tol: float = 0.004
    phase_timeout: int = 60
    stall_steps: int = 10
    stall_m: float = 0.002
    blocked_release_after: float = 0.8
    backup_rise_m: float = 0.01
    controller_limit_m: float = MOVE_LIMIT_M
    max_turn_rad: float = 0.08
    turn_tol: float = 0.06
    turn_done_at: float = 0.6

    def __post_init__(self) -> None:
        if not (0 < self.max_turn_rad <= TURN_LIMIT_RAD):
            raise ValueError(f"max_turn_rad must be in (0, {TURN_LIMIT_RAD}], got {self.max_turn_rad}")
        if not (0 < self.turn_done_at <= 1):
            raise ValueError(f"turn_done_at must be in (0, 1], got {self.turn_done_at}")
        if not (0 < self.max_step_m <= self.controller_limit_m):
            raise ValueError(f"max_step_m must be in (0, {self.controller_limit_m}], got {self.max_step_m}")
        if self.gain <= 0:
            raise ValueError(f"gain must be positive, got {self.gain}")


class BaselineController:
    """Stateful; call :meth:`reset` at each episode start, then :meth:`act` every step."""

    def __init__(self, plan: TaskPlan, config: BaselineConfig = BaselineConfig()):
        self.plan = plan
        self.config = config
        self.waypoints = plan.waypoints_array
        self.reset()

    def reset(self) -> None:
        self.phase = Phase.APPROACH
        self.phase_steps = 0
        self.waypoint_index = 0
        self.carry_offset = np.asarray(self.plan.grasp_offset, float)
        self.grasp_anchor: np.ndarray | None = None
        self.turn_at_grasp = self.plan.grasp_turn
        self.target_turn = self.plan.grasp_turn
        self._last_tcp: list[np.ndarray] = []  # TCP positions over the end of the path
        self.searches = 0  # how many of the plan's search offsets have been tried
        self.search_offset = np.zeros(3)
        self.grasp_shift = np.zeros(3)  # where a skill that feels for its grasp has moved it to
        self.hold_target: np.ndarray | None = None  # where a skill that never lets go holds

    @property
    def progress(self) -> float:
        return self.waypoint_index / max(len(self.waypoints) - 1, 1)

    def current_waypoint(self) -> np.ndarray:
        return self.waypoints[min(self.waypoint_index, len(self.waypoints) - 1)]

    def reach_point(self, object_position: np.ndarray) -> np.ndarray:
        """Where the TCP should be to take hold of the object: the sampled grasp."""
        return np.asarray(object_position) + np.asarray(self.plan.grasp_offset)

    def engaged(self, grasped: bool) -> bool:
        """Whether the object is being moved by the hand: held, for this skill."""
        return grasped

    def _advance(self, phase: Phase) -> None:
        self.phase, self.phase_steps = phase, 0

    def _precise(self) -> bool:
        return self.plan.precise_from is not None and self.waypoint_index >= self.plan.precise_from

    def _reached(self, tcp: np.ndarray, target: np.ndarray) -> bool:
        """Whether the hand is at a carry waypoint. Precise ones are about where the object is across (within
        ``precise_tol``); along the vertical, on the way down into a slot, being near is enough."""
        error = tcp - target
        if not self._precise():
            return bool(np.linalg.norm(error) < self.config.waypoint_tol)
        return bool(
            np.linalg.norm(error[:2]) < self.config.precise_tol and abs(error[2]) < self.config.waypoint_tol
        )

    def _stalled(self, target: np.ndarray) -> bool:
        """The hand moved less than ``stall_m`` over the last ``stall_steps`` steps. On the precise way down into
        a slot, with its target below it: got less than that *lower*. An object resting on a neighbour's edge
        lets the hand creep sideways while it gets no lower, which the whole-motion test took 24 steps to call
        blocked; a hand aligning over the slot at its target's height is judged by its whole motion."""
        c = self.config
        moved = self._last_tcp[-1] - self._last_tcp[-1 - c.stall_steps]
        if self._precise() and target[2] < self._last_tcp[-1][2] - c.waypoint_tol:
            return bool(-moved[2] < c.stall_m)
        return bool(np.linalg.norm(moved) < c.stall_m)

    def _carry_turn_target(self) -> float:
        done = min(1.0, self.progress / self.config.turn_done_at)
        return self.plan.grasp_turn + done * self.plan.carry_turn

    releases = True
    """Whether the hand lets go when the carry ends (at the last waypoint, blocked, or out of time). A skill
    whose goal is met held (``False``) switches to RETREAT there instead and stays, fingers closed, aiming at
    the last carry target."""

    hand_rotation: np.ndarray | None = None
    """The whole rotation the hand should have (see :func:`~physworld_core.policy.hand.arm_action`); ``None``:
    pointing down at the commanded turn, for a skill that never tips what it holds."""

    def act(
        self,
        tcp: np.ndarray,
        object_position: np.ndarray,
        hand_turn: float = 0.0,
        *,
        tcp_rotation: np.ndarray | None = None,
        object_rotation: np.ndarray | None = None,
    ) -> np.ndarray:
        """Normalised action [dx, dy, dz, dyaw, gripper] (gripper +1 open, -1 closed). ``hand_turn``: the hand's
        turn about the vertical from its rest orientation (rad). ``tcp_rotation`` (world rotation matrix) and
        ``object_rotation`` (how far the object has turned since the episode began, as observed: a rotation
        matrix in world axes) are used only by skills that tip what they hold."""
        c = self.config
        self.phase_steps += 1
        self.tcp_rotation, self.object_rotation = tcp_rotation, object_rotation
        turn_error = abs(wrap_angle(self.target_turn - hand_turn))
        target, gripper = self._take_hold(tcp, object_position, hand_turn, turn_error)
        if self.phase == Phase.CARRY:
            target, gripper = self._carry(tcp, object_position, hand_turn, turn_error)
            if self.phase == Phase.RELEASE and not self.releases:  # the carry is over: hold there
                self._advance(Phase.RETREAT)
                self.hold_target = target
        if self.phase == Phase.RELEASE:
            target, gripper = self.release_anchor, 1.0
            if self.phase_steps >= c.release_steps:
                self._advance(Phase.RETREAT)
        if self.phase == Phase.RETREAT:
            target, gripper = (self._retreat_target(), 1.0) if self.releases else (self.hold_target, -1.0)
        move = np.clip(saturated_move(tcp, target, c.gain, c.max_step_m, c.controller_limit_m), -1, 1)
        turn = saturated_turn(hand_turn, self.target_turn, c.gain, c.max_turn_rad)
        return np.array([*move, np.clip(turn, -1, 1), gripper], dtype=np.float32)

    def _retreat_target(self) -> np.ndarray:
        return self.release_anchor + np.array([0.0, 0.0, 0.1])

    def _take_hold(
        self, tcp: np.ndarray, object_position: np.ndarray, hand_turn: float, turn_error: float
    ) -> tuple[np.ndarray | None, float]:
        """Approach above the grasp, descend onto it, close: (TCP target, gripper) of those phases, and the
        switch to CARRY with the hand-to-object offset the grasp actually achieved."""
        c = self.config
        timed_out = self.phase_steps > c.phase_timeout
        grasp_point = object_position + np.asarray(self.plan.grasp_offset) + self.grasp_shift
        target, gripper = None, 1.0
        if self.phase == Phase.APPROACH:
            self.target_turn = self.plan.grasp_turn
            target = grasp_point + np.array([0.0, 0.0, self.plan.pregrasp_height])
            aligned = turn_error < c.turn_tol
            if (np.linalg.norm(tcp - target) < c.reach_tol and aligned) or timed_out:
                self._advance(Phase.DESCEND)
        elif self.phase == Phase.DESCEND:
            target = grasp_point
            if np.linalg.norm(tcp - target) < c.descend_tol or timed_out:
                self._advance(Phase.CLOSE)
                self.grasp_anchor = tcp.copy()
        if self.phase == Phase.CLOSE:
            target, gripper = self.grasp_anchor, -1.0
            if self.phase_steps >= c.close_steps:
                # Carry with the offset actually achieved, so the object (not the hand) follows the path.
                self.carry_offset = tcp - object_position
                self.turn_at_grasp = hand_turn
                self._advance(Phase.CARRY)
        return target, gripper

    def _carry(
        self, tcp: np.ndarray, object_position: np.ndarray, hand_turn: float, turn_error: float
    ) -> tuple[np.ndarray, float]:
        """Carry the held object along the plan's waypoints; switch to RELEASE at the end, or when blocked."""
        c = self.config
        # The held object turns with the hand, about the TCP: so does the hand-to-object offset. Where the
        # plan asks for precision (into a slot), the offset is the one seen now: a tall object held near
        # its top swings a few millimetres in the fingers, which is the slot's whole clearance.
        offset = rotate_z(self.carry_offset, wrap_angle(hand_turn - self.turn_at_grasp))
        if self._precise():
            offset = tcp - object_position + self.search_offset
        target = self.current_waypoint() + offset
        while self._reached(tcp, target) and self.waypoint_index < len(self.waypoints) - 1:
            self.waypoint_index += 1
            target = self.current_waypoint() + offset
        self.target_turn = self._carry_turn_target()
        last = self.waypoint_index == len(self.waypoints) - 1
        tol = min(c.reach_tol, self.plan.release_tol)
        settled = np.linalg.norm(tcp - target) < tol and turn_error < c.turn_tol
        if self.progress >= c.blocked_release_after:
            self._last_tcp.append(tcp.copy())
        # Near the end of the path but blocked (the path ends inside whatever the object now rests on): the
        # hand has stopped, so let go where it is rather than push until the episode ends.
        blocked = (
            len(self._last_tcp) > c.stall_steps
            and self._stalled(target)
            and turn_error < c.turn_tol  # a hand turning in place is not blocked
        )
        if blocked and self._precise() and tcp[2] - target[2] > c.waypoint_tol and self.waypoint_index > 0:
            # Stuck on the way down into a slot (on a neighbour's edge): letting go there drops the object
            # across the gap. Back up clear of it and come down again, re-aimed and shifted to the plan's
            # next search offset along the gap.
            clear = [
                i
                for i in range(self.plan.precise_from, self.waypoint_index)
                if self.waypoints[i][2] >= object_position[2] + c.backup_rise_m
            ]
            self.waypoint_index = max(clear) if clear else self.plan.precise_from
            if self.searches < len(self.plan.search_offsets):
                self.search_offset = np.array([*self.plan.search_offsets[self.searches], 0.0])
                self.searches += 1
            self._last_tcp.clear()
            blocked = False
        if (last and settled) or blocked or self.phase_steps > 4 * c.phase_timeout:
            self._advance(Phase.RELEASE)
            self.release_anchor = tcp.copy()
        return target, -1.0  # (a switch to RELEASE opens the hand in the same step)
