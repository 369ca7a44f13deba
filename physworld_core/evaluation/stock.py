"""Stock ManiSkill tabletop tasks as worlds: capture a frame from the env's own sensor camera, execute a policy
in that same env, and score it with the env's own ``evaluate()``.

Nothing here knows any env id. What the adapter needs is what a lab has: a Panda standing where physworld's
robot setup says (ManiSkill's tabletop scenes put it at the same place), a camera, and a way to tell which
simulated body is the one the pipeline reconstructed. The last is association, as an object tracker does it:
the movable actor nearest to where the reconstruction says the target stands at the start.

The robot: an env that takes the plain Panda gets it; one that insists on a variant of it (the same arm with a
wrist camera bolted on, say) keeps its robot, and physworld drives that robot's arm in its own control mode
once the built articulation shows it is the Panda's arm: the same joints in the same order and the same
end-effector link. Anything else is refused with the robot named.

Source strings: ``maniskill:<env id>:<seed>[:<width>x<height>[:<sensor camera>]]``, e.g.
``maniskill:PushCube-v1:3:256x256``.
"""

from __future__ import annotations

import inspect
import re
from dataclasses import dataclass

import gymnasium as gym
import mani_skill.envs  # noqa: F401  (registers the stock envs)
import numpy as np
import torch
from mani_skill.agents.registration import REGISTERED_AGENTS
from mani_skill.utils import assets
from mani_skill.utils.registration import REGISTERED_ENVS
from mani_skill.utils.structs.pose import Pose
from transforms3d.quaternions import quat2mat

from physworld_core.errors import SceneError
from physworld_core.evaluation.worlds import sensor_scene
from physworld_core.robot import PANDA
from physworld_core.scene import CameraSpec, ScenePackage
from physworld_core.sim.base_env import CONTROL_HZ, SIM_HZ, matrix_to_pose
from physworld_core.sim.camera import sapien_pose_matrix

ASSOCIATION_RADIUS_M = 0.06
"""How far the reconstructed target may be from a simulated body and still be that body: beyond a few
centimetres of reconstruction error the pipeline has reconstructed something else."""
RESET_JITTER_M = 0.003
"""Per-trial displacement of the target (std, m): trials of one world differ a little, as in the benchmark
worlds, without re-drawing the env's own layout."""
_SOURCE = re.compile(
    r"^maniskill:(?P<env_id>[A-Za-z0-9_\-]+):(?P<seed>\d+)(?::(?P<w>\d+)x(?P<h>\d+))?(?::(?P<camera>[\w\-]+))?$"
)


@dataclass(frozen=True)
class StockTask:
    """A stock ManiSkill env at one seed, seen from one of its sensor cameras at a chosen resolution.

    Args:
        env_id: a registered ManiSkill env id whose robot is a Panda.
        seed: the reset seed: the env's layout for this task (every trial resets to it).
        width, height: capture resolution in pixels (the sensor camera's field of view is kept).
        camera: which sensor camera; default the env's first one that is not mounted on the robot (a wrist
            camera moves with the arm, which is tucked out of view for the capture).
    """

    env_id: str
    seed: int
    width: int = 256
    height: int = 256
    camera: str | None = None

    def __post_init__(self) -> None:
        if self.seed < 0:
            raise ValueError(f"seed must be >= 0, got {self.seed}")
        if not (32 <= self.width <= 2048 and 32 <= self.height <= 2048):
            raise ValueError(f"capture size must be 32..2048 pixels a side, got {self.width}x{self.height}")
        if self.env_id not in REGISTERED_ENVS:
            raise SceneError(f"{self.env_id!r} is not a registered ManiSkill env id")

    @classmethod
    def parse(cls, source: str) -> StockTask:
        match = _SOURCE.match(source)
        if match is None:
            raise ValueError(
                f"not a ManiSkill source: {source!r} (expected maniskill:<env id>:<seed>[:<W>x<H>[:<camera>]])"
            )
        size = {"width": int(match["w"]), "height": int(match["h"])} if match["w"] else {}
        return cls(match["env_id"], int(match["seed"]), camera=match["camera"], **size)

    @property
    def source(self) -> str:
        camera = f":{self.camera}" if self.camera else ""
        return f"maniskill:{self.env_id}:{self.seed}:{self.width}x{self.height}{camera}"

    @property
    def task_id(self) -> str:
        return f"{re.sub(r'[^a-z0-9]+', '-', self.env_id.lower()).strip('-')}-{self.seed:04d}"

    @property
    def family(self) -> str:
        return self.env_id

    has_truth = False
    """Stock envs keep their own success test; physworld has no layout truth to classify failures with."""

    # --- the env ----------------------------------------------------------------------------------------
    def make_env(
        self, obs_mode: str = "none", camera: CameraSpec | None = None, render_mode: str | None = None
    ):
        """The env with physworld's controller and rates; with ``render_mode``, ``render()`` shows ``camera``."""
        missing = _missing_assets(self.env_id)
        if missing:
            listed = ", ".join(missing[:3]) + (f" and {len(missing) - 3} more" if len(missing) > 3 else "")
            raise SceneError(
                f"{self.env_id} needs ManiSkill assets that are not installed here ({listed}); install them with "
                f"`python -m mani_skill.utils.download_asset {self.env_id}`"
            )
        kwargs = _plain_panda(self.env_id)
        if render_mode is not None and camera is not None:
            kwargs["human_render_camera_configs"] = _camera_config_dict(camera)
        if "rgb" in obs_mode or "depth" in obs_mode:
            kwargs["sensor_configs"] = {"width": self.width, "height": self.height}
        try:
            env = gym.make(
                self.env_id,
                obs_mode=obs_mode,
                control_mode=PANDA.control_mode,
                sim_config={"sim_freq": SIM_HZ, "control_freq": CONTROL_HZ},
                render_mode=render_mode,
                render_backend="cpu" if (render_mode or obs_mode != "none") else "none",
                **kwargs,
            )
        except Exception as error:  # a stock env that cannot take physworld's robot setup says so here
            _refuse_unmakeable_robot(self.env_id, kwargs.get("robot_uids"))
            raise SceneError(
                f"{self.env_id}: cannot be made with the Panda in {PANDA.control_mode}: {error}"
            ) from error
        try:
            _check_robot(env.unwrapped, self.env_id)
        except SceneError:
            env.close()
            raise
        return env

    def capture(
        self, camera: CameraSpec | None = None, task_id: str | None = None, prompt: str = ""
    ) -> ScenePackage:
        """Reset at the seed, tuck the arm out of view (as physworld's worlds do), and package the sensor
        camera's RGB-D frame with the prompt. ``camera`` is ignored: a stock task is seen from its own camera."""
        env = self.make_env(obs_mode="rgb+depth")
        try:
            env.reset(seed=self.seed)
            u = env.unwrapped
            u.agent.reset(torch.tensor([PANDA.capture_qpos], dtype=torch.float32))
            obs = u.get_obs()
            name = _scene_camera(u, self.env_id, self.camera)
            return sensor_scene(obs, name, task_id or self.task_id, prompt, self.source)
        finally:
            env.close()

    def make_task_world(
        self, target_start_xyz, camera: CameraSpec | None = None, render_mode: str | None = None
    ):
        """The env wrapped for policy execution (see :class:`StockWorld`)."""
        return StockWorld(self.make_env(camera=camera, render_mode=render_mode), self.seed, target_start_xyz)


def _camera_config_dict(camera: CameraSpec) -> dict:
    return {
        "pose": matrix_to_pose(sapien_pose_matrix(camera)),
        "width": camera.width,
        "height": camera.height,
        "intrinsic": np.asarray(camera.K, dtype=np.float32),
        "fov": None,
    }


def _missing_assets(env_id: str) -> list[str]:
    """The ManiSkill data sources ``env_id`` needs that are not on this machine. ManiSkill itself would ask on
    stdin whether to download them and exit on "no": a pipeline run has nobody to answer."""
    missing = []
    for asset_id in REGISTERED_ENVS[env_id].asset_download_ids or []:
        if asset_id in assets.DATA_GROUPS:
            sources = assets.expand_data_group_into_individual_data_source_ids(asset_id)
        else:
            sources = [asset_id]
        missing += [source for source in sources if not assets.is_data_source_downloaded(source)]
    return missing


def _plain_panda(env_id: str) -> dict:
    """``{"robot_uids": "panda"}`` when the env takes the plain Panda (its constructor has a ``robot_uids``
    argument and its supported robots, if it lists any, include it); otherwise nothing: the env keeps its own
    robot, which :func:`_check_robot` then judges."""
    cls = REGISTERED_ENVS[env_id].cls
    takes_robot = "robot_uids" in inspect.signature(cls.__init__).parameters
    supported = cls.SUPPORTED_ROBOTS
    if takes_robot and (supported is None or PANDA.uid in supported):
        return {"robot_uids": PANDA.uid}
    return {}


def _panda_arm() -> tuple[list[str], list[str], str]:
    """The arm joints, finger joints (each in order) and end-effector link of ManiSkill's Panda: what physworld's
    ready poses, recorded actions and controller assume."""
    panda = REGISTERED_AGENTS[PANDA.uid].agent_cls
    return list(panda.arm_joint_names), list(panda.gripper_joint_names), panda.ee_link_name


def _robot_problem(agent) -> str | None:
    """Why ``agent`` is not a Panda arm physworld can drive, or None if it is (the plain Panda or a variant of it:
    same joints in the same order, same end-effector link, judged on the built articulation)."""
    if not hasattr(agent, "robot"):  # ManiSkill's MultiAgent: one agent per robot
        uids = ", ".join(repr(a.uid) for a in getattr(agent, "agents", []))
        return f"it has several robots ({uids})"
    joints = [joint.name for joint in agent.robot.get_active_joints()]
    arm, fingers, ee_link = _panda_arm()
    panda_joints = arm + fingers
    missing = [j for j in panda_joints if j not in joints]
    extra = [j for j in joints if j not in panda_joints]
    if len(missing) == len(panda_joints):
        return f"its robot {agent.uid!r} has joints {', '.join(joints)}"
    if missing or extra:
        lacks = f" lacks {', '.join(missing)}" if missing else ""
        has = f" has the extra joints {', '.join(extra)}" if extra else ""
        return f"its robot {agent.uid!r}{lacks}{' and' if lacks and has else ''}{has}"
    if joints != panda_joints:
        return f"its robot {agent.uid!r} orders its joints {', '.join(joints)}"
    if ee_link not in agent.robot.links_map:
        return f"its robot {agent.uid!r} has no end-effector link {ee_link!r}"
    return None


def _refusal(env_id: str, problem: str) -> SceneError:
    arm, fingers, ee_link = _panda_arm()
    return SceneError(
        f"{env_id}: {problem}; physworld drives one Panda arm ({arm[0]}..{arm[-1]}, {', '.join(fingers)}; end "
        f"effector {ee_link}) in {PANDA.control_mode}"
    )


def _refuse_unmakeable_robot(env_id: str, robot_uids: str | None) -> None:
    """After the env failed to build in physworld's control mode: build it once more as its author meant it
    (own controller, renderer on) and, if its robot is not a Panda arm, raise that, the real reason."""
    try:
        probe = gym.make(
            env_id,
            obs_mode="none",
            render_backend="cpu",
            **({"robot_uids": robot_uids} if robot_uids else {}),
        )
    except Exception:  # noqa: BLE001 - it does not build at all: the caller reports its own error
        return
    try:
        problem = _robot_problem(probe.unwrapped.agent)
    finally:
        probe.close()
    if problem is not None:
        raise _refusal(env_id, problem)


def _check_robot(u, env_id: str) -> None:
    problem = _robot_problem(u.agent)
    if problem is not None:
        raise _refusal(env_id, problem)
    base = u.agent.robot.pose.p[0].cpu().numpy().astype(np.float64)
    if np.linalg.norm(base - np.asarray(PANDA.base_xyz)) > 0.01:
        raise SceneError(
            f"{env_id}: the Panda stands at {np.round(base, 3).tolist()}, but physworld's robot setup (the frame "
            f"every twin is built in) puts it at {list(PANDA.base_xyz)}"
        )


def _scene_camera(u, env_id: str, name: str | None) -> str:
    """The sensor camera to capture from: ``name``, or the env's first camera not mounted on the robot. A camera
    on the robot (a wrist camera) is refused: the capture tucks the arm away, and that camera with it."""
    on_robot = [
        n
        for n, sensor in u.scene.sensors.items()
        if getattr(sensor.entity, "articulation", None) is u.agent.robot
    ]
    scene = [n for n in u.scene.sensors if n not in on_robot]
    if name is None:
        if not scene:
            raise SceneError(
                f"{env_id} has no sensor camera off the robot (it has only {', '.join(on_robot)})"
            )
        return scene[0]
    if name in on_robot:
        raise SceneError(
            f"{env_id}: sensor camera {name!r} rides on the robot, which is tucked out of view for the capture; "
            f"choose a scene camera: {', '.join(scene) or 'the env has none'}"
        )
    if name not in scene:
        raise SceneError(f"{env_id} has no sensor camera {name!r}; it has {', '.join(u.scene.sensors)}")
    return name


def _movable_actors(u) -> dict:
    """Name → actor for every dynamic (movable) rigid body of the scene that is not part of the robot."""
    actors = {}
    for name, actor in u.scene.actors.items():
        if getattr(actor, "px_body_type", "dynamic") == "dynamic":
            actors[name] = actor
    return actors


class StockWorld(gym.Wrapper):
    """A stock env as a task world for :class:`~physworld_core.policy.task_env.ObjectCentricTaskEnv`.

    Every reset goes back to the task's seed (the layout the pipeline saw), puts the Panda in physworld's ready
    pose and moves the target by a few millimetres drawn from the reset seed. ``step`` adds ``grasped`` to the
    env's info; success is the env's own ``evaluate()["success"]``.
    """

    def __init__(self, env: gym.Env, layout_seed: int, target_start_xyz) -> None:
        super().__init__(env)
        self.layout_seed = layout_seed
        self.target_start = np.asarray(target_start_xyz, dtype=np.float64)
        self.task_world = self
        self.env.reset(seed=layout_seed)
        actors = _movable_actors(self.env.unwrapped)
        if not actors:
            raise SceneError(f"{self.env.spec.id if self.env.spec else 'env'}: has no movable object")
        self._centres_local = {n: _centre_local(a) for n, a in actors.items()}
        distance = {
            n: float(np.linalg.norm(self._centre_world(a, n) - self.target_start)) for n, a in actors.items()
        }
        name = min(distance, key=distance.get)
        if distance[name] > ASSOCIATION_RADIUS_M:
            listed = ", ".join(
                f"{n} at {np.round(self._centre_world(a, n), 3).tolist()}" for n, a in actors.items()
            )
            raise SceneError(
                f"no movable object within {ASSOCIATION_RADIUS_M * 100:.0f} cm of the reconstructed target at "
                f"{np.round(self.target_start, 3).tolist()}; the env has {listed}"
            )
        self.target_name = name
        self.target_object = actors[name]

    # --- gym ---------------------------------------------------------------------------------------------
    def reset(self, *, seed: int | None = None, options: dict | None = None):
        obs, info = self.env.reset(seed=self.layout_seed, options=options)
        u = self.env.unwrapped
        u.agent.reset(torch.tensor([PANDA.ready_qpos], dtype=torch.float32))
        rng = np.random.default_rng(seed)
        pose = self.target_object.pose.raw_pose[0].cpu().numpy().copy()
        pose[:2] += rng.normal(0.0, RESET_JITTER_M, 2)
        pose = torch.as_tensor(pose[None], dtype=torch.float32)
        self.target_object.set_pose(Pose.create_from_pq(pose[:, :3], pose[:, 3:]))
        return obs, info

    def step(self, action):
        obs, reward, terminated, truncated, info = self.env.step(action)
        info = dict(info)
        info["grasped"] = self.env.unwrapped.agent.is_grasping(self.target_object)
        return obs, reward, terminated, truncated, info

    # --- what a policy may observe (see TabletopEnv) ------------------------------------------------------
    @property
    def agent(self):
        return self.env.unwrapped.agent

    def tcp_position(self) -> np.ndarray:
        return self.agent.tcp.pose.p[0].cpu().numpy().astype(np.float64)

    def gripper_opening(self) -> float:
        return float(self.agent.robot.get_qpos()[0, -2:].sum().cpu())

    def tcp_rotation(self) -> np.ndarray:
        """3×3 orientation of the TCP frame (z: the approach axis, y: the fingers' closing axis)."""
        return quat2mat(self.agent.tcp.pose.q[0].cpu().numpy().astype(np.float64))

    def _centre_world(self, actor, name: str) -> np.ndarray:
        raw = actor.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        return raw[:3] + quat2mat(raw[3:]) @ self._centres_local[name]

    def target_pose_world(self) -> np.ndarray:
        raw = self.target_object.pose.raw_pose[0].cpu().numpy().astype(np.float64)
        raw[:3] = self._centre_world(self.target_object, self.target_name)
        return raw

    def is_grasping_target(self) -> bool:
        return bool(self.agent.is_grasping(self.target_object)[0])

    def goal_contains_xy(self, xy) -> bool | None:
        """Unknown: a stock env's goal is inside its ``evaluate()``, not a region physworld can query."""
        return None


def _centre_local(actor) -> np.ndarray:
    """Bounding-box centre of an actor's collision geometry in its own frame (what plans and policies call the
    object's position)."""
    mesh = actor.get_first_collision_mesh(to_world_frame=False)
    if mesh is None:
        return np.zeros(3)
    lo, hi = mesh.bounds
    return 0.5 * (np.asarray(lo) + np.asarray(hi))
