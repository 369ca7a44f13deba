"""Reconstructions and twins: metric object models + target trajectory, then the ManiSkill twin."""

import json
import math

import dagster as dg

from assets.metadata import OWNERS, image_md, table_md
from assets.video import videos
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource


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


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    deps=[videos],
    group_name="reconstruction",
    kinds={"deltalake"},
    tags={"stage": "reconstruction"},
    description="Support plane, completed object meshes and the target's 6-DoF trajectory (table `reconstructions`).",
)
def reconstructions(
    context: dg.AssetExecutionContext, config: ReconstructionRunConfig, store: StoreResource
) -> dg.MaterializeResult:
    from physworld_core.reconstruction.completion import load as load_completion
    from physworld_core.reconstruction.depth import load
    from physworld_core.reconstruction.reconstruct import ReconstructionConfig
    from physworld_core.reconstruction.stage import run_reconstruction_stage

    settings = {"model_dir": config.depth_model_dir} if config.depth_model_dir else {}
    completion = load_completion("mesh_files", directory=config.mesh_dir) if config.mesh_dir else "half_turn"
    recon_config = ReconstructionConfig(depth=load(config.depth_backend, **settings), completion=completion)
    result = run_reconstruction_stage(store.store(), context.partition_key, recon_config)
    recon = result.reconstruction
    m = recon.metrics
    meta = {
        "target": recon.target.label,
        "goal": recon.goal_label,
        "objects": len(recon.objects),
        "target_parts": _parts_summary(recon.target),
        "held_by": m.get("hold") or "anywhere the hand can",
        "selected_sample": result.selected_sample,
        "feasibility": m["feasibility"]["score"],
        "video_scores": table_md(
            [
                {
                    k: r[k]
                    for k in ("sample", "reconstructed", "feasibility", "max_gap_m", "peak_accel", "selected")
                }
                for r in result.scores
            ]
        ),
        "plane_rms_mm": 1000 * m["plane_rms_m"],
        "tracking_mean_iou": m["tracking"]["mean_iou"],
        "low_confidence_frames": m["tracking"]["low_confidence_frames"],
        "seconds": m["seconds"],
        "depth": _depth_summary(m["depth"]),
        "target_completion": m["completion"]["target"],
        "views_used": len(m["views"]["used_frames"]),
        "views": m["views"]["skipped"]
        or f"{m['views']['points_added']} points added, {m['views']['points_carved']} carved",
    }
    if "tracking_vs_rendered" in m:
        meta["tracking_error_mean_mm"] = m["tracking_vs_rendered"]["mean_mm"]
    return dg.MaterializeResult(metadata=meta)


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
    asset=reconstructions,
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
    row = store.store().one_row("reconstructions", context.partition_key)
    m = json.loads(row["metrics_json"])
    tracking = m["tracking"]
    # Rows written before visible_fraction was recorded hold the same figure as a count.
    visible = tracking.get("visible_fraction", 1 - tracking["low_confidence_frames"] / tracking["frames"])
    # Tracking raises on long gaps; short ones that add up to over a fifth of the frames are a guess too.
    passed = m["plane_rms_m"] < 0.005 and tracking["mean_iou"] >= 0.5 and visible >= 0.8
    return dg.AssetCheckResult(
        passed=passed,
        metadata={
            "plane_rms_mm": 1000 * m["plane_rms_m"],
            "tracking_mean_iou": tracking["mean_iou"],
            "visible_fraction": visible,
            "unseen_frames": ", ".join(map(str, tracking.get("unseen_frames", []))) or "none",
        },
    )


@dg.asset_check(
    asset=reconstructions,
    partitions_def=tasks_partitions,
    blocking=True,
    description=f"The chosen video is physically followable in the twin (feasibility >= {MIN_FEASIBILITY}).",
)
def video_physically_feasible(
    context: dg.AssetCheckExecutionContext, store: StoreResource
) -> dg.AssetCheckResult:
    row = store.store().one_row("reconstructions", context.partition_key)
    feasibility = json.loads(row["metrics_json"])["feasibility"]
    return dg.AssetCheckResult(
        passed=feasibility["score"] >= MIN_FEASIBILITY,
        metadata={
            "feasibility": feasibility["score"],
            "max_gap_mm": 1000 * feasibility["max_gap_m"],
            "reasons": "; ".join(feasibility["reasons"]) or "none",
        },
    )


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    deps=[reconstructions],
    group_name="reconstruction",
    kinds={"deltalake", "maniskill"},
    tags={"stage": "twin"},
    description="The physical twin: ManiSkill scene spec with convex collisions and estimated physics (table `twins`).",
)
def twins(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    from physworld_core.ingest import load_scene
    from physworld_core.twin.stage import render_twin, run_twin_stage

    s = store.store()
    result = run_twin_stage(s, context.partition_key)
    side_by_side = image_md(
        [load_scene(s, context.partition_key).rgb, render_twin(s, result.spec)],
        ["input frame", "twin seen from the input camera"],
    )
    objects = [
        {
            "name": o.name,
            "label": o.label,
            "mass_kg": o.mass,
            "mass_range": f"{o.mass_range[0]:.3f}-{o.mass_range[1]:.3f}",
            "friction": o.friction,
            "fixed": o.fixed,
        }
        for o in result.spec.objects
    ]
    return dg.MaterializeResult(
        metadata={
            "settled": result.settle.passed,
            "max_penetration_mm": 1000 * result.settle.max_penetration_m,
            "max_drift_mm": 1000 * result.settle.max_drift_m,
            "objects": table_md(objects),
            "table_height_m": result.spec.table_height,
            "input_vs_twin": side_by_side,
            "spec_uri": dg.MetadataValue.path(s.one_row("twins", context.partition_key)["spec_uri"]),
            "seconds": result.seconds,
        }
    )


@dg.asset_check(
    asset=twins,
    partitions_def=tasks_partitions,
    blocking=True,
    description="Nothing interpenetrates and every object rests after settling; else no policy is learned.",
)
def twin_settles(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    row = store.store().one_row("twins", context.partition_key)
    settle = json.loads(row["settle_json"])
    return dg.AssetCheckResult(
        passed=bool(row["passed"]),
        metadata={
            "max_penetration_mm": 1000 * settle["max_penetration_m"],
            "max_drift_mm": 1000 * settle["max_drift_m"],
            "reasons": "; ".join(settle["reasons"]) or "none",
        },
    )


@dg.asset_check(
    asset=twins,
    partitions_def=tasks_partitions,
    blocking=False,
    description=(
        "Benchmark tasks only: reconstruction and twin against the world's hidden truth (Chamfer of target and "
        "goal, depth error, support-plane IoU and plane error, mass/friction inside their ranges, tracking "
        "error against the rendered motion). Warns when a figure is past its threshold "
        "(physworld_core.evaluation.fidelity.FidelityThresholds says why each is what it is)."
    ),
)
def twin_fidelity(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    from physworld_core.evaluation.fidelity import fidelity_for_task

    scored = fidelity_for_task(store.store(), context.partition_key)
    if scored is None:
        return dg.AssetCheckResult(
            passed=True, metadata={"note": "no hidden truth for this task's source: nothing to score against"}
        )
    report, checks = scored
    failed = [c.metric for c in checks if not c.passed]
    return dg.AssetCheckResult(
        passed=not failed,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "failed": ", ".join(failed) or "none",
            "fidelity": table_md([c.to_dict() for c in checks]),
            **{
                k: v for k, v in report.to_dict().items() if isinstance(v, (int, float)) and not math.isnan(v)
            },
        },
    )
