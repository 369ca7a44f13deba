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

import numpy as np
from transforms3d.axangles import mat2axangle
from transforms3d.euler import euler2mat
from transforms3d.quaternions import quat2mat

CONTROL_MODE = "pd_ee_delta_pose"
OPEN, CLOSED = 1.0, -1.0
_POS_LIMIT, _ROT_LIMIT = 0.1, 0.1  # the Panda controller's action bounds (m, rad)

Vec = np.ndarray | Sequence[float] | Callable[[], np.ndarray]


def down_rotation(yaw: float) -> np.ndarray:
    """TCP rotation with the fingers pointing down and the closing axis (TCP y) at ``yaw`` about world z."""
    return euler2mat(0.0, 0.0, yaw + np.pi / 2) @ euler2mat(np.pi, 0.0, 0.0)


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
