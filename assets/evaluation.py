"""Evaluations: each method executed in the ground-truth world, scored by the world's own test."""

import dagster as dg

from assets.learning import policies
from assets.metadata import table_md
from pipelines.partitions import tasks_partitions
from pipelines.resources import StoreResource

MIN_TRIALS = 10


class EvaluationConfig(dg.Config):
    trials: int = MIN_TRIALS
    seed: int = 1000


@dg.asset(
    partitions_def=tasks_partitions,
    deps=[policies],
    group_name="evaluation",
    kinds={"deltalake", "maniskill"},
    tags={"stage": "evaluation"},
    description="Ground-truth success of physworld vs planner_only with noisy object observations (table `evaluations`).",
)
def evaluations(
    context: dg.AssetExecutionContext, config: EvaluationConfig, store: StoreResource
) -> dg.MaterializeResult:
    from physworld_core.evaluation.stage import run_evaluation_stage
    from physworld_core.evaluation.trials import TrialConfig

    result = run_evaluation_stage(
        store.store(), context.partition_key, TrialConfig(trials=config.trials, seed=config.seed)
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
    return dg.MaterializeResult(
        metadata={
            **{f"success_{m}": v for m, v in result.success.items()},
            **{f"reconstruction_{k}": v for k, v in result.reconstruction_error.items()},
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
