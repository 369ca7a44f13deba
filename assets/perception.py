"""Perceptions: the scene read once per task (table, objects with masks and geometry, the prompt's grounding,
the skill's view), table ``perceptions``; every later stage reads it."""

import dagster as dg
import numpy as np

from assets.metadata import OWNERS, Column, image_md, mm, table, table_metadata, thumbnail_md
from assets.scenes import scenes
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage

ROLE_COLOURS = {"target": (230, 60, 60), "goal": (60, 200, 80), "other": (70, 130, 240)}
"""Overlay tint of each object by what the prompt makes of it."""


def segmentation_overlay(rgb: np.ndarray, perception) -> np.ndarray:
    """The input image with each object's mask tinted by its role (target red, goal green, others blue) and
    outlined, so a person sees at once what perception found and what the prompt was grounded on."""
    from scipy import ndimage  # the overlay is drawn here only

    overlay = rgb.astype(np.float32).copy()
    for obj in perception.objects:
        role = (
            "target"
            if obj is perception.target
            else "goal"
            if perception.goal is not None and obj is perception.goal
            else "other"
        )
        tint = np.asarray(ROLE_COLOURS[role], np.float32)
        overlay[obj.mask] = 0.45 * overlay[obj.mask] + 0.55 * tint
        edge = obj.mask & ~ndimage.binary_erosion(obj.mask)
        overlay[edge] = tint
    return np.clip(overlay, 0, 255).astype(np.uint8)


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    deps=[scenes],
    group_name="scenes",
    kinds={"deltalake"},
    tags={"stage": "perception"},
    metadata=table_metadata("perceptions"),
    description=(
        "The scene read once: table plane, objects with masks and geometry, the prompt's grounding and the "
        "skill's view (table `perceptions`, the perception as an .npz blob). Read by the videos, "
        "reconstructions, twins and the fidelity check; the same scene again writes nothing."
    ),
)
@retry_on_outage
def perceptions(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    from physworld_core.perception.stage import run_perception_stage
    from physworld_core.scene import load_scene

    s = store.store()
    result = run_perception_stage(s, context.partition_key)
    perception = result.perceived.perception
    rgb = load_scene(s, context.partition_key).rgb
    overlay = segmentation_overlay(rgb, perception)
    objects = [
        {
            "index": o.index,
            "description": o.description,
            "role": "target"
            if o is perception.target
            else "goal"
            if perception.goal is not None and o is perception.goal
            else "-",
            "length_mm": mm(o.extents[0]),
            "width_mm": mm(o.extents[1]),
            "height_mm": mm(o.top_height),
            "pixels": o.pixel_count,
        }
        for o in perception.objects
    ]
    return dg.MaterializeResult(
        metadata={
            "segmentation": thumbnail_md([rgb, overlay], "input | objects (target red, goal green)"),
            "skill": perception.instruction.skill,
            "target": perception.target.description,
            "goal": "the table" if perception.goal is None else perception.goal.description,
            "objects": table(objects, OBJECT_COLUMNS),
            "plane_rms_mm": mm(perception.plane.rms),
            "levelled": result.perceived.levelled is not None,
            "written": result.written,
            "segmentation_full_size": image_md([rgb, overlay], ["input", "objects"]),
        },
        data_version=dg.DataVersion(result.row["perception_sha256"]),
    )


OBJECT_COLUMNS = (
    Column("index", "int", "object, left to right in the image"),
    Column("description", "string", "what perception calls it"),
    Column("role", "string", "what the prompt makes of it"),
    Column("length_mm", "float", "footprint length [mm]", digits=1),
    Column("width_mm", "float", "footprint width [mm]", digits=1),
    Column("height_mm", "float", "top above the table [mm]", digits=1),
    Column("pixels", "int", "image pixels of its mask"),
)


@dg.asset_check(
    asset=perceptions,
    partitions_def=tasks_partitions,
    blocking=True,
    description=(
        "The stored perception reads back whole (its blob's hash and its objects agree with the row), and it was "
        "made from the scene the task has now: the later stages read it instead of perceiving again."
    ),
)
def perception_stored(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    from physworld_core.perception.codec import decode
    from physworld_core.perception.stage import scene_sha256

    s = store.store()
    row = s.one_row("perceptions", context.partition_key)
    data = s.blobs.get_bytes(row["perception_uri"])  # hash-verified by the store
    perceived = decode(data, f"task {context.partition_key}'s perception")
    current = row["scene_sha256"] == scene_sha256(s, context.partition_key)
    objects = len(perceived.perception.objects)
    return dg.AssetCheckResult(
        passed=current and objects == row["num_objects"],
        metadata={"objects": objects, "from_the_current_scene": current},
    )
