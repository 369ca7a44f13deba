"""World model: the PhysGen-style world-action model trained on the exports (``physworld_core.worldmodel``).

The asset reads the LeRobot dataset and the video clip set the ``export`` assets last wrote (or the roots
given in its config), trains, and stores the model as a safetensors blob. Its metadata carries the blob's
address and hash (the model version the ``learned`` video backend and the ``world_model`` evaluation method
record in their rows), the exports it read, the parameter count, the learning curves and the model's own
predictions of a held-out episode beside the truth.
"""

import dagster as dg
import numpy as np

from assets.metadata import (
    INLINE_MARKDOWN_LIMIT,
    OWNERS,
    Column,
    _inline,
    _svg_data_uri,
    gif_md,
    seconds,
    strip_md,
    table,
)
from physworld_core.worldmodel.config import TrainConfig, WorldModelConfig  # torch-free: read at load
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage

_MODEL, _TRAIN = WorldModelConfig(), TrainConfig()  # the asset's defaults are the core's


class WorldModelAssetConfig(dg.Config):
    lerobot: str | None = None  # dataset root; default: the uri of the latest lerobot_dataset materialization
    clips: str | None = (
        None  # clip set root; default: the uri of the latest video_training_set materialization
    )
    pretrain_video: bool = True  # False: fine-tune on actions only (the clip set is not read)
    camera_key: str | None = None  # the dataset's camera feature; None: its only one
    image_size: int = _MODEL.image_size
    latent_grid: int = _MODEL.latent_grid
    width: int = _MODEL.width
    layers: int = _MODEL.layers
    heads: int = _MODEL.heads
    lookahead: int = _MODEL.lookahead  # K actions predicted at once (L-MTP); 1: next action only
    context_frames: int = _MODEL.context_frames
    fps: float = _MODEL.fps
    autoencoder_updates: int = _TRAIN.autoencoder_updates
    video_updates: int = _TRAIN.video_updates
    action_updates: int = _TRAIN.action_updates
    batch_size: int = _TRAIN.batch_size
    max_episodes: int | None = None  # training episodes used (None: all but the validation ones)
    seed: int = _TRAIN.seed
    device: str = _TRAIN.device  # "cuda" on a GPU machine, with larger sizes
    threads: int | None = _TRAIN.threads

    def core(self):
        from dataclasses import replace

        from physworld_core.worldmodel.stage import WorldModelStageConfig

        model = replace(
            _MODEL,
            image_size=self.image_size,
            latent_grid=self.latent_grid,
            width=self.width,
            layers=self.layers,
            heads=self.heads,
            lookahead=self.lookahead,
            context_frames=self.context_frames,
            fps=self.fps,
        )
        train = replace(
            _TRAIN,
            autoencoder_updates=self.autoencoder_updates,
            video_updates=self.video_updates,
            action_updates=self.action_updates,
            batch_size=self.batch_size,
            max_episodes=self.max_episodes,
            seed=self.seed,
            device=self.device,
            threads=self.threads,
        )
        return WorldModelStageConfig(model, train, self.camera_key, self.pretrain_video)


def latest_world_model_checkpoint(instance: dg.DagsterInstance) -> str | None:
    """The blob URI of the latest ``world_model`` materialization's checkpoint (None before the first): what
    the evaluation's ``world_model`` method runs by default."""
    event = instance.get_latest_materialization_event(dg.AssetKey("world_model"))
    if event is None or "checkpoint_uri" not in event.asset_materialization.metadata:
        return None
    return str(event.asset_materialization.metadata["checkpoint_uri"].value)


def _latest_export(context: dg.AssetExecutionContext, asset: str) -> str:
    event = context.instance.get_latest_materialization_event(dg.AssetKey(asset))
    if event is None or "uri" not in event.asset_materialization.metadata:
        raise dg.Failure(f"no {asset} materialization to train on: materialize the export job first")
    return str(event.asset_materialization.metadata["uri"].value)


_LOSS_COLOURS = {"reconstruction": "grey", "frame": "blue", "next_action": "red"}


def loss_curve_md(curve: list[dict]) -> dg.MetadataValue:
    """Validation losses against updates (phases one after the other, log scale), as inline SVG: the
    autoencoder's reconstruction, the next-frame latent and the next action."""
    offsets, total = {}, 0
    for phase in ("autoencoder", "video", "actions"):
        offsets[phase] = total
        total += max((e["update"] for e in curve if e["phase"] == phase), default=0)
    points = {
        name: [(offsets[e["phase"]] + e["update"], e[f"val_{name}"]) for e in curve if f"val_{name}" in e]
        for name in _LOSS_COLOURS
    }
    values = [v for line in points.values() for _, v in line if v > 0]
    low, high = np.log10(min(values)), np.log10(max(values))
    span = max(high - low, 1e-6)
    for keep in (24, 12, 6, 3):
        parts = [
            "<svg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 100 50' width='300' height='150' font-size='3.5'>",
            "<path d='M6,1V43H99' fill='none' stroke='grey' stroke-width='.3'/>",
            f"<text y='4'>{10**high:.2g}</text><text y='43'>{10**low:.2g}</text>",
            f"<text x='99' y='48' text-anchor='end'>{total} updates</text><g fill='none' stroke-width='.8'>",
        ]
        for row, (name, line) in enumerate(points.items()):
            line = [p for p in line if p[1] > 0]
            if not line:
                continue
            picked = np.unique(np.linspace(0, len(line) - 1, min(keep, len(line))).round().astype(int))
            xy = ",".join(
                f"{round(6 + 93 * line[i][0] / total)},{round(43 - 42 * (np.log10(line[i][1]) - low) / span)}"
                for i in picked
            )
            parts.append(f"<polyline points='{xy}' stroke='{_LOSS_COLOURS[name]}'/>")
            parts.append(f"<text x='60' y='{5 + 4 * row}' fill='{_LOSS_COLOURS[name]}'>{name}</text>")
        parts += ["</g></svg>"]
        uri = _svg_data_uri("".join(parts))
        if len(uri) + 20 < INLINE_MARKDOWN_LIMIT:
            return _inline("validation losses", uri)
    raise ValueError("the loss curves do not fit an inline picture")


DATA_COLUMNS = (
    Column("train_episodes", "int", "LeRobot episodes fine-tuned on"),
    Column("validation_episodes", "int", "episodes held out for the learning curves"),
    Column("clips", "int", "video clips pretrained on"),
    Column("train_frames", "int", "frames of the training episodes, at the model's rate"),
    Column("clip_frames", "int", "frames of the clips, at the model's rate"),
)


@dg.asset(
    owners=OWNERS,
    deps=["lerobot_dataset", "video_training_set"],
    group_name="worldmodel",
    kinds={"pytorch", "safetensors"},
    tags={"stage": "worldmodel"},
    description=(
        "A PhysGen-style world-action model (frame autoencoder, interleaved frame/action tokens, causal "
        "transformer, next-frame and L-MTP action heads, KV cache) pretrained on the video clip set and "
        "fine-tuned on the LeRobot dataset; a safetensors blob."
    ),
)
@retry_on_outage  # a retried step resumes from the training checkpoint in the lake's work area
def world_model(
    context: dg.AssetExecutionContext, config: WorldModelAssetConfig, store: StoreResource
) -> dg.MaterializeResult:
    from physworld_core.worldmodel.stage import run_world_model_stage

    lerobot = config.lerobot or _latest_export(context, "lerobot_dataset")
    clips = None
    if config.pretrain_video:
        clips = config.clips or _latest_export(context, "video_training_set")

    def log(entry: dict) -> None:
        losses = ", ".join(f"{k[4:]} {v:.4f}" for k, v in entry.items() if k.startswith("val_"))
        context.log.info(f"world model {entry['phase']} update {entry['update']}: {losses}")

    result = run_world_model_stage(store.store(), lerobot, clips, config.core(), progress=True, log_fn=log)
    train = result.train
    finals = {
        f"val_{name}": round(train.final(name), 4)
        for name in ("reconstruction", "frame", "action", "next_action")
        if train.final(name) is not None
    }
    lineage = {
        f"{name}_{key}": str(value)
        for name in ("lerobot", "clips")
        if result.lineage[name]
        for key, value in result.lineage[name].items()
    }
    return dg.MaterializeResult(
        metadata={
            "checkpoint_uri": dg.MetadataValue.path(result.checkpoint_uri),
            "checkpoint_sha256": result.checkpoint_sha256,
            "parameters": train.parameters,
            "learning_curve": loss_curve_md(train.curve),
            "predictions": strip_md(result.samples, "held-out episode: truth | predicted from frame 0"),
            "predictions_animated": gif_md(result.samples, config.fps, "truth | predicted"),
            "data": table([train.data], DATA_COLUMNS),
            **finals,
            **lineage,
            "train_seconds": seconds(train.wall_seconds),
        },
        data_version=dg.DataVersion(result.checkpoint_sha256[:16]),
    )


LOSSES = ("reconstruction", "frame", "action", "next_action")
"""The validation losses the learning curve carries (those a run trained)."""


@dg.asset_check(
    asset="world_model",
    description=(
        "The latest model is the blob its metadata names (SHA-256), loads, and learned: every validation loss is "
        "finite, and each fell from its first evaluation to its last (a WARN when one did not)."
    ),
)
def world_model_learned(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    from physworld_core.errors import PhysworldError
    from physworld_core.worldmodel.checkpoint import fetch_checkpoint, load_checkpoint  # torch: only here

    event = context.instance.get_latest_materialization_event(dg.AssetKey("world_model"))
    if event is None or event.asset_materialization is None:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no world_model materialization yet"})
    metadata = event.asset_materialization.metadata
    uri, recorded = str(metadata["checkpoint_uri"].value), str(metadata["checkpoint_sha256"].value)
    try:
        path, sha256 = fetch_checkpoint(store.store(), uri)
        _, meta, _ = load_checkpoint(path)
    except PhysworldError as error:
        return dg.AssetCheckResult(passed=False, metadata={"reason": str(error)})
    if sha256 != recorded:
        return dg.AssetCheckResult(
            passed=False,
            metadata={"reason": f"blob {uri} has SHA-256 {sha256}, the asset recorded {recorded}"},
        )
    first_last = {}
    for name in LOSSES:
        values = [e[f"val_{name}"] for e in meta.get("curve", []) if f"val_{name}" in e]
        if values:
            first_last[name] = (float(values[0]), float(values[-1]))
    if not first_last or not all(np.isfinite(v).all() for v in first_last.values()):
        return dg.AssetCheckResult(
            passed=False, metadata={"reason": "a validation loss is missing or not finite", **_fl(first_last)}
        )
    stalled = [name for name, (first, last) in first_last.items() if not last < first]
    return dg.AssetCheckResult(
        passed=not stalled,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"stalled": ", ".join(stalled) or "none", **_fl(first_last)},
    )


def _fl(first_last: dict[str, tuple[float, float]]) -> dict[str, str]:
    return {f"val_{name}": f"{first:.4f} -> {last:.4f}" for name, (first, last) in first_last.items()}
