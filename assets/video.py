"""Videos: the generated task video per sample (table `videos`, mp4 blobs)."""

import json

import dagster as dg

from assets.metadata import image_md
from assets.scenes import scenes
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource


class VideoConfig(dg.Config):
    backend: str = "procedural"
    samples: int = 1
    seed: int = 0
    num_frames: int = 32


@dg.asset(
    partitions_def=tasks_partitions,
    deps=[scenes],
    group_name="generation",
    kinds={"deltalake", "video"},
    tags={"stage": "video"},
    description="Generated task videos: the plan, not the physics (table `videos`, mp4 in the blob store).",
)
def videos(
    context: dg.AssetExecutionContext, config: VideoConfig, store: StoreResource
) -> dg.MaterializeResult:
    from physworld_core.video.stage import VideoStageConfig, run_video_stage

    result = run_video_stage(
        store.store(),
        context.partition_key,
        VideoStageConfig(
            backend=config.backend,
            samples=config.samples,
            seed=config.seed,
            backend_config={"num_frames": config.num_frames},
        ),
    )
    chosen = result.videos[result.selected]
    row = result.rows[result.selected]
    frames = chosen.frames
    return dg.MaterializeResult(
        metadata={
            "frames": chosen.num_frames,
            "fps": chosen.fps,
            "samples": len(result.rows),
            "selected_sample": result.selected,
            "video_uri": dg.MetadataValue.path(row["video_uri"]),
            "checks": dg.MetadataValue.json(json.loads(row["checks_json"])),
            "first_middle_last": image_md(
                [frames[0], frames[len(frames) // 2], frames[-1]], ["first", "middle", "last"]
            ),
        }
    )


@dg.asset_check(
    asset=videos,
    partitions_def=tasks_partitions,
    blocking=True,
    description="A selected sample exists, has >= 24 frames, and the named object moves in it.",
)
def video_usable(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    frame = store.store().lake.read_partition("videos", context.partition_key)
    chosen = frame.filter(frame["selected"])
    if chosen.height == 0:
        return dg.AssetCheckResult(passed=False, metadata={"reason": "no sample selected"})
    row = chosen.row(0, named=True)
    checks = json.loads(row["checks_json"])
    passed = row["num_frames"] >= 24 and bool(checks.get("target_moves")) and bool(checks.get("passed"))
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "num_frames": row["num_frames"],
            "target_displacement_px": checks.get("target_displacement_px"),
        },
    )
