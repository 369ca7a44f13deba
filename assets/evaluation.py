"""Evaluations: each method executed in the ground-truth world, scored by the world's own test."""

import dagster as dg

from assets.learning import policies
from assets.metadata import OWNERS, gif_md, table_md
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource

MIN_TRIALS = 10


class EvaluationConfig(dg.Config):
    trials: int = MIN_TRIALS
    seed: int = 1000
    record_trials: int = 2  # per method, rendered into the `rollouts` table for dataset export
    record_width: int = 128
    record_height: int = 128


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    deps=[policies],
    group_name="evaluation",
    kinds={"deltalake", "maniskill"},
    tags={"stage": "evaluation"},
    description=(
        "Every method executed in the ground-truth world with noisy object observations: trial outcomes "
        "(table `evaluations`) and recorded camera + state rollouts for export (table `rollouts`)."
    ),
)
def evaluations(
    context: dg.AssetExecutionContext, config: EvaluationConfig, store: StoreResource
) -> dg.MaterializeResult:
    from physworld_core.evaluation.rollouts import RecordConfig
    from physworld_core.evaluation.stage import run_evaluation_stage
    from physworld_core.evaluation.trials import TrialConfig

    result = run_evaluation_stage(
        store.store(),
        context.partition_key,
        TrialConfig(trials=config.trials, seed=config.seed),
        RecordConfig(config.record_trials, config.record_width, config.record_height),
    )
    summary = []
    for method, rate in result.success.items():
        failures = [r["failure"] for r in result.rows if r["method"] == method and r["failure"]]
        summary.append(
            {
                "method": method,
                "success": rate,
                "trials": sum(r["method"] == method for r in result.rows),
                "failures": ", ".join(f"{f}×{failures.count(f)}" for f in sorted(set(failures))) or "-",
            }
        )
    clips = {}
    for row in result.rollouts:
        if row["video_uri"] and row["method"] not in clips:
            from physworld_core.video.codec import decode_mp4

            frames = decode_mp4(store.store().blobs.get_bytes(row["video_uri"]))
            outcome = "success" if row["success"] else f"failed ({row['failure']})"
            clips[f"rollout_{row['method']}"] = gif_md(
                frames, row["fps"], f"{row['method']} trial {row['trial']}: {outcome}"
            )
            clips[f"rollout_{row['method']}_uri"] = dg.MetadataValue.path(row["video_uri"])
    return dg.MaterializeResult(
        metadata={
            **{f"success_{m}": v for m, v in result.success.items()},
            "rollouts_recorded": len(result.rollouts),
            **clips,
            **{f"reconstruction_{k}": v for k, v in result.reconstruction_error.items() if v is not None},
            "results": table_md(summary),
            "seconds": result.seconds,
        }
    )


@dg.asset_check(
    asset=evaluations,
    partitions_def=tasks_partitions,
    description=f"Every method ran at least {MIN_TRIALS} ground-truth trials.",
)
def enough_trials(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    frame = store.store().lake.read_partition("evaluations", context.partition_key)
    from physworld_core.evaluation.stage import EVALUATED_METHODS

    counts = {m: frame.filter(frame["method"] == m).height for m in EVALUATED_METHODS}
    return dg.AssetCheckResult(passed=min(counts.values()) >= MIN_TRIALS, metadata=counts)
