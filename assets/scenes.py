"""Scenes: a task's source (benchmark world or user package) → stored RGB-D frame, camera and prompt."""

import dagster as dg
import numpy as np

from assets.metadata import OWNERS, declared_here, image_md, rate, table_metadata, thumbnail_md
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage

tasks = dg.AssetSpec(
    "tasks",
    partitions_def=tasks_partitions,
    group_name="scenes",
    owners=OWNERS,
    kinds={"deltalake"},
    tags={"stage": "scenes"},
    metadata={**table_metadata("tasks"), **declared_here()},
    description=(
        "Registered tasks: source and prompt (table `tasks`). Written outside runs by `physworld add-task` "
        "and the inbox sensor, which report an observation per task whose data version is a hash of its "
        "source and prompt: a task registered again with another source or prompt makes `scenes` and "
        "everything after it stale."
    ),
)


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    deps=[tasks],
    group_name="scenes",
    kinds={"deltalake", "maniskill"},
    tags={"stage": "scenes"},
    metadata=table_metadata("scenes"),
    description="The pipeline's only input: one RGB-D frame, the camera and the prompt (table `scenes`).",
)
@retry_on_outage
def scenes(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    from physworld_core.ingest import ingest_scene

    scene = ingest_scene(store.store(), context.partition_key)
    depth = scene.depth_m
    valid = depth > 0
    # Inverse depth: a far background (the floor past the table, metres away) would otherwise take the whole
    # grey range and leave the table and the objects on it black.
    depth_img = np.zeros_like(depth)
    if valid.any():
        inverse = np.where(valid, 1.0 / np.where(valid, depth, 1.0), 0.0)
        lo, hi = np.percentile(inverse[valid], [2, 98])
        depth_img = np.clip((inverse - lo) / max(hi - lo, 1e-6), 0, 1) * valid
    depth_rgb = (np.stack([depth_img] * 3, -1) * 255).astype(np.uint8)
    return dg.MaterializeResult(
        metadata={
            "preview": thumbnail_md([scene.rgb, depth_rgb], "rgb | depth (near = bright)"),
            "prompt": scene.prompt,
            "source": scene.source,
            "size": f"{scene.width}x{scene.height}",
            "valid_depth_fraction": rate(valid.mean()),
            "preview_full_size": image_md([scene.rgb, depth_rgb], ["rgb", "depth"]),
        }
    )


@dg.asset_check(
    asset=scenes,
    partitions_def=tasks_partitions,
    blocking=True,
    description="At least half the pixels carry valid depth (holes make the twin guess).",
)
def scene_depth_coverage(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    from physworld_core.ingest import load_scene

    fraction = float((load_scene(store.store(), context.partition_key).depth_m > 0).mean())
    return dg.AssetCheckResult(passed=fraction >= 0.5, metadata={"valid_depth_fraction": rate(fraction)})
