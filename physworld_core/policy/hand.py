"""The hand's task actions and how they reach the arm.

Every controller and policy speaks one normalised task action, ``[dx, dy, dz, dyaw, gripper]``: a Cartesian
move of the TCP (±1 ↔ ±0.1 m), a turn of the hand about the vertical (±1 ↔ ±0.1 rad) and the gripper (+1 open,
-1 closed). The hand always points down, so those five numbers are all a top-down parallel gripper needs; the
arm runs ManiSkill's ``pd_ee_delta_pose`` and :func:`arm_action` fills its roll and pitch with the correction
that keeps the hand level (the hand would otherwise drift under the load it carries).
"""

from __future__ import annotations

import numpy as np
from transforms3d.axangles import mat2axangle

TASK_ACTION_NAMES = ("delta_x", "delta_y", "delta_z", "delta_yaw", "gripper")
MOVE_LIMIT_M = 0.1
"""``pd_ee_delta_pose``'s translation range per step (m): ±1 in the task action."""
TURN_LIMIT_RAD = 0.1
"""``pd_ee_delta_pose``'s rotation range per step (rad): ±1 in the task action."""
LEVEL_GAIN = 1.0
"""Fraction of the hand's tilt from pointing straight down corrected per control step."""


def wrap_angle(angle: float) -> float:
    """``angle`` in [-pi, pi)."""
    return float((angle + np.pi) % (2 * np.pi) - np.pi)


def rotate_z(vector: np.ndarray, angle: float) -> np.ndarray:
    """``vector`` (x, y[, z]) turned by ``angle`` about the vertical."""
    c, s = np.cos(angle), np.sin(angle)
    v = np.asarray(vector, dtype=np.float64)
    return np.array([c * v[0] - s * v[1], s * v[0] + c * v[1], *v[2:]])


def saturated_move(
    tcp: np.ndarray, target: np.ndarray, gain: float, max_step: float, limit: float = MOVE_LIMIT_M
) -> np.ndarray:
    """Normalised move towards ``target``: ``gain`` × error, capped at ``max_step`` metres, divided by the
    controller's ±``limit`` range (every baseline moves the TCP this way)."""
    delta = gain * (np.asarray(target) - np.asarray(tcp))
    norm = np.linalg.norm(delta)
    if norm > max_step:
        delta *= max_step / norm
    return delta / limit


def saturated_turn(
    current: float, target: float, gain: float, max_step: float, limit: float = TURN_LIMIT_RAD
) -> float:
    """Normalised yaw command turning the hand from ``current`` towards ``target`` (rad), like
    :func:`saturated_move`."""
    return float(np.clip(gain * wrap_angle(target - current), -max_step, max_step)) / limit


def hand_yaw(tcp_rotation: np.ndarray) -> float:
    """Direction of the fingers' closing axis (the TCP frame's y) in the table plane (rad)."""
    return float(np.arctan2(tcp_rotation[1, 1], tcp_rotation[0, 1]))


def arm_action(
    task_action: np.ndarray, tcp_rotation: np.ndarray, hand_rotation: np.ndarray | None = None
) -> np.ndarray:
    """Task action (5) → ``pd_ee_delta_pose`` action (7). Roll and pitch turn the hand's approach axis (the TCP
    frame's z) back towards straight down. For a skill that tips what it holds (standing a bottle up), the
    controller gives the whole ``hand_rotation`` it wants instead: the rotation to it is commanded about all
    three axes (capped as a whole, so the turn keeps its axis), and the task action's turn is added about the
    vertical. A tipped hand needs the third axis held: turned about its horizontal approach axis, it tilts what
    it holds sideways, and nothing else would stop the arm drifting that way. The controller applies rotations
    about the base's axes."""
    a = np.asarray(task_action, dtype=np.float64)
    if a.shape != (5,):
        raise ValueError(f"a task action is [dx, dy, dz, dyaw, gripper], got shape {a.shape}")
    R = np.asarray(tcp_rotation, dtype=np.float64)
    if hand_rotation is None:
        tilt = np.cross(R[:, 2], [0.0, 0.0, -1.0])  # small-angle rotation vector back to level
        turn = np.array([*np.clip(LEVEL_GAIN * tilt[:2] / TURN_LIMIT_RAD, -1.0, 1.0), a[3]])
    else:
        axis, angle = mat2axangle(np.asarray(hand_rotation, dtype=np.float64) @ R.T)
        turn = axis * angle / TURN_LIMIT_RAD
        turn /= max(1.0, float(np.linalg.norm(turn)))
        turn[2] = np.clip(turn[2] + a[3], -1.0, 1.0)
    # Measured on the Panda in ManiSkill 3: a positive rotation command turns the hand the negative way about
    # each base axis (tests/policy/test_hand.py pins this), so every rotation is sent negated.
    return np.array([a[0], a[1], a[2], -turn[0], -turn[1], -turn[2], a[4]], dtype=np.float32)
