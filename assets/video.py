"""Videos: the generated task video per sample (table `videos`, mp4 blobs)."""

import json

import dagster as dg

from assets.metadata import OWNERS, Column, gif_md, seconds, strip_md, table, table_metadata
from assets.perception import perceptions
from assets.scenes import scenes
from assets.worldmodel import latest_world_model_checkpoint
from physworld_core.video import backends
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage

LEARNED = "learned"


def _learned_backend():
    # The world model comes after the video stage in the layer order (it trains on the exports), so the
    # composition root registers its backend; torch is imported only by a run that uses it.
    from physworld_core.worldmodel.backend import LearnedVideoBackend

    return LearnedVideoBackend


backends.register(LEARNED, _learned_backend)


class VideoConfig(dg.Config):
    backend: str = "procedural"  # or "diffusers" (local I2V weights), "learned" (the platform's world model)
    samples: int = 2
    seed: int = 0
    num_frames: int = 32
    realism: str = "none"  # procedural backend: a preset of physworld_core.video.realism.REALISM_PRESETS
    world_model_checkpoint: str | None = None  # learned backend: blob URI; None: the latest world_model's


def learned_settings(store, uri: str | None) -> dict:
    """The learned backend's model: the checkpoint blob at ``uri`` (fetched to a local file), its URI kept for
    the videos' lineage."""
    from physworld_core.errors import PhysworldError
    from physworld_core.worldmodel.checkpoint import fetch_checkpoint  # torch: only for the learned backend

    if uri is None:
        raise PhysworldError(
            "the learned video backend needs a trained world model: run the `world_model` job (after `export`) "
            "or set world_model_checkpoint to a world_model checkpoint_uri"
        )
    path, _ = fetch_checkpoint(store, uri)
    return {"checkpoint": str(path), "checkpoint_uri": uri}


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    deps=[scenes, perceptions],
    group_name="generation",
    kinds={"deltalake", "video"},
    tags={"stage": "video"},
    metadata=table_metadata("videos"),
    description="Generated task videos: the plan, not the physics (table `videos`, mp4 in the blob store).",
)
@retry_on_outage
def videos(
    context: dg.AssetExecutionContext, config: VideoConfig, store: StoreResource
) -> dg.MaterializeResult:
    from physworld_core.video.stage import VideoStageConfig, run_video_stage

    s = store.store()
    settings = {"num_frames": config.num_frames}
    settings |= {"realism": config.realism} if config.realism != "none" else {}
    if config.backend == LEARNED:
        # Its model is a lake blob found through the Dagster instance (the latest world_model), so the asset
        # resolves it; the backend gets a local file and the URI for the videos' lineage.
        uri = config.world_model_checkpoint or latest_world_model_checkpoint(context.instance)
        settings |= learned_settings(s, uri)
    result = run_video_stage(
        s,
        context.partition_key,
        VideoStageConfig(
            backend=config.backend, samples=config.samples, seed=config.seed, backend_config=settings
        ),
    )
    first = result.passing[0]
    plan = json.loads(result.rows[first]["plan_json"])
    lineage = {f"model_{k}": plan[k] for k in ("checkpoint_uri", "checkpoint_sha256") if plan.get(k)}
    frames = result.videos[first].frames
    samples = [
        {
            "sample": r["sample"],
            "seed": r["seed"],
            "passed": r["passed"],
            "failed_checks": ", ".join(k for k, v in json.loads(r["checks_json"]).items() if v is False)
            or "-",
            "seconds": r["seconds"],
        }
        for r in result.rows
    ]
    return dg.MaterializeResult(
        metadata={
            "clip": strip_md(frames, f"sample {first}: first, middle, last frame"),
            "frames": result.videos[first].num_frames,
            "fps": result.videos[first].fps,
            "samples": len(result.rows),
            "samples_passing_checks": len(result.passing),
            "checks_per_sample": table(samples, SAMPLE_COLUMNS),
            "clip_animated": gif_md(frames, result.videos[first].fps, f"sample {first}"),
            "video_uri": dg.MetadataValue.path(result.rows[first]["video_uri"]),
            **lineage,  # which world model made the videos (learned backend)
            "seconds": seconds(sum(r["seconds"] for r in result.rows)),
        }
    )


SAMPLE_COLUMNS = (
    Column("sample", "int", "generated sample"),
    Column("seed", "int", "generation seed"),
    Column("passed", "bool", "every video check passed"),
    Column("failed_checks", "string", "the checks it failed"),
    Column("seconds", "float", "generation wall time [s]", digits=1),
)


@dg.asset_check(
    asset=videos,
    partitions_def=tasks_partitions,
    blocking=True,
    description="At least one sample has >= 24 frames, no blank frame, and the named object visibly moves.",
)
def video_usable(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    frame = store.store().lake.read_partition("videos", context.partition_key)
    usable = [
        r
        for r in frame.to_dicts()
        if r["num_frames"] >= 24 and r["passed"] and json.loads(r["checks_json"]).get("target_moves")
    ]
    return dg.AssetCheckResult(
        passed=bool(usable), metadata={"usable_samples": len(usable), "samples": frame.height}
    )
