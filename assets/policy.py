"""Policies: the planner baseline and residual PPO trained in the twin (table `policies`, safetensors blobs)."""

import dagster as dg

from assets.metadata import OWNERS, curve_md, mm, rate, seconds, table_metadata
from assets.twin import twins
from pipelines.partitions import tasks_partitions
from pipelines.pools import SIMULATOR_POOL
from pipelines.resources import StoreResource
from pipelines.retry import retry_on_outage


class PolicyConfig(dg.Config):
    total_env_steps: int = 8192
    num_envs: int = 2
    async_envs: bool = True
    eval_episodes: int = 10
    seed: int = 0
    scratch_baseline: bool = (
        False  # also train PPO without the planner (same budget): the scratch_rl ablation
    )
    oracle_twin: bool = False  # also train residual PPO in the task's true world: the upper bound


@dg.asset(
    owners=OWNERS,
    partitions_def=tasks_partitions,
    pool=SIMULATOR_POOL,
    deps=[twins],
    group_name="learning",
    kinds={"deltalake", "pytorch", "maniskill"},
    tags={"stage": "policy"},
    metadata=table_metadata("policies"),
    description="Grasp + path baseline (planner_only) and residual PPO on top of it (physworld), learned in the twin.",
)
@retry_on_outage
def policies(
    context: dg.AssetExecutionContext, config: PolicyConfig, store: StoreResource
) -> dg.MaterializeResult:
    from dataclasses import replace

    from physworld_core.evaluation.oracle_twin import oracle_world
    from physworld_core.policy.stage import run_policy_stage
    from physworld_core.policy.train import PolicyTrainConfig

    defaults = PolicyTrainConfig()
    cfg = PolicyTrainConfig(
        ppo=replace(defaults.ppo, total_env_steps=config.total_env_steps, seed=config.seed),
        num_envs=config.num_envs,
        async_envs=config.async_envs,
        eval_episodes=config.eval_episodes,
    )

    def log_update(point: dict) -> None:
        context.log.info(
            f"PPO update {point['update']}: {point['env_steps']} env steps, "
            f"success {point['success_rate']}, return {point['mean_return']}"
        )

    s = store.store()
    result = run_policy_stage(
        s,
        context.partition_key,
        cfg,
        progress=True,
        log_fn=log_update,
        scratch=config.scratch_baseline,
        oracle_world=oracle_world(s, context.partition_key) if config.oracle_twin else None,
    )
    r = result.residual
    curves = {"physworld": r.curve}  # method names, as in the policies table
    extra = {}
    if result.scratch is not None:
        curves["scratch_rl"] = result.scratch.curve
        extra["twin_success_scratch_rl"] = rate(result.scratch.twin_success)
    if result.oracle is not None:
        curves["oracle_twin"] = result.oracle.curve
        extra["world_success_oracle_twin"] = rate(result.oracle.twin_success)
    return dg.MaterializeResult(
        metadata={
            "learning_curve": curve_md(curves, r.baseline_twin_success),
            "env_steps": r.env_steps,
            "twin_success_physworld": rate(r.twin_success),
            "twin_success_planner_only": rate(r.baseline_twin_success),
            "physworld_deploys": r.deployed,
            "skill": result.plan.skill,
            "grasp_width_mm": mm(result.plan.grasp_width),
            "waypoints": len(result.plan.waypoints),
            "train_seconds": seconds(r.seconds),
            **extra,
        }
    )


@dg.asset_check(
    asset=policies,
    partitions_def=tasks_partitions,
    description=(
        "Residual RL did at least as well as the planner it refines, in the nominal twin. When it did worse, "
        "physworld deploys the planner instead (the policies table's `deployed` column) and this warns."
    ),
)
def residual_not_worse(context: dg.AssetCheckExecutionContext, store: StoreResource) -> dg.AssetCheckResult:
    frame = store.store().lake.read_partition("policies", context.partition_key)
    rows = {row["method"]: row for row in frame.iter_rows(named=True)}
    if not {"physworld", "planner_only"} <= set(rows):
        return dg.AssetCheckResult(passed=False, metadata={"methods": sorted(rows)})
    deployed = rows["physworld"]["deployed"]
    return dg.AssetCheckResult(
        passed=deployed != "planner",
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            **{f"twin_success_{m}": rate(r["twin_success"]) for m, r in rows.items()},
            "physworld_deploys": str(deployed),
        },
    )
