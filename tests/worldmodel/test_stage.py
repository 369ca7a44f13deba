"""The stage the ``world_model`` asset calls: exports in, a safetensors blob out, the work area cleared; bad input
stops it before training and writes nothing."""

from __future__ import annotations

import hashlib
import json
from dataclasses import replace
from pathlib import Path

import pytest

from physworld_core.lake.work import WorkArea
from physworld_core.worldmodel.checkpoint import load_checkpoint
from physworld_core.worldmodel.data import WorldModelDataError
from physworld_core.worldmodel.model import WorldModelConfig
from physworld_core.worldmodel.stage import (
    WORK_SCOPE,
    WORK_STAGE,
    WorldModelStageConfig,
    run_world_model_stage,
)
from physworld_core.worldmodel.train import TrainConfig

CONFIG = WorldModelStageConfig(
    model=WorldModelConfig(
        image_size=16, latent_grid=4, width=32, layers=2, heads=2, lookahead=2, context_frames=4
    ),
    train=TrainConfig(
        autoencoder_updates=6,
        video_updates=4,
        action_updates=4,
        batch_size=4,
        autoencoder_batch=8,
        eval_every=2,
        checkpoint_every=2,
        validation_fraction=0.25,
        threads=1,
    ),
)


def _blobs(store) -> set[str]:
    return {str(p) for p in Path(store.lake.root, "blobs").rglob("*") if p.is_file()}


def test_stage_trains_on_the_exports_and_stores_the_model(tiny_lake):
    store, lerobot_root, clips_root, _ = tiny_lake
    result = run_world_model_stage(store, lerobot_root, clips_root, CONFIG, progress=False)
    path = store.blobs.local_path(result.checkpoint_uri)
    assert hashlib.sha256(path.read_bytes()).hexdigest() == result.checkpoint_sha256
    model, meta, optimizer = load_checkpoint(path)
    assert optimizer is None and model.cfg == CONFIG.model  # the stored model carries no optimizer
    markers = {
        name: json.loads((Path(root) / "physworld_export.json").read_text())["fingerprint"]
        for name, root in (("lerobot", lerobot_root), ("clips", clips_root))
    }
    assert {k: meta["lineage"][k]["fingerprint"] for k in markers} == markers
    assert meta["lineage"]["lerobot"]["uri"] == lerobot_root
    assert meta["action_names"] == ["delta_x", "delta_y", "delta_z", "delta_yaw", "gripper"]
    # 8 episodes of 24 frames at 20 fps → 12 frames at 10 fps; 2 held out; 8 clips
    assert result.train.data == {
        "train_episodes": 6,
        "validation_episodes": 2,
        "clips": 8,
        "train_frames": 72,
        "clip_frames": 96,
    }
    assert [e["phase"] for e in meta["curve"]] == ["autoencoder"] * 3 + ["video"] * 2 + ["actions"] * 2
    assert result.samples.shape == (12, 16, 32, 3)  # true | predicted, side by side
    assert WorkArea.from_lake(store.lake).keys(WORK_STAGE, WORK_SCOPE) == []  # the work folder is cleared


def test_stage_without_video_pretraining_does_not_read_the_clips(tiny_lake):
    store, lerobot_root, _, _ = tiny_lake
    config = replace(CONFIG, pretrain_video=False)
    result = run_world_model_stage(store, lerobot_root, "/no/such/clip/set", config, progress=False)
    assert result.train.data["clips"] == 0 and result.lineage["clips"] is None
    assert {e["phase"] for e in result.train.curve} == {"autoencoder", "actions"}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"model": replace(CONFIG.model, image_size=24, latent_grid=3)}, "built for 24x24"),
        ({"model": replace(CONFIG.model, fps=15.0)}, "no whole multiple"),
        ({"camera_key": "observation.images.wrist"}, "no camera feature"),
    ],
)
def test_bad_input_stops_the_stage_before_training(tiny_lake, change, message):
    store, lerobot_root, clips_root, _ = tiny_lake
    before = _blobs(store)
    with pytest.raises(WorldModelDataError, match=message):
        run_world_model_stage(store, lerobot_root, clips_root, replace(CONFIG, **change), progress=False)
    assert _blobs(store) == before
    assert not Path(store.lake.root, "work", WORK_STAGE).exists() or not any(
        p.is_file() for p in Path(store.lake.root, "work", WORK_STAGE).rglob("*")
    )
