"""PPO checkpoints as single safetensors files: no pickle anywhere.

Layout of ``ppo.safetensors``:

* tensors ``policy/<state_dict key>``: actor-critic weights and observation-normaliser statistics;
* tensors ``optimizer/<param index>/<state key>``: Adam moments and step counters;
* metadata ``format``: :data:`FORMAT`;
* metadata ``meta``: JSON with the training config, residual flag and scale, obs/act dims, update index,
  env steps, wall time and learning curve;
* metadata ``optimizer``: JSON with the optimizer's param groups and any non-tensor state.

Writes go to a temporary file in the same directory, are fsynced, then ``os.replace``-d over the target, so a
run killed mid-write leaves the previous checkpoint intact.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file

from physworld_core.errors import PhysworldError

if TYPE_CHECKING:
    from physworld_core.policy.ppo import ActorCritic

FORMAT = "physworld.ppo/1"
POLICY_PREFIX = "policy/"
OPTIMIZER_PREFIX = "optimizer/"


def save_checkpoint(
    path: str | Path,
    *,
    policy_state: dict[str, torch.Tensor],
    optimizer_state: dict[str, Any] | None,
    meta: dict[str, Any],
) -> Path:
    """Atomically write a policy ``state_dict``, an optional optimizer ``state_dict`` and JSON ``meta``."""
    path = Path(path)
    tensors = {POLICY_PREFIX + key: tensor for key, tensor in policy_state.items()}
    optimizer_skeleton: dict[str, Any] = {"param_groups": [], "state": {}}
    if optimizer_state is not None:
        optimizer_skeleton["param_groups"] = optimizer_state["param_groups"]
        for param_index, param_state in optimizer_state["state"].items():
            optimizer_skeleton["state"][str(param_index)] = {
                key: value for key, value in param_state.items() if not isinstance(value, torch.Tensor)
            }
            for key, value in param_state.items():
                if isinstance(value, torch.Tensor):
                    tensors[f"{OPTIMIZER_PREFIX}{param_index}/{key}"] = value
    tensors = {key: tensor.detach().cpu().contiguous().clone() for key, tensor in tensors.items()}
    metadata = {
        "format": FORMAT,
        "meta": json.dumps(meta, allow_nan=False),
        "optimizer": json.dumps(optimizer_skeleton, allow_nan=False),
    }

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        save_file(tensors, tmp_path, metadata=metadata)
        with open(tmp_path, "rb") as written:
            os.fsync(written.fileno())
        os.replace(tmp_path, path)
    finally:
        tmp_path.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path) -> tuple[dict[str, torch.Tensor], dict[str, Any], dict[str, Any]]:
    """Read ``(policy_state, optimizer_state, meta)``; ``optimizer_state`` loads into ``torch.optim.Adam``."""
    path = Path(path)
    if not path.is_file():
        raise PhysworldError(f"no PPO checkpoint at {path}")
    with safe_open(path, framework="pt") as checkpoint:
        metadata = checkpoint.metadata() or {}
        if metadata.get("format") != FORMAT:
            raise PhysworldError(f"{path} is not a {FORMAT} checkpoint (format={metadata.get('format')!r})")
        tensors = {key: checkpoint.get_tensor(key) for key in checkpoint.keys()}  # noqa: SIM118

    policy_state = {
        key.removeprefix(POLICY_PREFIX): tensor
        for key, tensor in tensors.items()
        if key.startswith(POLICY_PREFIX)
    }
    skeleton = json.loads(metadata["optimizer"])
    optimizer_state: dict[str, Any] = {"param_groups": skeleton["param_groups"], "state": {}}
    for param_index, non_tensor_state in skeleton["state"].items():
        optimizer_state["state"][int(param_index)] = dict(non_tensor_state)
    for key, tensor in tensors.items():
        if key.startswith(OPTIMIZER_PREFIX):
            param_index, state_key = key.removeprefix(OPTIMIZER_PREFIX).split("/", 1)
            optimizer_state["state"].setdefault(int(param_index), {})[state_key] = tensor
    return policy_state, optimizer_state, json.loads(metadata["meta"])


def load_policy(path: str | Path) -> tuple[ActorCritic, dict[str, Any]]:
    """Rebuild the trained policy (in eval mode) and return it with the checkpoint's metadata.

    For evaluation pass ``meta["residual"]`` and ``meta["residual_scale"]`` to ``policy_action``.
    """
    # Imported here because ppo.py imports this module to write checkpoints while training.
    from physworld_core.policy.ppo import ActorCritic, PPOConfig

    policy_state, _, meta = load_checkpoint(path)
    cfg = PPOConfig.from_dict(meta["config"])
    policy = ActorCritic(meta["obs_dim"], meta["act_dim"], cfg.hidden_sizes, cfg.init_log_std)
    policy.load_state_dict(policy_state)
    return policy.eval(), meta
