"""Training the world-action model, in three phases that read top to bottom:

1. **autoencoder**: the frame autoencoder learns to reconstruct frames (the clip set's and the training
   episodes'); then every frame is encoded once and the latents are standardised. A pixel's error counts
   more the further it is from the data's median frame (``foreground_weight``): with a fixed camera that
   median is the empty scene, which the decoder learns anyway, while the arm and the objects, a small part
   of each frame, are what the policy has to read (measured on the bench data: the error on those pixels
   fell by a fifth at the same number of updates).
2. **video**: video pretraining. The transformer learns to predict the next frame latent on clip windows,
   every action slot holding the mask token (a clip has no actions). ``video_updates=0`` or no clips skips it.
3. **actions**: action fine-tuning on the LeRobot episodes: the next frame latent at every action token and
   the next ``lookahead`` actions at every frame token (L-MTP), the losses summed.

Episodes are split once, by a hash of their keys (not by a seed): the same validation episodes whatever the
seed, the subset size (``max_episodes``: the first n of the others in that order, so 50 ⊂ 200 ⊂ all) or the
arm of an ablation. Validation losses every ``eval_every`` updates make the learning curves.

Checkpoints (``world_model.safetensors``, see :mod:`physworld_core.worldmodel.checkpoint`) are written every
``checkpoint_every`` updates and at the end of each phase. Called again with the same directory, config and
data, a killed run resumes: finished phases are not redone, the running one continues at its update with its
optimizer. Each update's batch is drawn from a generator seeded by (seed, phase, update), so a resumed run
makes the same updates an uninterrupted one would have.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from physworld_core.errors import PhysworldError
from physworld_core.worldmodel.checkpoint import load_checkpoint, save_checkpoint
from physworld_core.worldmodel.config import TrainConfig
from physworld_core.worldmodel.data import Episode, WorldModelDataError, fit_episode
from physworld_core.worldmodel.model import (
    WorldActionModel,
    WorldModelConfig,
    frames_to_tensor,
    parameter_count,
    sequence_losses,
)

logger = logging.getLogger(__name__)

CHECKPOINT_NAME = "world_model.safetensors"
PHASES = ("autoencoder", "video", "actions")
WARMUP_UPDATES = 50
MAX_LEVELS = 2


# ------------------------------------------------------------------------------------------------- data


@dataclass(frozen=True, eq=False)
class TrainingData:
    """Episodes and clips at the model's size and rate, split, with a fingerprint of their content.

    Build it with :func:`prepare_data`, which checks everything before training starts."""

    train: tuple[Episode, ...]
    validation: tuple[Episode, ...]
    clips: tuple[Episode, ...]
    fingerprint: str
    action_names: tuple[str, ...] | None = None
    action_levels: tuple[tuple[float, ...] | None, ...] = ()
    """Per action dimension, the values it takes when it takes at most :data:`MAX_LEVELS` (a gripper's
    open/close command), else None: the model regresses the mean, the policy snaps to the nearest level."""

    def summary(self) -> dict[str, int]:
        return {
            "train_episodes": len(self.train),
            "validation_episodes": len(self.validation),
            "clips": len(self.clips),
            "train_frames": sum(len(e.frames) for e in self.train),
            "clip_frames": sum(len(c.frames) for c in self.clips),
        }


def _key_order(episode: Episode) -> str:
    return hashlib.sha256(episode.key.encode()).hexdigest()


def prepare_data(
    model_cfg: WorldModelConfig,
    episodes: list[Episode],
    clips: list[Episode] = (),
    validation_fraction: float = 0.1,
    max_episodes: int | None = None,
) -> TrainingData:
    """Fit every episode and clip to the model (:func:`~physworld_core.worldmodel.data.fit_episode`), split
    the episodes into training and validation ones, and fingerprint the result.

    Raises:
        WorldModelDataError: no episodes, fewer than two (one must validate), an episode without actions,
            a clip too short for one step, or anything :func:`fit_episode` refuses.
    """
    if not episodes:
        raise WorldModelDataError("no episodes to fine-tune on: the selection is empty")
    if len(episodes) < 2:
        raise WorldModelDataError(
            f"{len(episodes)} episode: at least 2 are needed (one is held out to validate on)"
        )
    fitted = []
    for episode in episodes:
        if episode.actions is None:
            raise WorldModelDataError(f"{episode.key}: an action episode without actions")
        fitted.append(fit_episode(episode, model_cfg.image_size, model_cfg.fps, model_cfg.action_dim))
    fitted_clips = [fit_episode(c, model_cfg.image_size, model_cfg.fps) for c in clips]
    short = [c.key for c in fitted_clips if len(c.frames) < 2]
    if short:
        raise WorldModelDataError(f"clip {short[0]} has fewer than 2 frames at {model_cfg.fps:g} fps")
    ordered = sorted(fitted, key=_key_order)
    held_out = max(1, round(validation_fraction * len(ordered)))
    validation, train = ordered[:held_out], ordered[held_out:]
    if max_episodes is not None:
        train = train[:max_episodes]
    digest = hashlib.sha256(f"{model_cfg.image_size}:{model_cfg.fps}".encode())
    for group in (train, validation, fitted_clips):
        for e in group:
            digest.update(e.key.encode())
            digest.update(e.frames.tobytes())
            if e.actions is not None:
                digest.update(e.actions.tobytes())
        digest.update(b"|")
    names = {e.action_names for e in fitted}
    if len(names) > 1:
        raise WorldModelDataError(
            f"the episodes name their action dimensions differently: {sorted(map(str, names))}"
        )
    actions = np.concatenate([e.actions for e in train or validation])
    levels = tuple(
        tuple(float(v) for v in values) if len(values := np.unique(column)) <= MAX_LEVELS else None
        for column in actions.T
    )
    return TrainingData(
        tuple(train), tuple(validation), tuple(fitted_clips), digest.hexdigest(), names.pop(), levels
    )


def _windows(
    rng: np.random.Generator,
    latents: list[torch.Tensor],
    actions: list[torch.Tensor] | None,
    batch: int,
    window: int,
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """``batch`` windows of ``window`` steps, each from a random sequence at a random start (every start
    equally likely), padded at the end: (latents, actions or None, valid)."""
    lengths = np.array([len(x) for x in latents])
    starts_per = np.maximum(lengths - window + 1, 1)
    picks = rng.choice(len(latents), size=batch, p=starts_per / starts_per.sum())
    out_latents = torch.zeros(batch, window, latents[0].shape[1])
    out_actions = None if actions is None else torch.zeros(batch, window, actions[0].shape[1])
    valid = torch.zeros(batch, window, dtype=torch.bool)
    for row, index in enumerate(picks):
        start = int(rng.integers(starts_per[index]))
        piece = latents[index][start : start + window]
        out_latents[row, : len(piece)] = piece
        valid[row, : len(piece)] = True
        if out_actions is not None:
            out_actions[row, : len(piece)] = actions[index][start : start + window]
    return out_latents, out_actions, valid


def _tiled_windows(
    latents: list[torch.Tensor], actions: list[torch.Tensor] | None, window: int
) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
    """Every sequence cut into consecutive windows (the last one padded): the fixed validation batch."""
    pieces = [(i, s) for i, x in enumerate(latents) for s in range(0, len(x), window)]
    out_latents = torch.zeros(len(pieces), window, latents[0].shape[1])
    out_actions = None if actions is None else torch.zeros(len(pieces), window, actions[0].shape[1])
    valid = torch.zeros(len(pieces), window, dtype=torch.bool)
    for row, (index, start) in enumerate(pieces):
        piece = latents[index][start : start + window]
        out_latents[row, : len(piece)] = piece
        valid[row, : len(piece)] = True
        if out_actions is not None:
            out_actions[row, : len(piece)] = actions[index][start : start + window]
    return out_latents, out_actions, valid


# ----------------------------------------------------------------------------------------------- training


@dataclass
class TrainResult:
    """What :func:`train_world_model` hands back.

    Args:
        model: the trained model (eval mode, on the training device).
        curve: one dict per evaluation: ``phase``, ``update``, ``wall_s`` (cumulative, across resumes), the
            mean training losses since the last entry (``train_<name>``) and the validation ones (``val_<name>``:
            ``reconstruction`` in the autoencoder phase, ``frame`` and, when fine-tuning, ``action`` and
            ``next_action``).
        wall_seconds: training wall time, including time before a resume.
        checkpoint_path: the last training checkpoint (None without a checkpoint directory).
        resumed_from: (phase, update) the run resumed after; None when it started fresh.
        parameters: the model's parameter count.
        data: :meth:`TrainingData.summary`.
    """

    model: WorldActionModel
    curve: list[dict[str, Any]]
    wall_seconds: float
    checkpoint_path: Path | None
    resumed_from: tuple[str, int] | None
    parameters: int
    data: dict[str, int]

    def final(self, name: str) -> float | None:
        """The last validation value of ``name`` (e.g. ``next_action``)."""
        values = [e[f"val_{name}"] for e in self.curve if f"val_{name}" in e]
        return values[-1] if values else None


def _learning_rate(base: float, update: int, total: int) -> float:
    """Linear warm-up over the first updates, then cosine decay to 10 % of ``base``."""
    warmup = min(WARMUP_UPDATES, max(1, total // 10))
    if update <= warmup:
        return base * update / warmup
    progress = (update - warmup) / max(1, total - warmup)
    return base * (0.1 + 0.9 * 0.5 * (1.0 + math.cos(math.pi * progress)))


def _action_statistics(episodes: tuple[Episode, ...], dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    actions = np.concatenate([e.actions for e in episodes]).astype(np.float64)
    mean, std = actions.mean(0), actions.std(0)
    return torch.as_tensor(mean, dtype=torch.float32), torch.as_tensor(
        np.maximum(std, 1e-3), dtype=torch.float32
    )


@torch.no_grad()
def encode_episodes(
    model: WorldActionModel, episodes: tuple[Episode, ...], device: str, batch: int = 256
) -> list[torch.Tensor]:
    """Every episode's frames → standardised latents (T, latent_dim), on the CPU."""
    out = []
    for episode in episodes:
        pieces = [
            model.encode_frames(frames_to_tensor(episode.frames[i : i + batch], device)).cpu()
            for i in range(0, len(episode.frames), batch)
        ]
        out.append(torch.cat(pieces))
    return out


def train_world_model(
    data: TrainingData,
    model_cfg: WorldModelConfig,
    cfg: TrainConfig = TrainConfig(),
    checkpoint_dir: str | Path | None = None,
    progress: bool = True,
    log_fn: Callable[[dict[str, Any]], None] | None = None,
    on_checkpoint: Callable[[Path], None] | None = None,
) -> TrainResult:
    """Train the model on ``data`` through the three phases (see the module doc).

    With ``checkpoint_dir``, ``world_model.safetensors`` there is written every ``cfg.checkpoint_every``
    updates and at each phase's end; an existing one (a killed or finished run) is resumed from. Its model
    config, training identity (:meth:`TrainConfig.identity`) and data fingerprint must match, else this
    raises. ``log_fn`` gets every curve entry; ``on_checkpoint`` the path of every checkpoint written.
    """
    device = torch.device(cfg.device)
    previous_threads = torch.get_num_threads()
    if cfg.threads is not None:
        torch.set_num_threads(cfg.threads)
    try:
        return _train(data, model_cfg, cfg, device, checkpoint_dir, progress, log_fn, on_checkpoint)
    finally:
        torch.set_num_threads(previous_threads)


def _train(data, model_cfg, cfg, device, checkpoint_dir, progress, log_fn, on_checkpoint) -> TrainResult:
    torch.manual_seed(cfg.seed)
    model = WorldActionModel(model_cfg).to(device)
    model.action_mean, model.action_std = (
        t.to(device) for t in _action_statistics(data.train, model_cfg.action_dim)
    )
    checkpoint_path = Path(checkpoint_dir) / CHECKPOINT_NAME if checkpoint_dir is not None else None
    identity = {"model": model_cfg.to_dict(), "train": cfg.identity(), "data": data.fingerprint}

    # Resume from a previous run's checkpoint if there is one.
    done_phase, done_update, curve, wall_before, optimizer_state = -1, 0, [], 0.0, None
    resumed_from = None
    if checkpoint_path is not None and checkpoint_path.exists():
        saved, meta, optimizer_state = load_checkpoint(checkpoint_path, device)
        if meta["identity"] != identity:
            differences = sorted(
                k for k in ("model", "train", "data") if meta["identity"].get(k) != identity[k]
            )
            raise PhysworldError(
                f"{checkpoint_path} belongs to another training run (its {', '.join(differences)} differ); "
                "use another checkpoint directory or delete it to start over"
            )
        model.load_state_dict(saved.state_dict())
        done_phase, done_update = PHASES.index(meta["phase"]), meta["update"]
        curve, wall_before = meta["curve"], meta["wall_seconds"]
        resumed_from = (meta["phase"], done_update)
        logger.info("%s: resuming %s phase after update %d", checkpoint_path, meta["phase"], done_update)

    start_time = time.perf_counter()
    window = model_cfg.context_frames
    latents: dict[str, list[torch.Tensor]] = {}
    actions = [model.normalise_actions(torch.as_tensor(e.actions, device=device)).cpu() for e in data.train]
    validation_actions = [
        model.normalise_actions(torch.as_tensor(e.actions, device=device)).cpu() for e in data.validation
    ]

    def wall() -> float:
        return wall_before + time.perf_counter() - start_time

    def save(phase: str, update: int, optimizer: torch.optim.Optimizer) -> None:
        if checkpoint_path is None:
            return
        meta = {
            "identity": identity,
            "phase": phase,
            "update": update,
            "curve": curve,
            "wall_seconds": wall(),
            "train_config": cfg.to_dict(),
            "action_names": list(data.action_names) if data.action_names else None,
            "action_levels": [list(v) if v else None for v in data.action_levels],
        }
        save_checkpoint(checkpoint_path, model, meta, optimizer.state_dict())
        if on_checkpoint is not None:
            on_checkpoint(checkpoint_path)

    for phase_index, phase in enumerate(PHASES):
        total = cfg.updates(phase)
        if phase == "video" and not data.clips:
            total = 0
        if phase_index < done_phase or (phase_index == done_phase and done_update >= total):
            continue
        if total == 0:
            continue
        start = done_update if phase_index == done_phase else 0

        # Once the autoencoder is trained, every frame is encoded once: the transformer phases read latents.
        model.eval()
        if phase != "autoencoder" and "train" not in latents:
            latents["train"] = encode_episodes(model, data.train, device)
            latents["validation"] = encode_episodes(model, data.validation, device)
        if phase == "video":
            latents["clips"] = encode_episodes(model, data.clips, device)

        if phase == "autoencoder":
            parameters = list(model.autoencoder.parameters())
            base_lr = cfg.autoencoder_learning_rate
        else:
            parameters = [p for n, p in model.named_parameters() if not n.startswith("autoencoder.")]
            base_lr = cfg.learning_rate
        optimizer = torch.optim.AdamW(parameters, lr=base_lr, weight_decay=cfg.weight_decay)
        if start > 0 and optimizer_state is not None:
            optimizer.load_state_dict(optimizer_state)
        model.train()

        if phase == "autoencoder":
            pool = np.concatenate([e.frames for e in (*data.clips, *data.train)])
            background = frames_to_tensor(np.median(pool[:: max(1, len(pool) // 2048)], axis=0), device)
        bar = tqdm(
            total=total,
            initial=start,
            disable=not progress,
            unit="update",
            desc=f"world model {phase}" + (f" (resuming at {start})" if start else ""),
        )
        running: dict[str, list[float]] = {}
        for update in range(start + 1, total + 1):
            rng = np.random.default_rng([cfg.seed, phase_index, update])
            for group in optimizer.param_groups:
                group["lr"] = _learning_rate(base_lr, update, total)

            if phase == "autoencoder":
                frames = frames_to_tensor(pool[rng.integers(len(pool), size=cfg.autoencoder_batch)], device)
                reconstruction = model.autoencoder.decode(model.autoencoder.encode(frames))
                error = (reconstruction - frames) ** 2
                weight = 1.0 + cfg.foreground_weight * (frames - background).abs().mean(1, keepdim=True)
                losses = {"reconstruction": error.mean()}
                loss = (weight * error).mean() / weight.mean()
            elif phase == "video":
                batch_latents, _, valid = _windows(rng, latents["clips"], None, cfg.batch_size, window)
                losses = sequence_losses(model, batch_latents.to(device), None, valid.to(device))
                loss = losses["frame"]
            else:
                batch_latents, batch_actions, valid = _windows(
                    rng, latents["train"], actions, cfg.batch_size, window
                )
                losses = sequence_losses(
                    model, batch_latents.to(device), batch_actions.to(device), valid.to(device)
                )
                loss = losses["action"] + cfg.frame_loss_weight * losses["frame"]
            if not torch.isfinite(loss):
                raise PhysworldError(
                    f"the world model's {phase} loss became non-finite at update {update}; check the data "
                    "for NaN/inf actions or lower the learning rate"
                )
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(parameters, cfg.grad_clip)
            optimizer.step()
            for name, value in losses.items():
                running.setdefault(name, []).append(float(value.detach()))

            if update % cfg.eval_every == 0 or update == total:
                entry = {"phase": phase, "update": update, "wall_s": round(wall(), 2)}
                entry |= {f"train_{k}": float(np.mean(v)) for k, v in running.items()}
                entry |= {
                    f"val_{k}": v
                    for k, v in _validate(model, phase, data, latents, validation_actions, device).items()
                }
                curve.append(entry)
                running = {}
                bar.set_postfix(
                    {k: round(v, 4) for k, v in entry.items() if k.startswith("val_")}, refresh=False
                )
                if log_fn is not None:
                    log_fn(entry)
                model.train()
            if phase == "autoencoder" and update == total:  # the statistics the later phases read
                model.eval()
                _standardise_latents(model, data, device)
            if update % cfg.checkpoint_every == 0 or update == total:
                save(phase, update, optimizer)
            bar.update(1)
        bar.close()

    return TrainResult(
        model=model.eval(),
        curve=curve,
        wall_seconds=wall(),
        checkpoint_path=checkpoint_path,
        resumed_from=resumed_from,
        parameters=parameter_count(model),
        data=data.summary(),
    )


@torch.no_grad()
def _standardise_latents(model: WorldActionModel, data: TrainingData, device: torch.device) -> None:
    """Set the latent mean/std buffers from the training frames' raw latents (every k-th frame, ≤ 4096)."""
    frames = np.concatenate([e.frames for e in (*data.clips, *data.train)])
    frames = frames[:: max(1, len(frames) // 4096)]
    raw = torch.cat(
        [
            model.autoencoder.encode(frames_to_tensor(frames[i : i + 256], device)).flatten(1)
            for i in range(0, len(frames), 256)
        ]
    )
    model.latent_mean.copy_(raw.mean(0))
    model.latent_std.copy_(raw.std(0).clamp(min=1e-3))


@torch.no_grad()
def _validate(
    model: WorldActionModel,
    phase: str,
    data: TrainingData,
    latents: dict[str, list[torch.Tensor]],
    validation_actions: list[torch.Tensor],
    device: torch.device,
) -> dict[str, float]:
    model.eval()
    if phase == "autoencoder":
        frames = np.concatenate([e.frames for e in data.validation])
        frames = frames_to_tensor(frames[:: max(1, len(frames) // 256)], device)
        reconstruction = model.autoencoder.decode(model.autoencoder.encode(frames))
        return {"reconstruction": float(((reconstruction - frames) ** 2).mean())}
    window = model.cfg.context_frames
    batch_latents, batch_actions, valid = _tiled_windows(latents["validation"], validation_actions, window)
    if phase == "video":  # what pretraining learns: next frames, the actions unknown
        batch_actions = None
    else:
        batch_actions = batch_actions.to(device)
    losses = sequence_losses(model, batch_latents.to(device), batch_actions, valid.to(device))
    return {k: float(v) for k, v in losses.items()}
