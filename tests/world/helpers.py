"""Helpers for the world tests: put an object somewhere at rest, and let a world run with the robot still."""

from __future__ import annotations

import numpy as np
import torch
from mani_skill.utils.structs.pose import Pose
from transforms3d.euler import euler2quat


def put_at_rest(actor, xyz, roll: float = 0.0, pitch: float = 0.0, yaw: float = 0.0) -> None:
    """Pose ``actor`` at ``xyz`` turned by (static xyz) Euler angles, with zero velocities."""
    actor.set_pose(
        Pose.create_from_pq(
            torch.tensor([list(xyz)], dtype=torch.float32),
            torch.tensor(np.asarray([euler2quat(roll, pitch, yaw)]), dtype=torch.float32),
        )
    )
    actor.set_linear_velocity(torch.zeros((1, 3)))
    actor.set_angular_velocity(torch.zeros((1, 3)))


def settle(env, steps: int = 15, gripper: float = 0.0) -> dict:
    """Step ``env`` with the arm still (and ``gripper`` as the gripper command); the last step's info."""
    action = np.array([0, 0, 0, 0, 0, 0, gripper], np.float32)
    for _ in range(steps):
        _, _, _, _, info = env.step(action)
    return info
