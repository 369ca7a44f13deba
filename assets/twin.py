"""Twins: the physical twin built from the reconstruction (table `twins`), its settle check (blocking) and its
fidelity against a benchmark world's hidden truth."""

import json
import math

import dagster as dg

from assets.metadata import (
    OWNERS,
    Column,
    by_unit,
    image_md,
    mm,
    seconds,
    table,
    table_metadata,
    thumbnail_md,
)
from assets.perception import perceptions
from assets.reconstruction import _typed
from pipelines.partitions import tasks_partitions
from pipelines.pools import SIMULATOR_POOL
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    pool=SIMULATOR_POOL,
    deps=["reconstructions", perceptions],
    group_name="reconstruction",
    kinds={"deltalake", "maniskill"},
    tags={"stage": "twin"},
    metadata=table_metadata("twins"),
    description="The physical twin: ManiSkill scene spec with convex collisions and estimated physics (table `twins`).",
)
@retry_on_outage
def twins(context: dg.AssetExecutionContext, store: StoreResource) -> dg.MaterializeResult:
    from physworld_core.ingest import load_scene
    from physworld_core.twin.stage import render_twin, run_twin_stage

    s = store.store()
    result = run_twin_stage(s, context.partition_key)
    pictures = [load_scene(s, context.partition_key).rgb, render_twin(s, result.spec)]
    objects = [
        {
            "name": o.name,
            "label": o.label,
            "mass_kg": o.mass,
            "mass_range_kg": f"{o.mass_range[0]:.3f}-{o.mass_range[1]:.3f}",
            "friction": o.friction,
            "fixed": o.fixed,
        }
        for o in result.spec.objects
    ]
    return dg.MaterializeResult(
        metadata={
            "input_vs_twin": thumbnail_md(pictures, "input frame | twin seen from the input camera"),
            "settled": result.settle.passed,
            "max_penetration_mm": mm(result.settle.max_penetration_m),
            "max_drift_mm": mm(result.settle.max_drift_m),
            "objects": table(objects, OBJECT_COLUMNS),
            "table_height_mm": mm(result.spec.table_height),
            "input_vs_twin_full_size": image_md(pictures, ["input frame", "twin seen from the input camera"]),
            "spec_uri": dg.MetadataValue.path(s.one_row("twins", context.partition_key)["spec_uri"]),
            "seconds": seconds(result.seconds),
        }
    )


OBJECT_COLUMNS = (
    Column("name", "string", "object in the twin"),
    Column("label", "string", "what perception called it"),
    Column("mass_kg", "float", "estimated mass [kg]", digits=3),
    Column("mass_range_kg", "string", "plausible mass range [kg]"),
    Column("friction", "float", "estimated friction coefficient", digits=2),
    Column("fixed", "bool", "static in the twin (table, bin walls)"),
)


@dg.asset_check(
    asset=twins,
    partitions_def=tasks_partitions,
    blocking=True,
    description="Nothing interpenetrates and every object rests after settling; else no policy is learned.",
)
def twin_settles(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    row = store.store().one_row("twins", context.partition_key)
    settle = json.loads(row["settle_json"])  # the reasons; older rows also hold the figures only here
    return dg.AssetCheckResult(
        passed=bool(row["passed"]),
        metadata={
            "max_penetration_mm": mm(_typed(row, settle, "max_penetration_m")),
            "max_drift_mm": mm(_typed(row, settle, "max_drift_m")),
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
            "fidelity": table([_verdict(c) for c in checks], FIDELITY_COLUMNS),
            **{
                k: by_unit(k, v)
                for k, v in report.to_dict().items()
                if isinstance(v, (int, float)) and not math.isnan(v)
            },
        },
    )


FIDELITY_COLUMNS = (
    Column("metric", "string", "figure against the world's hidden truth (unit in its name)"),
    Column("value", "string", "measured, rounded to its unit"),
    Column("limit", "string", "threshold (FidelityThresholds)"),
    Column("passed", "bool", "within the threshold"),
)


#: Verdicts whose name does not end with their unit: what their value is measured in.
_VERDICT_UNITS = {"mass_in_range": "mass_kg"}


def _verdict(check) -> dict:
    """One fidelity verdict as a table row, figures rounded to their unit."""
    unit_name = _VERDICT_UNITS.get(check.metric, check.metric)
    limit = check.limit if isinstance(check.limit, tuple) else (check.limit,)
    limit_text = "-".join(str(by_unit(unit_name, float(v))) for v in limit)
    return {
        "metric": check.metric,
        "value": str(by_unit(unit_name, float(check.value))),
        "limit": f"{check.comparison} {limit_text}",
        "passed": bool(check.passed),
    }
