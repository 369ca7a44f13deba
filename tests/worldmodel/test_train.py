"""Training: the losses fall, checkpoints are safetensors, and a run killed with SIGKILL resumes where its last
checkpoint left it, making the updates an uninterrupted run makes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open

from physworld_core.errors import PhysworldError
from physworld_core.worldmodel.checkpoint import FORMAT, load_checkpoint
from physworld_core.worldmodel.model import WorldModelConfig
from physworld_core.worldmodel.train import CHECKPOINT_NAME, TrainConfig, prepare_data, train_world_model
from tests.worldmodel.conftest import moving_square

TINY = WorldModelConfig(
    image_size=16, latent_grid=4, width=48, layers=2, heads=2, lookahead=4, context_frames=6
)
REPO = Path(__file__).resolve().parents[2]


def tiny_data(episodes: int = 12, clips: int = 6):
    return prepare_data(
        TINY,
        moving_square(episodes, 20, 16, seed=1),
        moving_square(clips, 20, 16, seed=2, with_actions=False),
        validation_fraction=0.2,
    )


def resume_config(**changes) -> TrainConfig:
    settings = {
        "autoencoder_updates": 20,
        "video_updates": 6,
        "action_updates": 30,
        "batch_size": 4,
        "autoencoder_batch": 8,
        "eval_every": 1,
        "checkpoint_every": 2,
        "threads": 1,
    }
    return TrainConfig(**(settings | changes))


def _saved(path: Path) -> tuple[str, int] | None:
    """(phase, update) of the checkpoint at ``path``, if a whole one is there."""
    try:
        with safe_open(path, framework="pt") as checkpoint:
            meta = json.loads(checkpoint.metadata()["meta"])
    except (OSError, ValueError, KeyError):
        return None
    return meta["phase"], meta["update"]


def test_training_lowers_the_validation_losses():
    cfg = TrainConfig(
        autoencoder_updates=150,
        video_updates=60,
        action_updates=150,
        batch_size=8,
        autoencoder_batch=16,
        eval_every=10,
        threads=1,
    )
    result = train_world_model(tiny_data(episodes=24), TINY, cfg, progress=False)
    curve = {
        phase: [e for e in result.curve if e["phase"] == phase]
        for phase in ("autoencoder", "video", "actions")
    }
    assert [len(entries) for entries in curve.values()] == [15, 6, 15]
    for phase, name, ratio in (
        ("autoencoder", "reconstruction", 0.5),
        ("video", "frame", 0.7),
        ("actions", "next_action", 0.8),
    ):
        first, last = curve[phase][0][f"val_{name}"], curve[phase][-1][f"val_{name}"]
        assert last < ratio * first, (phase, first, last)
    # Actions are standardised: predicting the mean action scores ~1 on held-out episodes.
    assert curve["actions"][-1]["val_next_action"] < 0.65
    assert result.data == {
        "train_episodes": 19,
        "validation_episodes": 5,
        "clips": 6,
        "train_frames": 380,
        "clip_frames": 120,
    }
    assert result.parameters == sum(p.numel() for p in result.model.parameters())


def test_a_killed_run_resumes_from_its_last_checkpoint(tmp_path):
    """The subprocess is killed (SIGKILL, no clean-up) after it checkpointed at least two fine-tuning updates;
    training again in the same directory continues from that checkpoint and ends with the weights of a run
    that was never interrupted."""
    run = subprocess.Popen(
        [sys.executable, str(REPO / "tests/worldmodel/train_until_killed.py"), str(tmp_path), "0.2"],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    path = tmp_path / CHECKPOINT_NAME
    deadline = time.monotonic() + 120
    try:
        while (saved := _saved(path)) is None or saved[0] != "actions" or saved[1] < 2:
            assert run.poll() is None, run.stderr.read().decode()[-2000:]
            assert time.monotonic() < deadline, f"no fine-tuning checkpoint in 120 s (last: {saved})"
            time.sleep(0.05)
    finally:
        run.send_signal(signal.SIGKILL)
        run.wait()
    assert run.returncode == -signal.SIGKILL
    killed_at = _saved(path)
    assert killed_at[0] == "actions" and 2 <= killed_at[1] < 30  # killed part-way through fine-tuning

    resumed = train_world_model(tiny_data(), TINY, resume_config(), tmp_path, progress=False)
    assert resumed.resumed_from == killed_at
    updates = [(e["phase"], e["update"]) for e in resumed.curve]
    assert updates == sorted(set(updates), key=updates.index)  # no update logged twice
    assert updates[-1] == ("actions", 30) and len(updates) == 20 + 6 + 30

    uninterrupted = train_world_model(tiny_data(), TINY, resume_config(), progress=False)
    for name, value in uninterrupted.model.state_dict().items():
        torch.testing.assert_close(resumed.model.state_dict()[name], value, atol=1e-6, rtol=0)


def test_checkpoints_are_safetensors_and_belong_to_their_run(tmp_path):
    data = tiny_data()
    cfg = resume_config(autoencoder_updates=4, video_updates=2, action_updates=2)
    train_world_model(data, TINY, cfg, tmp_path, progress=False)
    with safe_open(tmp_path / CHECKPOINT_NAME, framework="pt") as checkpoint:
        assert checkpoint.metadata()["format"] == FORMAT
        prefixes = {key.split("/")[0] for key in checkpoint.keys()}  # noqa: SIM118
    assert prefixes == {"model", "optimizer"}
    model, meta, optimizer = load_checkpoint(tmp_path / CHECKPOINT_NAME)
    assert (meta["phase"], meta["update"]) == ("actions", 2) and optimizer is not None
    assert meta["action_names"] == ["delta_x", "delta_y", "delta_z", "delta_yaw", "gripper"]
    assert meta["action_levels"] == [None, None, [0.0], [0.0], [-1.0, 1.0]]
    assert model.cfg == TINY

    with pytest.raises(PhysworldError, match="belongs to another training run .*train"):
        train_world_model(data, TINY, resume_config(learning_rate=1e-3), tmp_path, progress=False)
    with pytest.raises(PhysworldError, match="belongs to another training run .*data"):
        train_world_model(tiny_data(episodes=10), TINY, cfg, tmp_path, progress=False)
    (tmp_path / "notes.safetensors").write_bytes(b"not a checkpoint")
    with pytest.raises(PhysworldError, match="not a readable safetensors"):
        load_checkpoint(tmp_path / "notes.safetensors")
