"""Tiny data the world model can learn from in seconds, and a tiny lake exported the platform's way.

A *moving square*: a red square on a grey table moves by the action's first two dimensions (its ``delta_x``
and ``delta_y``) each step, towards a green goal mark drawn per episode, and the gripper closes once it is
near. The next frame follows from the frame and the action, and the action from the frame (where the square
and the mark are), so both heads have something to learn.

``tiny_lake`` writes such episodes as ``rollouts`` rows (npz arrays + mp4, as the evaluation stage records
them, at 20 fps = the control rate) and exports them with the platform's own ``export_lerobot`` and
``export_video_set``: the reader is tested on what the platform writes, with no simulator in the loop.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from physworld_core.worldmodel.config import WorldModelConfig
from physworld_core.worldmodel.data import Episode

ACTION_NAMES = ("delta_x", "delta_y", "delta_z", "delta_yaw", "gripper")
MOVE = 0.05  # image widths per unit of action and step


def square_frame(position: np.ndarray, goal: np.ndarray, size: int) -> np.ndarray:
    image = np.full((size, size, 3), 60, np.uint8)
    half = max(1, size // 8)
    col, row = (goal * size).astype(int)
    image[max(0, row - 1) : row + 1, max(0, col - 1) : col + 1] = (40, 200, 60)
    col, row = (position * size).astype(int)
    image[max(0, row - half) : row + half, max(0, col - half) : col + half] = (230, 50, 40)
    return image


def moving_square(
    count: int, steps: int, size: int, seed: int = 0, fps: float = 10.0, with_actions: bool = True
) -> list[Episode]:
    """``count`` episodes of ``steps`` frames at ``size``²."""
    rng = np.random.default_rng(seed)
    episodes = []
    for index in range(count):
        position, goal = rng.uniform(0.25, 0.75, 2), rng.uniform(0.25, 0.75, 2)
        frames, actions = [], []
        for step in range(steps):
            frames.append(square_frame(position, goal, size))
            move = np.clip(3.0 * (goal - position), -1.0, 1.0)
            near = np.linalg.norm(goal - position) < 0.1
            actions.append([move[0], move[1], 0.0, 0.0, -1.0 if near else 1.0])
            position = np.clip(position + MOVE * move, 0.1, 0.9)
        episodes.append(
            Episode(
                np.stack(frames),
                np.asarray(actions, np.float32) if with_actions else None,
                fps,
                f"square-{seed}-{index}",
                ACTION_NAMES,
            )
        )
    return episodes


def rollout_rows(store, task_id: str, episodes: list[Episode], fps: float) -> list[dict]:
    """``rollouts`` rows of ``episodes``, their arrays and mp4s stored as the evaluation stage stores them."""
    from physworld_core.evaluation.rollouts import ENV_STATE_NAMES, STATE_NAMES, save_arrays
    from physworld_core.scene import CameraSpec
    from physworld_core.video.codec import encode_mp4

    size = episodes[0].frames.shape[1]
    camera = CameraSpec(fx=size, fy=size, cx=size / 2, cy=size / 2, width=size, height=size)
    rows = []
    for trial, episode in enumerate(episodes):
        steps = len(episode.frames)
        arrays = {
            "state": np.zeros((steps, len(STATE_NAMES)), np.float32),
            "env_state": np.zeros((steps, len(ENV_STATE_NAMES)), np.float32),
            "action": episode.actions,
        }
        data = store.blobs.put_bytes(save_arrays(arrays), suffix=".npz")
        video = store.blobs.put_bytes(encode_mp4(episode.frames, fps, crf=10), suffix=".mp4")
        rows.append(
            {
                "task_id": task_id,
                "method": "planner_only",
                "trial": trial,
                "family": "square",
                "prompt": "move the red square to its goal",
                "success": True,
                "failure": None,
                "frames": steps,
                "fps": fps,
                "data_uri": data.uri,
                "data_sha256": data.sha256,
                "video_uri": video.uri,
                "video_sha256": video.sha256,
                "camera_json": camera.to_json(),
                "lineage_json": json.dumps({"synthetic": episode.key}),
                "video_sample": None,
                "policy_checkpoint_sha256": None,
            }
        )
    return rows


@pytest.fixture(scope="session")
def tiny_lake(tmp_path_factory):
    """(store, LeRobot export root, clip set root, the episodes written): 8 episodes of 24 frames at 32²,
    20 fps, over two tasks."""
    from physworld_core.export.lerobot import export_lerobot
    from physworld_core.export.video_set import VideoSetConfig, export_video_set
    from physworld_core.store import Store

    root = tmp_path_factory.mktemp("worldmodel-lake")
    store = Store.at(str(root / "lake"))
    episodes = moving_square(8, 24, 32, seed=5, fps=20.0)
    for task, part in (("square-0001", episodes[:4]), ("square-0002", episodes[4:])):
        store.lake.write_partition("rollouts", rollout_rows(store, task, part, 20.0), task)
    lerobot = export_lerobot(store, str(root / "lerobot"), progress=False)
    clips = export_video_set(store, str(root / "clips"), config=VideoSetConfig(("rollouts",)), progress=False)
    return store, lerobot.uri, clips.uri, episodes


SMALL = WorldModelConfig(
    image_size=16, latent_grid=4, width=48, layers=2, heads=2, lookahead=4, context_frames=6
)


@pytest.fixture(scope="session")
def checkpoint(tmp_path_factory):
    """A model trained on moving squares (16², 10 fps), saved as the world_model stage saves it."""
    from physworld_core.worldmodel.checkpoint import save_checkpoint
    from physworld_core.worldmodel.train import TrainConfig, prepare_data, train_world_model

    data = prepare_data(SMALL, moving_square(16, 20, 16, seed=3), validation_fraction=0.2)
    cfg = TrainConfig(
        autoencoder_updates=400,
        video_updates=0,
        action_updates=400,
        batch_size=8,
        autoencoder_batch=16,
        eval_every=50,
        threads=1,
    )
    result = train_world_model(data, SMALL, cfg, progress=False)
    path = tmp_path_factory.mktemp("world-model") / "world_model.safetensors"
    return save_checkpoint(path, result.model, {"action_names": list(ACTION_NAMES), "curve": result.curve})
