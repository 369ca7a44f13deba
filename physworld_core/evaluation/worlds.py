"""Benchmark worlds as pipeline inputs and as places to execute policies.

``capture_scene`` is the only door from a world to the pipeline: it renders what a real camera would see
(RGB, metric depth, intrinsics, extrinsics) and the prompt, and nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import gymnasium as gym
import numpy as np

from physworld_core.errors import SceneError
from physworld_core.evaluation.sensor import DEFAULT_SENSOR, get_sensor
from physworld_core.scene import CameraSpec, ScenePackage
from physworld_core.sim.base_env import DEFAULT_CAMERA
from physworld_core.sources import source_for
from physworld_core.world import get_family


@dataclass(frozen=True)
class BenchmarkTask:
    """A (family, seed) pair named as a task id, e.g. ``bin-0007``, captured by a depth sensor preset
    (:mod:`physworld_core.evaluation.sensor`: ``ideal`` gives the rendered depth as it is)."""

    family: str
    seed: int
    sensor: str = DEFAULT_SENSOR

    def __post_init__(self) -> None:
        try:
            get_family(self.family)
        except KeyError as error:
            raise SceneError(f"benchmark source: {error.args[0]}") from None
        if self.seed < 0:
            raise SceneError(f"benchmark seed must be >= 0, got {self.seed}")
        get_sensor(self.sensor)

    @property
    def task_id(self) -> str:
        return f"{self.family}-{self.seed:04d}"

    @classmethod
    def parse(cls, source: str) -> BenchmarkTask:
        """``benchmark:<family>:<seed>[:<sensor>]`` → task."""
        parts = source.split(":")
        if len(parts) not in (3, 4) or parts[0] != "benchmark" or not parts[2].isdigit():
            raise SceneError(
                f"not a benchmark source: {source!r} (expected benchmark:<family>:<seed>[:<sensor>])"
            )
        return cls(parts[1], int(parts[2]), *parts[3:])

    @property
    def source(self) -> str:
        suffix = "" if self.sensor == DEFAULT_SENSOR else f":{self.sensor}"
        return f"benchmark:{self.family}:{self.seed}{suffix}"

    has_truth = True
    """A benchmark world knows its layout: failures can be classified and reconstructions scored."""

    def capture(
        self, camera: CameraSpec | None = None, task_id: str | None = None, prompt: str = ""
    ) -> ScenePackage:
        return capture_scene(self, camera, task_id)

    def make_task_world(
        self, target_start_xyz=None, camera: CameraSpec | None = None, render_mode: str | None = None
    ):
        """The world for policy execution (its own target; ``target_start_xyz`` is not needed)."""
        kwargs = {"render_mode": render_mode} if render_mode else {}
        return make_world_env(self, camera=camera, **kwargs)


def parse_world(source: str):
    """A task's source → the world it can be executed and scored in: a benchmark world
    (``benchmark:<family>:<seed>``) or a stock ManiSkill env (``maniskill:<env id>:<seed>...``), as the
    source registry knows them (:mod:`physworld_core.sources`).

    Raises:
        PhysworldError: the source names no world (a user's capture has none).
    """
    return source_for(source).world(source)


def make_world_env(task: BenchmarkTask, obs_mode: str = "none", camera: CameraSpec | None = None, **kwargs):
    """The ground-truth world as a ManiSkill env (one env, CPU sim)."""
    family = get_family(task.family)
    return gym.make(
        family.env_id,
        world_seed=task.seed,
        obs_mode=obs_mode,
        scene_camera=camera or DEFAULT_CAMERA,
        **kwargs,
    )


def capture_scene(
    task: BenchmarkTask, camera: CameraSpec | None = None, task_id: str | None = None
) -> ScenePackage:
    """Render the world's first RGB-D frame and package it with the prompt, as a real robot would see it."""
    camera = camera or DEFAULT_CAMERA
    env = make_world_env(task, obs_mode="rgb+depth", camera=camera, robot_pose="capture")
    try:
        obs, _ = env.reset(seed=task.seed)
        family = get_family(task.family)
        prompt = family.prompt_for(env.unwrapped.layout, None)
        scene = sensor_scene(obs, "scene_camera", task_id or task.task_id, prompt, task.source)
    finally:
        env.close()
    sensor = get_sensor(task.sensor)
    if sensor.is_ideal:
        return scene
    depth = sensor.apply(scene.depth_m, scene.rgb, scene.camera.fx, seed=task.seed)
    return replace(scene, depth_m=depth)


def sensor_scene(obs: dict, camera: str, task_id: str, prompt: str, source: str) -> ScenePackage:
    """A ManiSkill observation's RGB-D frame from sensor ``camera``, with its intrinsics and extrinsics, as a
    scene package (ManiSkill gives depth in int16 millimetres and an OpenCV world-to-camera matrix)."""
    sensor = obs["sensor_data"][camera]
    rgb = sensor["rgb"][0].cpu().numpy().astype(np.uint8)
    depth_m = sensor["depth"][0, ..., 0].cpu().numpy().astype(np.float32) / 1000.0
    params = obs["sensor_param"][camera]
    K = params["intrinsic_cv"][0].cpu().numpy()
    world_to_cam = np.eye(4)
    world_to_cam[:3, :] = params["extrinsic_cv"][0].cpu().numpy()
    spec = CameraSpec(
        fx=float(K[0, 0]),
        fy=float(K[1, 1]),
        cx=float(K[0, 2]),
        cy=float(K[1, 2]),
        width=rgb.shape[1],
        height=rgb.shape[0],
        cam_to_world=np.linalg.inv(world_to_cam).tolist(),
    )
    return ScenePackage(task_id=task_id, rgb=rgb, depth_m=depth_m, camera=spec, prompt=prompt, source=source)
