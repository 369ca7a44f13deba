"""World-model stage I/O: read the exports, train (resumably, in the lake's work area), store the checkpoint.

``run_world_model_stage`` is what the ``world_model`` asset calls. It reads the LeRobot dataset (action
fine-tuning) and, optionally, the video clip set (video pretraining), checks everything against the model
before any update (:func:`~physworld_core.worldmodel.train.prepare_data`), trains with its checkpoints in
``<lake>/work/worldmodel/all/<key>`` (``key``: a hash of the configs and the data, so a killed run resumes
and a run with other settings starts its own), writes the finished model (weights, configs, curve, the data
it read and the action names; no optimizer) to the blob store as safetensors and clears the work folder.
"""

from __future__ import annotations

import hashlib
import json
import logging
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from physworld_core.lake.work import WorkArea
from physworld_core.store import Store
from physworld_core.worldmodel.backend import rollout_video
from physworld_core.worldmodel.checkpoint import save_checkpoint
from physworld_core.worldmodel.data import filesystem, read_clip_set, read_lerobot
from physworld_core.worldmodel.model import WorldModelConfig
from physworld_core.worldmodel.train import (
    CHECKPOINT_NAME,
    TrainConfig,
    TrainResult,
    prepare_data,
    train_world_model,
)

logger = logging.getLogger(__name__)

WORK_STAGE, WORK_SCOPE = "worldmodel", "all"
"""The work area's stage and task folder: one model reads every task's data."""
EXPORT_MARKER = "physworld_export.json"


@dataclass(frozen=True)
class WorldModelStageConfig:
    """Args:
    model: the model's shape (image size, widths, lookahead K, context, fps).
    train: the training phases and their budgets.
    camera_key: the LeRobot camera feature to train on (None: the dataset's only camera).
    pretrain_video: read the clip set and pretrain on it (False: the no-pretraining ablation; the clip set
        is not read).
    """

    model: WorldModelConfig = field(default_factory=WorldModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    camera_key: str | None = None
    pretrain_video: bool = True


@dataclass(frozen=True)
class WorldModelStageResult:
    """Args:
    checkpoint_uri, checkpoint_sha256: the model blob.
    train: the training result (curve, parameter count, data summary, wall time).
    samples: (T, S, 2S, 3) uint8: a validation episode, true frames left and frames the model predicted
        from its first frame and its actions right.
    lineage: the exports read (URIs and fingerprints).
    seconds: stage wall time (reading included).
    """

    checkpoint_uri: str
    checkpoint_sha256: str
    train: TrainResult
    samples: np.ndarray
    lineage: dict[str, Any]
    seconds: float


def export_fingerprint(uri: str, storage_options: dict | None = None) -> str | None:
    """The fingerprint physworld wrote beside an export (None for a dataset from elsewhere)."""
    fs, path = filesystem(uri, storage_options)
    marker = f"{path}/{EXPORT_MARKER}"
    return json.loads(fs.cat_file(marker))["fingerprint"] if fs.exists(marker) else None


def run_world_model_stage(
    store: Store,
    lerobot_uri: str,
    clips_uri: str | None = None,
    config: WorldModelStageConfig = WorldModelStageConfig(),
    progress: bool = True,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
) -> WorldModelStageResult:
    """Train the world model on the exports at ``lerobot_uri`` (and ``clips_uri``) and store it.

    Raises:
        WorldModelDataError: the exports cannot be read or do not fit the model (before any training).
    """
    start = time.time()
    options = store.lake.storage_options
    episodes = read_lerobot(lerobot_uri, camera_key=config.camera_key, storage_options=options)
    clips = read_clip_set(clips_uri, storage_options=options) if clips_uri and config.pretrain_video else []
    data = prepare_data(
        config.model, episodes, clips, config.train.validation_fraction, config.train.max_episodes
    )
    lineage = {
        "lerobot": {"uri": lerobot_uri, "fingerprint": export_fingerprint(lerobot_uri, options)},
        "clips": {"uri": clips_uri, "fingerprint": export_fingerprint(clips_uri, options)} if clips else None,
        "data_fingerprint": data.fingerprint,
    }
    key = hashlib.sha256(
        json.dumps(
            {"model": config.model.to_dict(), "train": config.train.identity(), "data": data.fingerprint},
            sort_keys=True,
        ).encode()
    ).hexdigest()[:16]
    work = WorkArea.from_lake(store.lake)
    folder = work.folder(WORK_STAGE, WORK_SCOPE, f"model-{key}")
    found = CHECKPOINT_NAME in folder.pull()
    logger.info(
        "world model: %s in %s", "resuming from the checkpoint" if found else "checkpoints", folder.uri
    )
    result = train_world_model(
        data,
        config.model,
        config.train,
        folder.local,
        progress=progress,
        log_fn=log_fn,
        on_checkpoint=lambda path: folder.push(path.name),
    )
    model = result.model.cpu()
    meta = {
        "curve": result.curve,
        "train_config": config.train.to_dict(),
        "data": result.data,
        "lineage": lineage,
        "action_names": list(data.action_names) if data.action_names else None,
        "action_levels": [list(v) if v else None for v in data.action_levels],
        "parameters": result.parameters,
        "wall_seconds": result.wall_seconds,
    }
    with tempfile.TemporaryDirectory() as tmp:
        path = save_checkpoint(Path(tmp) / "world_model.safetensors", model, meta)
        ref = store.blobs.put_file(path)
    samples = sample_predictions(model, data.validation[0])
    work.clear(WORK_STAGE, WORK_SCOPE)  # the model is a blob now; other settings' folders are stale
    return WorldModelStageResult(ref.uri, ref.sha256, result, samples, lineage, time.time() - start)


def sample_predictions(model, episode, max_frames: int = 48) -> np.ndarray:
    """A validation episode's true frames beside the ones the model predicts from its first frame and its
    actions (open loop: the model's own predictions are fed back), at the model's size."""
    steps = min(len(episode.frames), max_frames)
    with torch.no_grad():
        predicted, _ = rollout_video(model, episode.frames[0], steps, episode.actions[: steps - 1])
    return np.concatenate([episode.frames[:steps], predicted], axis=2)
