"""The tabletop task base: a Panda at the calibrated base pose, a scene camera, and object-centric hooks.

Subclasses (a benchmark world, a reconstructed twin) build their objects and say which actor is the
manipulated one and when the task succeeds; everything a policy sees is defined here once, so policies
trained in a twin run unchanged in a world.
"""

from __future__ import annotations

import gc
from typing import ClassVar

import numpy as np
import sapien
import torch
from mani_skill.agents.robots import Panda
from mani_skill.envs.sapien_env import BaseEnv
from mani_skill.sensors.camera import CameraConfig
from mani_skill.utils.structs.pose import Pose
from mani_skill.utils.structs.types import SimConfig
from transforms3d.quaternions import mat2quat, quat2mat

from physworld_core.robot import PANDA
from physworld_core.scene import CameraSpec
from physworld_core.sim.camera import look_at_camera, sapien_pose_matrix
from physworld_core.sim.rates import CONTROL_HZ, SIM_HZ

DEFAULT_CAMERA = look_at_camera(
    eye=(0.45, 0.0, 0.6), target=(0.0, 0.0, 0.0), width=128, height=128, fov_y_deg=58
)


def matrix_to_pose(T: np.ndarray) -> sapien.Pose:
    return sapien.Pose(p=np.asarray(T[:3, 3], dtype=np.float32), q=mat2quat(np.asarray(T[:3, :3])))


def actor_points_world(actor, points_local: np.ndarray) -> np.ndarray:
    """Points given in an actor's frame, where the actor stands now (first sub-scene)."""
    raw = actor.pose.raw_pose[0].cpu().numpy().astype(np.float64)
    return points_local @ quat2mat(raw[3:]).T + raw[:3]


def require_collision_shapes(actor, name: str, expected: int, error: type[Exception] = RuntimeError) -> None:
    """Raise ``error`` unless ``actor`` has at least ``expected`` collision shapes.

    ManiSkill's ActorBuilder skips a collision file it cannot load without an error and returns an actor
    that falls through the table; checking the built shapes turns that into a failure with a reason."""
    body = actor._objs[0].find_component_by_type(sapien.physx.PhysxRigidBaseComponent)
    built = 0 if body is None else len(body.get_collision_shapes())
    if built < expected:
        raise error(f"actor {name!r}: built {built} collision shapes, expected {expected}")


def freeze_long_lived_objects() -> None:
    """Take every object alive now out of the cyclic garbage collector's scans (``gc.freeze``), once per
    process.

    ManiSkill runs a full ``gc.collect()`` each time a scene is rebuilt (``BaseEnv._clear``: on every
    reconfiguration, so every few resets while PPO redraws the twin's physics). A full collection walks every
    tracked object, and by the time an env is built that is the hundreds of thousands that torch, ManiSkill
    and SAPIEN leave behind on import: 0.18 s a collection here, 2.9 of 20 s in a 2,048-step policy stage.
    Frozen, they are skipped, and a collection walks only what was made since. Freezing changes no value:
    frozen objects are still freed when their last reference goes, only a reference cycle among them would
    stay (the modules and classes of an import, which live for the whole process anyway).
    """
    global _FROZEN
    if not _FROZEN:
        gc.collect()
        gc.freeze()
        _FROZEN = True


_FROZEN = False


class TabletopEnv(BaseEnv):
    """Shared structure of every physworld task environment.

    Subclasses implement ``_build_objects`` (create actors; ``self.target_object`` must be set),
    ``_place_objects(env_idx)`` and ``evaluate``. Rewards are computed by the object-centric task wrapper
    (``physworld_core.policy.task_env``), so the ManiSkill reward mode is "none" or "sparse".
    """

    SUPPORTED_ROBOTS: ClassVar[list[str]] = ["panda"]
    SUPPORTED_REWARD_MODES = ("sparse", "none")
    agent: Panda
    target_object = None

    def __init__(
        self,
        *args,
        scene_camera: CameraSpec | None = None,
        robot_uids: str = "panda",
        robot_pose: str = "ready",
        **kwargs,
    ):
        if robot_pose not in ("ready", "capture"):
            raise ValueError(f"robot_pose must be 'ready' or 'capture', got {robot_pose!r}")
        self.scene_camera = scene_camera or DEFAULT_CAMERA
        self.robot_pose = robot_pose
        kwargs.setdefault("control_mode", PANDA.control_mode)
        # State-only episodes need no renderer (faster, and no CUDA fallback warning on CPU machines).
        renders = kwargs.get("render_mode") is not None or any(
            k in str(kwargs.get("obs_mode", "state")) for k in ("rgb", "depth", "sensor", "pointcloud")
        )
        kwargs.setdefault("render_backend", "cpu" if renders else "none")
        kwargs.setdefault("reward_mode", "none")
        freeze_long_lived_objects()  # before the scene exists: what is frozen is the imports, not the env
        super().__init__(*args, robot_uids=robot_uids, **kwargs)

    @property
    def _default_sim_config(self):
        return SimConfig(sim_freq=SIM_HZ, control_freq=CONTROL_HZ)

    @property
    def _default_sensor_configs(self):
        cam = self.scene_camera
        pose = matrix_to_pose(sapien_pose_matrix(cam))
        return [
            CameraConfig("scene_camera", pose, cam.width, cam.height, intrinsic=cam.K, near=0.01, far=10.0)
        ]

    @property
    def _default_human_render_camera_configs(self):
        cam = self.scene_camera
        pose = matrix_to_pose(sapien_pose_matrix(cam))
        return CameraConfig(
            "render_camera", pose, cam.width, cam.height, intrinsic=cam.K, near=0.01, far=10.0
        )

    def _load_agent(self, options: dict):
        super()._load_agent(options, sapien.Pose(p=list(PANDA.base_xyz)))

    def _load_scene(self, options: dict):
        self._build_objects()
        if self.target_object is None:
            raise RuntimeError(f"{type(self).__name__}._build_objects must set self.target_object")

    def _initialize_episode(self, env_idx: torch.Tensor, options: dict):
        with torch.device(self.device):
            rest = PANDA.capture_qpos if self.robot_pose == "capture" else PANDA.ready_qpos
            qpos = torch.as_tensor(np.asarray(rest, dtype=np.float32)).repeat(len(env_idx), 1)
            self.agent.reset(qpos)
            self.agent.robot.set_pose(Pose.create_from_pq(torch.tensor(PANDA.base_xyz)))
            self._place_objects(env_idx)

    def _build_objects(self) -> None:
        raise NotImplementedError

    def _place_objects(self, env_idx: torch.Tensor) -> None:
        raise NotImplementedError

    # --- helpers for subclasses -----------------------------------------------------------------------------
    def _set_at_rest(self, actor, position, quaternion=(1.0, 0.0, 0.0, 0.0)) -> None:
        """Pose an actor (first sub-scene) and zero its velocities: a reset must not keep last episode's
        motion."""
        actor.set_pose(
            Pose.create_from_pq(
                torch.tensor(np.asarray([position]), dtype=torch.float32),
                torch.tensor(np.asarray([quaternion]), dtype=torch.float32),
            )
        )
        actor.set_linear_velocity(torch.zeros((1, 3)))
        actor.set_angular_velocity(torch.zeros((1, 3)))

    @staticmethod
    def _evaluation(**values) -> dict[str, torch.Tensor]:
        """``evaluate()``'s result: each flag or count as a one-element tensor (one sub-scene), in order."""
        return {key: torch.tensor([value]) for key, value in values.items()}

    # --- what a policy may observe (the task wrapper adds perception noise) -------------------------------
    def tcp_position(self) -> np.ndarray:
        return self.agent.tcp.pose.p[0].cpu().numpy().astype(np.float64)

    def gripper_opening(self) -> float:
        return float(self.agent.robot.get_qpos()[0, -2:].sum().cpu())

    def tcp_rotation(self) -> np.ndarray:
        """3×3 orientation of the TCP frame (z: the approach axis, y: the fingers' closing axis)."""
        return quat2mat(self.agent.tcp.pose.q[0].cpu().numpy().astype(np.float64))

    def target_pose_world(self) -> np.ndarray:
        """[x, y, z, qw, qx, qy, qz] of the manipulated object: orientation of its frame, position of the centre
        of its bounding box. Actor frames differ (a world's primitive is centred, a twin's mesh starts at its
        footprint), so policies and plans always speak of the box centre."""
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        raw[:3] += quat2mat(raw[3:]) @ self.target_center_local()
        return raw

    def target_points_local(self) -> np.ndarray:
        """N×3 points spanning the target's geometry (hull vertices) in its actor frame."""
        raise NotImplementedError

    def target_center_local(self) -> np.ndarray:
        """Bounding-box centre of the target's geometry in its actor frame."""
        points = self.target_points_local()
        return 0.5 * (points.min(0) + points.max(0))

    def target_bottom_z(self) -> float:
        """Height of the target's lowest point: "in the container" means partly below its rim, however the
        object stands (a tall can upright in a shallow bin has its centre above the rim)."""
        return float(self.target_points_world()[:, 2].min())

    def target_points_world(self) -> np.ndarray:
        """``target_points_local`` where the target stands now."""
        return actor_points_world(self.target_object, self.target_points_local())

    def target_tilt_deg(self, axis_local=(0.0, 0.0, 1.0)) -> float:
        """Angle between the target's ``axis_local`` (its frame's z by default) and the vertical: how far an
        object that should stand or lie flat has tipped."""
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        up = quat2mat(raw[3:]) @ np.asarray(axis_local, dtype=np.float64)
        return float(np.degrees(np.arccos(np.clip(up[2] / np.linalg.norm(up), -1.0, 1.0))))

    def is_grasping_target(self) -> bool:
        return bool(self.agent.is_grasping(self.target_object)[0])

    def _get_obs_extra(self, info: dict):
        return {"tcp_pose": self.agent.tcp.pose.raw_pose}
