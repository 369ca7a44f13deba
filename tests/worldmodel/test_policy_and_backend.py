"""The trained model put to use: the ``learned`` video backend and the ``world_model`` evaluation actor."""

from __future__ import annotations

import hashlib

import numpy as np
import pytest
import torch

from physworld_core.errors import PhysworldError, VideoModelError
from physworld_core.scene import CameraSpec, ScenePackage
from physworld_core.worldmodel.backend import LearnedVideoBackend, LearnedVideoConfig
from physworld_core.worldmodel.checkpoint import save_checkpoint
from physworld_core.worldmodel.model import WorldActionModel, WorldModelConfig
from physworld_core.worldmodel.policy import WorldModelPolicy
from physworld_core.worldmodel.train import prepare_data
from tests.worldmodel.conftest import ACTION_NAMES, SMALL, moving_square, square_frame

DOWN = ((1.0, 0.0, 0.0, 0.0), (0.0, -1.0, 0.0, 0.0), (0.0, 0.0, -1.0, 0.6), (0.0, 0.0, 0.0, 1.0))
"""A camera 0.6 m above the table looking straight down."""


def _scene(size: int) -> ScenePackage:
    rgb = square_frame(np.array([0.5, 0.5]), np.array([0.8, 0.5]), size)
    camera = CameraSpec(
        fx=size, fy=size, cx=size / 2, cy=size / 2, width=size, height=size, cam_to_world=DOWN
    )
    return ScenePackage("square-0001", rgb, np.ones((size, size), np.float32), camera, "move the square")


def _red_column(frame: np.ndarray) -> float:
    """The red square's column: the mean column weighted by redness (red minus green)."""
    redness = np.clip(frame[..., 0].astype(float) - frame[..., 1], 0, None)
    return float((redness * np.arange(frame.shape[1])).sum() / redness.sum())


def test_learned_backend_rolls_out_a_plan_from_the_scene(checkpoint):
    scene = _scene(64)  # the scene's size, averaged down to the model's 16² and the video scaled back up
    steps = 9
    right = tuple((1.0, 0.0, 0.0, 0.0, 1.0) for _ in range(steps - 1))
    left = tuple((-1.0, 0.0, 0.0, 0.0, 1.0) for _ in range(steps - 1))
    videos = {
        name: LearnedVideoBackend(
            LearnedVideoConfig(str(checkpoint), num_frames=steps, actions=plan)
        ).generate(scene)
        for name, plan in (("right", right), ("left", left))
    }
    for video in videos.values():
        assert video.frames.shape == (steps, 64, 64, 3) and video.fps == SMALL.fps
        np.testing.assert_array_equal(video.frames[0], scene.rgb)  # frame 0 is the input image
        assert video.plan["checkpoint_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
        assert video.plan["actions_from"] == "given"
    np.testing.assert_allclose(videos["right"].plan["actions"], right)
    start = _red_column(scene.rgb)
    # The frame head moves the square the way the plan's actions say. (A full push for 8 steps would move
    # it 0.4 image widths, but the demonstrations slow down as they near their goal mark: the model learnt
    # smaller moves; measured 4-5 px of 64.)
    assert _red_column(videos["right"].frames[-1]) > start + 2
    assert _red_column(videos["left"].frames[-1]) < start - 2


def test_learned_backend_acts_on_its_own_and_samples_differ_by_seed(checkpoint):
    scene = _scene(32)
    one, two = (
        LearnedVideoBackend(LearnedVideoConfig(str(checkpoint), num_frames=6, seed=seed)).generate(scene)
        for seed in (0, 1)
    )
    assert one.frames.shape == two.frames.shape == (6, 32, 32, 3)
    assert one.plan["actions_from"] == "model" and len(one.plan["actions"]) == 5
    assert one.plan["actions"] != two.plan["actions"]


def test_learned_backend_refuses_what_it_cannot_run(checkpoint, tmp_path):
    with pytest.raises(VideoModelError, match="needs a trained world model"):
        LearnedVideoBackend(LearnedVideoConfig(str(tmp_path / "missing.safetensors")))
    with pytest.raises(VideoModelError, match="the model takes 5"):
        LearnedVideoBackend(
            LearnedVideoConfig(str(checkpoint), num_frames=3, actions=((1.0, 0.0), (1.0, 0.0)))
        )
    with pytest.raises(ValueError, match="one per step"):
        LearnedVideoConfig(str(checkpoint), num_frames=5, actions=((0.0,) * 5,))
    wide = _scene(32)
    wide = ScenePackage(
        wide.task_id,
        np.zeros((32, 48, 3), np.uint8),
        np.ones((32, 48), np.float32),
        CameraSpec(fx=32, fy=32, cx=24, cy=16, width=48, height=32, cam_to_world=DOWN),
        wide.prompt,
    )
    with pytest.raises(VideoModelError, match="square"):
        LearnedVideoBackend(LearnedVideoConfig(str(checkpoint))).generate(wide)


class _World:
    """Stands in for a ManiSkill world: ``render()`` gives a (1, H, W, 3) tensor, and calls are counted."""

    def __init__(self, size: int) -> None:
        self.size, self.renders = size, 0

    def render(self) -> torch.Tensor:
        self.renders += 1
        return torch.as_tensor(square_frame(np.array([0.3, 0.5]), np.array([0.7, 0.5]), self.size))[None]


def test_world_model_actor_renders_every_stride_and_spreads_moves(checkpoint):
    policy = WorldModelPolicy.from_checkpoint(checkpoint, control_hz=20.0)
    assert policy.observes_camera and policy.frame_size == (16, 16) and policy.stride == 2
    world = _World(32)  # rendered at twice the model's size: averaged down
    act = policy.actor(world)
    actions = [act(np.zeros(3), None) for _ in range(6)]
    assert world.renders == 3  # one picture per model step (10 Hz) for 6 control steps (20 Hz)
    for first, second in zip(actions[0::2], actions[1::2], strict=True):
        np.testing.assert_array_equal(first, second)  # a model step's command holds over its control steps
    model_action = act.action
    np.testing.assert_allclose(actions[-1][:4], np.clip(model_action[:4] / 2, -1, 1), atol=1e-6)
    np.testing.assert_allclose(actions[-1][4], np.clip(model_action[4], -1, 1), atol=1e-6)
    assert actions[0][0] > 0.05  # the square is left of its goal mark: the model moves it right
    assert len(act.rollout.tokens) == 5  # f a f a f (the last action waits for the next frame)
    act.reset()
    assert act.rollout.tokens == [] and act.step == 0


def test_world_model_policy_needs_a_rate_dividing_the_control_rate(checkpoint, tmp_path):
    model = WorldActionModel(WorldModelConfig(image_size=16, latent_grid=4, width=32, heads=2, fps=15.0))
    path = save_checkpoint(tmp_path / "odd.safetensors", model, {"action_names": list(ACTION_NAMES)})
    with pytest.raises(PhysworldError, match="does not divide the control rate 20 Hz"):
        WorldModelPolicy.from_checkpoint(path, control_hz=20.0)
    nameless = save_checkpoint(tmp_path / "nameless.safetensors", WorldActionModel(SMALL), {})
    with pytest.raises(PhysworldError, match="names no action"):
        WorldModelPolicy.from_checkpoint(nameless, control_hz=20.0)


def test_world_model_acts_in_a_benchmark_world(checkpoint):
    """In a real ManiSkill world rendered from the scene camera at the model's size: a picture every second
    control step, task actions back, the episode scored by the world's own success test."""
    import functools

    from physworld_core.evaluation.worlds import BenchmarkTask
    from physworld_core.policy.task_env import ObjectCentricTaskEnv, run_episode
    from physworld_core.sim.base_env import CONTROL_HZ, DEFAULT_CAMERA
    from tests.world.test_bin_world import _oracle_plan

    policy = WorldModelPolicy.from_checkpoint(checkpoint, control_hz=CONTROL_HZ)
    factory = functools.partial(
        BenchmarkTask("bin", 3).make_task_world,
        None,
        camera=DEFAULT_CAMERA.resized(*policy.frame_size),
        render_mode="rgb_array",
    )
    env = ObjectCentricTaskEnv(factory, _oracle_plan(3), max_steps=6)
    try:
        act = policy.actor(env.env)
        seen = []
        original = act.frame
        act.frame = lambda: seen.append(original()) or seen[-1]
        result = run_episode(env, act, seed=0)
    finally:
        env.close()
    assert result["steps"] == 6 and result["success"] is False  # six steps cannot put the can in the bin
    assert len(seen) == 3 and all(frame.shape == (16, 16, 3) and frame.std() > 5 for frame in seen)


def test_actions_snap_to_the_levels_of_the_data_and_chunks_are_ensembled(checkpoint):
    from physworld_core.worldmodel.policy import WorldModelPolicyConfig, snap_to_levels

    levels = prepare_data(SMALL, moving_square(4, 20, 16, seed=3)).action_levels
    assert levels == (None, None, (0.0,), (0.0,), (-1.0, 1.0))  # the gripper opens or closes; moves vary
    np.testing.assert_allclose(
        snap_to_levels(np.array([0.3, -0.2, 0.1, 0.05, -0.4]), levels), [0.3, -0.2, 0.0, 0.0, -1.0], atol=1e-7
    )

    def chosen(decay):
        policy = WorldModelPolicy.from_checkpoint(
            checkpoint, control_hz=20.0, config=WorldModelPolicyConfig(ensemble_decay=decay)
        )
        act = policy.actor(_World(16))
        first = np.arange(4 * 5, dtype=np.float32).reshape(4, 5)  # K = 4 chunks of 5-dim actions
        act.choose(first)
        return act.choose(first + 100.0)

    np.testing.assert_allclose(chosen(None), np.arange(5) + 100.0)  # the newest chunk's first action
    # uniform weights: the mean of the older chunk's second action and the newer one's first
    np.testing.assert_allclose(chosen(0.0), (np.arange(5, 10) + np.arange(5) + 100.0) / 2)
    older = chosen(1.0)  # ACT's weights favour the older prediction
    assert np.all(older < (np.arange(5, 10) + np.arange(5) + 100.0) / 2)
