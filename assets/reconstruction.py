"""Reconstructions: metric object models and the target's trajectory from the most physically feasible video
sample (tables `reconstructions`, `video_scores`)."""

import json

import dagster as dg

from assets.metadata import (
    OWNERS,
    Column,
    mm,
    rate,
    seconds,
    table,
    table_metadata,
)
from assets.perception import perceptions
from assets.video import videos
from pipelines.partitions import tasks_partitions
from pipelines.pools import SIMULATOR_POOL
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage


class ReconstructionRunConfig(dg.Config):
    """Which depth backend measures every video frame (see ``physworld_core.reconstruction.depth``):
    "geometric" (offline, no weights) or "transformers" with ``depth_model_dir`` (a local Depth Anything,
    DPT, ZoeDepth, ... checkpoint), whose per-frame shape lets later frames add views of the target.
    ``mesh_dir``: meshes from an image-to-3D model, ``<mesh_dir>/<task_id>/<object>.glb`` (object: target,
    support, obstacle_0, ...), fitted to the seen points in place of the half-turn completion."""

    depth_backend: str = "geometric"
    depth_model_dir: str | None = None
    mesh_dir: str | None = None


MIN_FEASIBILITY = 0.3
"""Below this the best video makes the object pass through something, lag far behind, or teleport."""


@dg.multi_asset(
    specs=[
        dg.AssetSpec(
            "reconstructions",
            deps=[videos, perceptions],
            owners=OWNERS,
            group_name="reconstruction",
            kinds={"deltalake"},
            tags={"stage": "reconstruction"},
            metadata=table_metadata("reconstructions"),
            description=(
                "Support plane, completed object meshes and the target's 6-DoF trajectory, from the most "
                "physically feasible video sample (table `reconstructions`)."
            ),
        ),
        dg.AssetSpec(
            "video_scores",
            deps=[videos],
            owners=OWNERS,
            group_name="reconstruction",
            kinds={"deltalake"},
            tags={"stage": "reconstruction"},
            metadata=table_metadata("video_scores"),
            description=(
                "Every video sample reconstructed and scored for physical feasibility in a twin; the best is "
                "selected (table `video_scores`, written in the same step as `reconstructions`)."
            ),
        ),
    ],
    partitions_def=tasks_partitions,
    pool=SIMULATOR_POOL,  # every sample's feasibility is scored in a twin
)
@retry_on_outage
def reconstructions(context: dg.AssetExecutionContext, config: ReconstructionRunConfig, store: StoreResource):
    from physworld_core.reconstruction.completion import load as load_completion
    from physworld_core.reconstruction.depth import load
    from physworld_core.reconstruction.reconstruct import ReconstructionConfig
    from physworld_core.twin.selection import run_reconstruction_stage

    settings = {"model_dir": config.depth_model_dir} if config.depth_model_dir else {}
    completion = load_completion("mesh_files", directory=config.mesh_dir) if config.mesh_dir else "half_turn"
    recon_config = ReconstructionConfig(depth=load(config.depth_backend, **settings), completion=completion)
    result = run_reconstruction_stage(store.store(), context.partition_key, recon_config)
    recon = result.reconstruction
    m = recon.metrics
    scores = [
        {
            **{k: r[k] for k in ("sample", "reconstructed", "feasibility", "selected")},
            "max_gap_mm": mm(r["max_gap_m"]),
            "max_penetration_mm": mm(r["max_penetration_m"]),
            "peak_accel": r["peak_accel"],
        }
        for r in result.scores
    ]
    yield dg.MaterializeResult(
        asset_key="video_scores",
        metadata={
            "samples": len(scores),
            "selected_sample": result.selected_sample,
            "scores": table(scores, SCORE_COLUMNS),
        },
    )
    meta = {
        "target": recon.target.label,
        "goal": recon.goal_label,
        "objects": len(recon.objects),
        "target_parts": _parts_summary(recon.target),
        "held_by": m.get("hold") or "anywhere the hand can",
        "selected_sample": result.selected_sample,
        "feasibility": rate(m["feasibility"]["score"]),
        "plane_rms_mm": mm(m["plane_rms_m"]),
        "tracking_mean_iou": rate(m["tracking"]["mean_iou"]),
        "low_confidence_frames": m["tracking"]["low_confidence_frames"],
        "seconds": seconds(m["seconds"]),
        "depth": _depth_summary(m["depth"]),
        "target_completion": m["completion"]["target"],
        "views_used": len(m["views"]["used_frames"]),
        "views": m["views"]["skipped"]
        or f"{m['views']['points_added']} points added, {m['views']['points_carved']} carved",
    }
    if "tracking_vs_rendered" in m:
        meta["tracking_error_mean_mm"] = round(m["tracking_vs_rendered"]["mean_mm"], 1)
    yield dg.MaterializeResult(asset_key="reconstructions", metadata=meta)


SCORE_COLUMNS = (
    Column("sample", "int", "video sample"),
    Column("reconstructed", "bool", "the sample could be reconstructed"),
    Column("feasibility", "float", "physical feasibility in the twin, 0-1", digits=2),
    Column(
        "max_gap_mm", "float", "largest gap between the tracked object and what physics allows [mm]", digits=1
    ),
    Column("max_penetration_mm", "float", "deepest interpenetration along the motion [mm]", digits=1),
    Column("peak_accel", "float", "largest acceleration of the tracked object [m/s^2]", digits=1),
    Column("selected", "bool", "the sample the twin is built from"),
)


def _typed(row: dict, fallback: dict, column: str):
    """A figure from its typed column, or from the JSON it was kept in before the column existed."""
    return row[column] if row.get(column) is not None else fallback[column]


def _depth_summary(depth: dict) -> str:
    """One line a person reads: which backend, and how well its frames fit the real depth frame."""
    if "error" in depth:
        return f"{depth['backend']}: not calibrated ({depth['error']})"
    return (
        f"{depth['backend']}: {depth['frames']} frames, median alpha {depth['alpha_median']:.3f}, "
        f"beta {depth['beta_median']:.3f}, residual median {depth['residual_mm_median']:.1f} mm "
        f"(worst frame {depth['worst_frame']}: {depth['residual_mm_max']:.1f} mm)"
    )


def _parts_summary(target) -> str:
    """How the target's mesh is made, e.g. "3 convex parts (1 arm)": what a person checks first
    when a pan is grasped by its body or a lid by its rim."""
    parts = target.convex_parts()
    if parts is None:
        return "1 convex part"
    text = f"{len(parts)} convex parts"
    if target.arm_parts:
        text += f" ({len(target.arm_parts)} arm{'s' if len(target.arm_parts) > 1 else ''})"
    return text


@dg.asset_check(
    asset="reconstructions",
    partitions_def=tasks_partitions,
    blocking=True,
    description=(
        "Table fit is flat (rms < 5 mm) and tracking fits most frames (mean IoU >= 0.5) and sees the target "
        "in at least 80% of them (the rest are interpolated)."
    ),
)
def reconstruction_confident(
    context: dg.AssetCheckExecutionContext, store: StoreResource
) -> dg.AssetCheckResult:
    from physworld_core.reconstruction.stage import typed_metrics  # the stage's module: heavy imports

    row = store.store().one_row("reconstructions", context.partition_key)
    m = json.loads(row["metrics_json"])
    tracking = m["tracking"]
    # Rows written before the figures had columns hold them only in metrics_json.
    figures = {
        k: _typed(row, typed_metrics(m), k) for k in ("plane_rms_m", "tracking_mean_iou", "visible_fraction")
    }
    # Tracking raises on long gaps; short ones that add up to over a fifth of the frames are a guess too.
    passed = (
        figures["plane_rms_m"] < 0.005
        and figures["tracking_mean_iou"] >= 0.5
        and figures["visible_fraction"] >= 0.8
    )
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "plane_rms_mm": mm(figures["plane_rms_m"]),
            "tracking_mean_iou": rate(figures["tracking_mean_iou"]),
            "visible_fraction": rate(figures["visible_fraction"]),
            "unseen_frames": ", ".join(map(str, tracking.get("unseen_frames", []))) or "none",
        },
    )


@dg.asset_check(
    asset="reconstructions",
    partitions_def=tasks_partitions,
    blocking=True,
    description=f"The chosen video is physically followable in the twin (feasibility >= {MIN_FEASIBILITY}).",
)
def video_physically_feasible(
    context: dg.AssetCheckExecutionContext, store: StoreResource
) -> dg.AssetCheckResult:
    row = store.store().one_row("reconstructions", context.partition_key)
    feasibility = json.loads(row["metrics_json"])["feasibility"]
    score = _typed(row, {"feasibility": feasibility["score"]}, "feasibility")
    return dg.AssetCheckResult(
        passed=score >= MIN_FEASIBILITY,
        metadata={
            "feasibility": rate(score),
            "max_gap_mm": mm(feasibility["max_gap_m"]),
            "reasons": "; ".join(feasibility["reasons"]) or "none",
        },
    )


@dg.asset_check(
    asset="video_scores",
    partitions_def=tasks_partitions,
    description=(
        "Exactly one video sample is selected, it was reconstructed, and it is the sample `reconstructions` "
        "was built from (the two tables are written by one step and must agree)."
    ),
)
def one_video_selected(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    s = store.store()
    scores = s.lake.read_partition("video_scores", context.partition_key).to_dicts()
    problems = selection_problems(scores, int(s.one_row("reconstructions", context.partition_key)["sample"]))
    return dg.AssetCheckResult(
        passed=not problems,
        metadata={"samples": len(scores), "problems": "; ".join(problems) or "none"},
    )


def selection_problems(scores: list[dict], reconstructed_sample: int) -> list[str]:
    """What is wrong with a task's ``video_scores`` rows against the sample its reconstruction used."""
    selected = [r["sample"] for r in scores if r["selected"]]
    problems = []
    if len(selected) != 1:
        problems.append(f"{len(selected)} samples selected ({selected}), expected exactly one")
    problems += [
        f"sample {r['sample']} is selected but was not reconstructed"
        for r in scores
        if r["selected"] and not r["reconstructed"]
    ]
    if selected and reconstructed_sample not in selected:
        problems.append(
            f"reconstructions used sample {reconstructed_sample}, video_scores selected {selected}"
        )
    return problems
