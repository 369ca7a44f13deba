"""The full-pipeline job and its nightly schedule."""

from __future__ import annotations

import dagster as dg

from pipelines.partitions import tasks_partitions

physworld_job = dg.define_asset_job(
    "physworld",
    # Every table a task's run writes (video_scores and rollouts included); `tasks` is registered outside runs.
    selection=dg.AssetSelection.groups(
        "scenes", "generation", "reconstruction", "learning", "evaluation"
    ).materializable(),
    description="Scene → video → reconstruction → twin → policy → ground-truth evaluation, for one task.",
)

export_job = dg.define_asset_job(
    "export",
    selection=dg.AssetSelection.groups("export"),
    description="LeRobot dataset and video-model training set from everything evaluated so far.",
)


@dg.schedule(
    job=physworld_job,
    cron_schedule="0 2 * * *",
    execution_timezone="UTC",
    default_status=dg.DefaultScheduleStatus.STOPPED,
    description=(
        "Nightly at 02:00 UTC (off until started): runs the pipeline for every registered task whose "
        "evaluations are not materialized yet, or that was re-registered (add-task --force) since its scenes "
        "were made, one run per task."
    ),
)
def nightly_generation(context: dg.ScheduleEvaluationContext):
    """Every night, run the pipeline for each registered task not evaluated yet or re-registered since."""
    from pipelines.tasks import stale_tasks

    instance = context.instance
    done = instance.get_materialized_partitions(dg.AssetKey("evaluations"))
    registered = instance.get_dynamic_partitions(tasks_partitions.name)
    stale = set(stale_tasks(instance, [key for key in registered if key in done]))
    pending = [key for key in registered if key not in done or key in stale]
    if not pending:
        return dg.SkipReason("every registered task is evaluated and up to date")
    return [
        dg.RunRequest(run_key=f"{context.scheduled_execution_time:%Y-%m-%d}-{key}", partition_key=key)
        for key in pending
    ]
