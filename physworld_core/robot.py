"""The robot setup shared by every world and every twin: a Panda on a tabletop.

This is calibration a real lab has (where the robot stands in the camera's world frame), not hidden truth:
the camera extrinsics in a scene package are expressed in this frame, so a twin can place the same robot.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class RobotSetup:
    """Args:
    uid: ManiSkill agent uid.
    base_xyz: robot base position in the world frame (table surface at z=0).
    capture_qpos: joint configuration while the scene frame is captured: the arm is tucked back so the
        camera sees the workspace unoccluded (hand pointing down).
    ready_qpos: joint configuration at the start of an episode, hand pointing down above the table's
        near edge, so episodes spend their steps on the task rather than on leaving the tuck.
    control_mode: ManiSkill controller used by every policy: end-effector pose deltas + gripper; policies act
        in position, turn about the vertical and gripper, and the hand is kept level (see
        ``physworld_core.policy.hand``).
    gripper_max_width: finger opening in metres, for grasp filtering.
    workspace_min, workspace_max: world-frame box the robot can work in. Perception crops the point
        cloud to it, as real pipelines do, so the robot's own base and the floor are never "objects".
    """

    uid: str = "panda"
    base_xyz: tuple[float, float, float] = (-0.615, 0.0, 0.0)
    capture_qpos: tuple[float, ...] = (0.0, -1.0, 0.0, -2.9, 0.0, 1.9, 0.785, 0.04, 0.04)
    ready_qpos: tuple[float, ...] = (0.0, 0.2, 0.0, -2.2, 0.0, 2.4, 0.785, 0.04, 0.04)
    workspace_min: tuple[float, float, float] = (-0.32, -0.42, -0.05)
    workspace_max: tuple[float, float, float] = (0.40, 0.42, 0.45)
    control_mode: str = "pd_ee_delta_pose"
    gripper_max_width: float = 0.08

    def __post_init__(self) -> None:
        for name in ("capture_qpos", "ready_qpos"):
            if len(getattr(self, name)) != 9:
                raise ValueError(f"{name} needs 9 values (7 arm + 2 fingers), got {len(getattr(self, name))}")
        if self.gripper_max_width <= 0:
            raise ValueError(f"gripper_max_width must be positive, got {self.gripper_max_width}")

    def in_workspace(self, points_world: np.ndarray) -> np.ndarray:
        """Boolean mask of N×3 world points inside the workspace box."""
        lo, hi = np.asarray(self.workspace_min), np.asarray(self.workspace_max)
        return np.all((points_world >= lo) & (points_world <= hi), axis=1)


PANDA = RobotSetup()
