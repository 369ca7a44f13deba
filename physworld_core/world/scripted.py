"""Scripted oracles: closed-loop end-effector skills that read privileged state.

An oracle proves a family is solvable (the issue's ≥ 90 % over 20 seeds); it is never a pipeline input. A
:class:`Script` is a list of skills run in order; each skill looks at the live simulator every step (so a
target that moves is followed) and turns a Cartesian pose error into a normalised ``pd_ee_delta_pose`` action
(±0.1 m and ±0.1 rad per step map to ±1). Orientation targets are rotation matrices of the TCP frame, so
yaw-aligned grasps, tilting a cup and turning a bottle upright all use the same law.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial

import numpy as np
from transforms3d.axangles import mat2axangle
from transforms3d.euler import euler2mat
from transforms3d.quaternions import quat2mat

# One copy of the angle wrap, the policy layer's (world may import the core's lower layers); the families
# import it from here.
from physworld_core.policy.hand import wrap_angle  # noqa: F401

CONTROL_MODE = "pd_ee_delta_pose"
OPEN, CLOSED = 1.0, -1.0
_POS_LIMIT, _ROT_LIMIT = 0.1, 0.1  # the Panda controller's action bounds (m, rad)
WRIST_LIMIT = 2.8973  # Panda joint 7 range is +-2.8973 rad

Vec = np.ndarray | Sequence[float] | Callable[[], np.ndarray]


def down_rotation(yaw: float) -> np.ndarray:
    """TCP rotation with the fingers pointing down and the closing axis (TCP y) at ``yaw`` about world z."""
    return euler2mat(0.0, 0.0, yaw + np.pi / 2) @ euler2mat(np.pi, 0.0, 0.0)


def rz(angle: float) -> np.ndarray:
    """Rotation by ``angle`` about the world's vertical."""
    c, s = np.cos(angle), np.sin(angle)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def wrap_half_turn(angle: float) -> float:
    """An angle modulo π, in [-π/2, π/2): a parallel grasp (and a box-like object) is the same either way
    round."""
    return float((angle + np.pi / 2) % np.pi - np.pi / 2)


def grasp_yaw(long_axis_yaw: float) -> float:
    """Closing-axis yaw that squeezes an elongated object across its long axis."""
    return long_axis_yaw + np.pi / 2


def tcp_pose(env) -> tuple[np.ndarray, np.ndarray]:
    raw = env.agent.tcp.pose.raw_pose[0].cpu().numpy().astype(np.float64)
    return raw[:3], quat2mat(raw[3:])


def actor_pose(actor) -> tuple[np.ndarray, np.ndarray]:
    raw = actor.pose.raw_pose[0].cpu().numpy().astype(np.float64)
    return raw[:3], quat2mat(raw[3:])


def _value(v: Vec | None):
    return None if v is None else np.asarray(v() if callable(v) else v, dtype=np.float64)


def wrist_safe(env, R_des: np.ndarray, margin: float = 0.25) -> np.ndarray:
    """Of the two half-turn twins of a fingers-down TCP rotation, the one the wrist can reach: the nearer
    twin unless it would drive joint 7 past its limit (turning the TCP by +a about world z turns joint 7 by
    about -a, measured on ManiSkill 3.0.1's Panda). Use with ``Move(symmetric=False)``."""
    q7 = float(env.agent.robot.get_qpos()[0, 6])
    R_cur = tcp_pose(env)[1]

    def turn(R: np.ndarray) -> float:
        dR = R @ R_cur.T
        return float(np.arctan2(dR[1, 0], dR[0, 0]))

    twins = (R_des, R_des @ rz(np.pi))
    return min(twins, key=lambda R: (abs(q7 - turn(R)) > WRIST_LIMIT - margin, abs(turn(R))))


def square_to(env, actor, goal_yaw: float) -> Callable[[], np.ndarray]:
    """TCP rotation (a callable) that turns a held object, as it actually sits in the hand, until its frame's
    x axis lies along ``goal_yaw`` (either way round)."""

    def rotation() -> np.ndarray:
        R_obj = actor_pose(actor)[1]
        turn = wrap_half_turn(goal_yaw - np.arctan2(R_obj[1, 0], R_obj[0, 0]))
        return wrist_safe(env, rz(turn) @ tcp_pose(env)[1])

    return rotation


def carry_to(env, actor, goal) -> Callable[[], np.ndarray]:
    """TCP target (a callable, for ``Move(follow=True)``) that brings a held actor's origin to ``goal``: the
    offset between hand and object is measured every step, so slip in the fingers is corrected."""
    goal = np.asarray(goal, dtype=np.float64)
    return lambda: tcp_pose(env)[0] + goal - actor_pose(actor)[0]


def _equivalent_yaw_target(R_cur: np.ndarray, R_des: np.ndarray) -> np.ndarray:
    """A parallel gripper is symmetric under a half turn about its approach axis: pick the nearer twin."""
    flipped = R_des @ euler2mat(0.0, 0.0, np.pi)
    err = lambda R: abs(mat2axangle(R @ R_cur.T)[1])
    return flipped if err(flipped) < err(R_des) else R_des


@dataclass
class Move:
    """Drive the TCP to ``position`` (and ``rotation`` if given) holding the gripper at ``gripper``.

    Targets given as callables are read once when the skill starts (a lift is relative to where the object
    was, not a goal that rises with it) unless ``follow`` is set. Ends when within ``tol`` metres and
    ``rot_tol`` radians, when the TCP has stalled (blocked by contact) for ``stall_steps``, or after
    ``timeout`` steps."""

    position: Vec
    rotation: Vec | None = None
    gripper: float = OPEN
    tol: float = 0.008
    rot_tol: float = 0.05
    timeout: int = 120
    max_step: float = 0.04
    gain: float = 1.0
    symmetric: bool = True
    follow: bool = False
    stall_steps: int = 15

    def act(self, env, steps: int) -> tuple[np.ndarray, bool]:
        p, R = tcp_pose(env)
        if steps == 1 or self.follow:
            self._target = _value(self.position)
            self._R_des = _value(self.rotation)
            self._history: list[np.ndarray] = []
        self._history.append(p)
        target = self._target
        err = target - p
        dpos = err * self.gain
        n = np.linalg.norm(dpos)
        if n > self.max_step:
            dpos *= self.max_step / n
        drot = np.zeros(3)
        rot_err = 0.0
        R_des = self._R_des
        if R_des is not None:
            if self.symmetric:
                R_des = _equivalent_yaw_target(R, R_des)
            # Measured on ManiSkill 3.0.1's Panda: a commanded rotation r turns the TCP by exp(-r) about
            # world-aligned axes, so command the negated world-frame error.
            axis, angle = mat2axangle(R_des @ R.T)
            rot_err = abs(angle)
            drot = np.clip(-axis * angle * self.gain, -_ROT_LIMIT, _ROT_LIMIT)
        action = np.concatenate([dpos / _POS_LIMIT, drot / _ROT_LIMIT, [self.gripper]])
        stalled = (
            len(self._history) > self.stall_steps
            and np.linalg.norm(self._history[-1] - self._history[-1 - self.stall_steps]) < 0.002
            and rot_err < self.rot_tol
        )
        done = (np.linalg.norm(err) < self.tol and rot_err < self.rot_tol) or stalled or steps >= self.timeout
        return np.clip(action, -1, 1).astype(np.float32), done


@dataclass
class Grip:
    """Hold the TCP still and open or close the gripper for ``steps`` control steps."""

    gripper: float
    steps: int = 10

    def act(self, env, steps: int) -> tuple[np.ndarray, bool]:
        return np.array([0, 0, 0, 0, 0, 0, self.gripper], np.float32), steps >= self.steps


class Script:
    """Run skills in order; after the last one, hold still with the last gripper command."""

    def __init__(self, env, skills: Sequence[Move | Grip]):
        self.env = env
        self.skills = list(skills)
        self.index = 0
        self.steps = 0
        self.gripper = OPEN

    @property
    def finished(self) -> bool:
        return self.index >= len(self.skills)

    def __call__(self) -> np.ndarray:
        while not self.finished:
            skill = self.skills[self.index]
            self.steps += 1
            action, done = skill.act(self.env, self.steps)
            self.gripper = float(action[-1])
            if done:
                self.index += 1
                self.steps = 0
            return action
        return np.array([0, 0, 0, 0, 0, 0, self.gripper], np.float32)


def grasp_from_above(
    env, grasp: Callable[[], np.ndarray], rotation, *, approach: float, tol: float, symmetric: bool = True
) -> list[Move | Grip]:
    """The start of a top-down grasp: over the grasp point (no lower than ``approach`` above it, so the hand
    never sweeps through the object), down to ``approach`` above it, down onto it, close. ``grasp`` is the
    TCP position, read again by each move as it starts."""
    move = partial(Move, symmetric=symmetric)
    return [
        move(lambda: np.r_[grasp()[:2], max(tcp_pose(env)[0][2], grasp()[2] + approach)], rotation, tol=0.02),
        move(lambda: grasp() + [0, 0, approach], rotation, tol=0.01),
        move(grasp, rotation, tol=tol, max_step=0.02),
        Grip(CLOSED, 12),
    ]


def lift_to(env, z: float | Callable[[], float], rotation=None, *, gripper: float = CLOSED, **kwargs) -> Move:
    """Straight up (or down) to TCP height ``z`` over where the hand is, holding ``rotation``: a lift that
    clears everything on the table before a carry."""
    height = z if callable(z) else (lambda: z)
    return Move(lambda: np.r_[tcp_pose(env)[0][:2], height()], rotation, gripper=gripper, **kwargs)


def rise_by(env, dz: float, rotation=None, *, gripper: float = OPEN, **kwargs) -> Move:
    """``dz`` straight up from wherever the hand is when the move starts: the retreat after a release."""
    return Move(lambda: tcp_pose(env)[0] + [0, 0, dz], rotation, gripper=gripper, **kwargs)


def pick_and_place(
    env,
    grasp: Callable[[], np.ndarray],
    yaw: float,
    place: Callable[[], np.ndarray] | np.ndarray,
    *,
    lift: float = 0.12,
    approach: float = 0.08,
    place_rotation: np.ndarray | None = None,
) -> Script:
    """The classic top-down pick and place: over the grasp point, down, close, up, over the place point,
    down, open, up. ``grasp`` and ``place`` are TCP positions (read when their move starts)."""
    R = down_rotation(yaw)
    above = lambda v, dz: lambda: _value(v) + [0, 0, dz]
    place_R = R if place_rotation is None else place_rotation
    start_z = lambda: tcp_pose(env)[0][2]
    return Script(
        env,
        [
            Move(
                lambda: np.r_[tcp_pose(env)[0][:2], max(start_z(), _value(grasp)[2] + approach)], R, tol=0.02
            ),
            Move(above(grasp, approach), R, tol=0.01),
            Move(grasp, R, tol=0.005, max_step=0.02),
            Grip(CLOSED, 12),
            Move(lambda: _value(grasp) + [0, 0, lift], R, gripper=CLOSED, tol=0.02),
            Move(above(place, lift * 0.5), place_R, gripper=CLOSED, tol=0.01),
            Move(place, place_R, gripper=CLOSED, tol=0.006, max_step=0.02),
            Grip(OPEN, 12),
            Move(above(place, approach), place_R, tol=0.02),
        ],
    )


class PushTo:
    """Closed-loop pushing skill (reads the live object pose every step).

    The closed gripper is parked behind the object on the line from the goal through the object's centre,
    lowered to just above the table, and driven along that line; the push point is recomputed from the
    object's current footprint every step, so a sideways drift steers the pusher back onto the line. If the
    pusher falls off the line (the object turned or slid away), it lifts, flies round behind the object
    again and re-lowers. Ends once the object's centre is within ``tol`` of the goal.

    Args:
        speed: commanded pusher advance per control step (the arm realises ~40 % of it).
        realign: lateral offset (m) from the goal line at which the pusher goes round again.
        slow_at: lateral offset at which the forward push has slowed to a crawl while it re-centres.
        lateral_gain: fraction of the lateral offset corrected per step (capped at 1 cm).
    """

    def __init__(
        self,
        env,
        goal_xy,
        points_local: np.ndarray,
        height: float,
        *,
        tol: float = 0.008,
        speed: float = 0.015,
        realign: float = 0.025,
        slow_at: float = 0.02,
        lateral_gain: float = 1.0,
        timeout: int = 220,
    ):
        self.env, self.goal = env, np.asarray(goal_xy, dtype=np.float64)
        self.points_local = points_local
        self.push_z = 0.014  # fingertips ~4.5 mm above the table
        self.safe_z = height + 0.04
        self.tol, self.speed, self.timeout = tol, speed, timeout
        self.realign, self.slow_at, self.lateral_gain = realign, slow_at, lateral_gain
        self.phase = "lift"
        self._target = np.zeros(3)
        self._R = None
        self._servo = Move(lambda: self._target, lambda: self._R, gripper=CLOSED, follow=True)
        self._servo_steps = 0

    def _geometry(self):
        p, R = actor_pose(self.env.target_object)
        footprint = (self.points_local @ R.T)[:, :2]
        e = self.goal - p[:2]
        dist = float(np.linalg.norm(e))
        d = e / max(dist, 1e-9)
        behind = float((footprint @ -d).max())  # how far the object reaches back from its centre along -d
        return p[:2], d, dist, behind

    def act(self, env, steps: int):
        c, d, dist, behind = self._geometry()
        tcp, _ = tcp_pose(env)
        clear = 0.013  # half the fingertips' depth along the push (8.75 mm) plus a margin
        contact = c - d * (behind + clear)
        if self._R is None or self.phase == "lift":
            self._R = down_rotation(np.arctan2(d[1], d[0]) + np.pi / 2)  # fingers side by side across d
        rel = tcp[:2] - c
        lateral, along = float(d[0] * rel[1] - d[1] * rel[0]), float(rel @ d)
        pre = contact - d * 0.02
        if self.phase == "push" and (
            abs(lateral) > self.realign or along > -0.5 * behind or tcp[2] > self.push_z + 0.02
        ):
            self.phase = "lift"  # fell off the line: go round again
        if self.phase == "lift":
            if tcp[2] < self.safe_z - 0.01 and np.linalg.norm(tcp[:2] - pre) > 0.015:
                self._target = np.r_[tcp[:2], self.safe_z]  # straight up, clear of the object
            else:
                self.phase = "over"
        if self.phase == "over":
            if np.linalg.norm(tcp[:2] - pre) > 0.015:
                self._target = np.r_[pre, max(self.safe_z, tcp[2])]  # fly over at a safe height
            else:
                self._target = np.r_[pre, self.push_z]  # then lower behind the object
                if tcp[2] < self.push_z + 0.006:
                    self.phase = "push"
            self._servo.max_step = 0.03
        if self.phase == "push":
            # Forward at ``speed`` (no further than the object still has to go, plus any gap to close), and
            # sideways back onto the goal line through the object's centre, which re-centres the push.
            gap = max(0.0, -(along + behind + clear))
            forward = min(self.speed, max(dist, 0.002) + gap) * float(
                np.clip(1 - abs(lateral) / self.slow_at, 0.1, 1)
            )
            sideways = np.clip(-self.lateral_gain * lateral, -0.01, 0.01)
            normal = np.array([-d[1], d[0]])
            self._target = np.r_[tcp[:2] + d * forward + normal * sideways, self.push_z]
            self._servo.max_step = 0.02
        self._servo_steps += 1
        action, _ = self._servo.act(env, self._servo_steps)
        done = dist < self.tol or steps >= self.timeout
        return action, done
