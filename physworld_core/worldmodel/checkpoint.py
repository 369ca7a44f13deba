"""World-model checkpoints as single safetensors files: no pickle anywhere.

Layout:

* tensors ``model/<state_dict key>``: weights and the standardisation buffers;
* tensors ``optimizer/<param index>/<state key>``: Adam moments (training checkpoints only);
* metadata ``format`` (:data:`FORMAT`), ``model_config`` (JSON of :class:`WorldModelConfig`), ``meta`` (JSON:
  phase, update, learning curve, data fingerprint, training config …) and ``optimizer`` (JSON of the
  optimizer's param groups and non-tensor state).

A training checkpoint (with the optimizer) lives in the lake's work area while training runs; the finished
model (without it) goes to the blob store. Writes go to a temporary file beside the target, are fsynced and
``os.replace``-d over it, so a run killed mid-write leaves the previous checkpoint whole.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from physworld_core.errors import PhysworldError
from physworld_core.worldmodel.model import WorldActionModel, WorldModelConfig

FORMAT = "physworld.worldmodel/1"
MODEL_PREFIX, OPTIMIZER_PREFIX = "model/", "optimizer/"


def save_checkpoint(
    path: str | Path,
    model: WorldActionModel,
    meta: dict[str, Any],
    optimizer_state: dict[str, Any] | None = None,
) -> Path:
    """Atomically write ``model``'s weights, JSON ``meta`` and, for a training checkpoint, the optimizer."""
    path = Path(path)
    tensors = {MODEL_PREFIX + key: tensor for key, tensor in model.state_dict().items()}
    skeleton: dict[str, Any] = {"param_groups": [], "state": {}}
    if optimizer_state is not None:
        skeleton["param_groups"] = optimizer_state["param_groups"]
        for index, state in optimizer_state["state"].items():
            skeleton["state"][str(index)] = {
                k: v for k, v in state.items() if not isinstance(v, torch.Tensor)
            }
            for key, value in state.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{OPTIMIZER_PREFIX}{index}/{key}"] = value
    tensors = {key: t.detach().cpu().contiguous().clone() for key, t in tensors.items()}
    metadata = {
        "format": FORMAT,
        "model_config": json.dumps(model.cfg.to_dict()),
        "meta": json.dumps(meta, allow_nan=False),
        "optimizer": json.dumps(skeleton, allow_nan=False),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, temporary, metadata=metadata)
        with open(temporary, "rb") as written:
            os.fsync(written.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
    return path


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[WorldActionModel, dict[str, Any], dict[str, Any] | None]:
    """Rebuild ``(model, meta, optimizer_state)`` (the optimizer state is None in a model-only file).

    Raises:
        PhysworldError: no file, or not a world-model checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise PhysworldError(f"no world-model checkpoint at {path}")
    try:
        with safe_open(path, framework="pt", device=str(device)) as checkpoint:
            metadata = checkpoint.metadata() or {}
            if metadata.get("format") != FORMAT:
                raise PhysworldError(
                    f"{path} is not a {FORMAT} checkpoint (format={metadata.get('format')!r})"
                )
            tensors = {key: checkpoint.get_tensor(key) for key in checkpoint.keys()}  # noqa: SIM118
    except (OSError, SafetensorError) as error:
        raise PhysworldError(f"{path} is not a readable safetensors checkpoint: {error}") from None
    model = WorldActionModel(WorldModelConfig.from_dict(json.loads(metadata["model_config"])))
    model.load_state_dict(
        {k.removeprefix(MODEL_PREFIX): v for k, v in tensors.items() if k.startswith(MODEL_PREFIX)}
    )
    model.to(device)
    skeleton = json.loads(metadata["optimizer"])
    optimizer_state = None
    if skeleton["param_groups"]:
        optimizer_state = {"param_groups": skeleton["param_groups"], "state": {}}
        for index, state in skeleton["state"].items():
            optimizer_state["state"][int(index)] = dict(state)
        for key, tensor in tensors.items():
            if key.startswith(OPTIMIZER_PREFIX):
                index, state_key = key.removeprefix(OPTIMIZER_PREFIX).split("/", 1)
                optimizer_state["state"].setdefault(int(index), {})[state_key] = tensor
    return model, json.loads(metadata["meta"]), optimizer_state


def fetch_checkpoint(store, uri: str) -> tuple[Path, str]:
    """The local path and SHA-256 of the world-model checkpoint stored at ``uri`` (a blob of the ``world_model``
    asset; downloaded once from S3): what a video or a trial made with it records as its lineage.

    Raises:
        PhysworldError: no blob at ``uri``, or not a world-model checkpoint.
    """
    try:
        path = store.blobs.local_path(uri)
    except PhysworldError as error:
        raise PhysworldError(
            f"world-model checkpoint {uri!r} cannot be read ({error}); give the checkpoint_uri of a "
            "world_model materialization"
        ) from None
    try:
        with safe_open(path, framework="pt") as checkpoint:
            found = (checkpoint.metadata() or {}).get("format")
    except (OSError, SafetensorError) as error:
        raise PhysworldError(f"{uri} is not a readable safetensors checkpoint: {error}") from None
    if found != FORMAT:
        raise PhysworldError(f"{uri} is not a {FORMAT} checkpoint (format={found!r})")
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return path, digest.hexdigest()
